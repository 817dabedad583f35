"""What speech recognition returns, and the shapes it leaves in: OpenAI JSON, plain text, SRT, WebVTT.

One `Transcript` feeds the HTTP endpoint, `ponder transcribe` and the chat perceiver, so the
subtitle formats are written once and look the same wherever they are asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
FORMATS: tuple[str, ...] = get_args(ResponseFormat)


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    seek: int = 0
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    """ISO 639-1 code, detected unless the caller named it."""
    language_probability: float
    duration: float
    """Seconds of audio heard."""
    segments: tuple[Segment, ...]
    model: str
    format: str
    """The container the audio really was."""
    elapsed: float = 0.0
    """Seconds spent recognising (not decoding)."""

    @property
    def real_time_factor(self) -> float:
        return self.elapsed / self.duration if self.duration else 0.0


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(t: Transcript) -> str:
    cues = [
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n" for i, s in enumerate(t.segments, 1)
    ]
    return "\n".join(cues)


def vtt(t: Transcript) -> str:
    cues = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text.strip()}\n" for s in t.segments]
    return "\n".join(["WEBVTT\n", *cues])


def as_json(t: Transcript) -> dict[str, Any]:
    return {"text": t.text, "usage": {"type": "duration", "seconds": math.ceil(t.duration)}}


def as_verbose_json(t: Transcript) -> dict[str, Any]:
    return {
        "task": "transcribe",
        "language": t.language,
        "language_probability": round(t.language_probability, 4),
        "duration": round(t.duration, 3),
        "text": t.text,
        "segments": [
            {
                "id": s.id,
                "seek": s.seek,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in t.segments
        ],
        "usage": {"type": "duration", "seconds": math.ceil(t.duration)},
    }


def render(t: Transcript, fmt: ResponseFormat) -> str | dict[str, Any]:
    """The transcript in `fmt`: a JSON object for the two JSON formats, text for the others."""
    if fmt == "json":
        return as_json(t)
    if fmt == "verbose_json":
        return as_verbose_json(t)
    if fmt == "srt":
        return srt(t)
    if fmt == "vtt":
        return vtt(t)
    return t.text + "\n"
