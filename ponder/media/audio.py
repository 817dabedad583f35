"""Sounds in: check what a client sent before any model sees it, then decode it to 16 kHz mono samples.

The type comes from the bytes, never from the file name or the declared format: a PNG called
`question.wav` is refused with a message that says so. Size is checked before decoding and length
twice, from the container's header and again while decoding (a header can lie), so a long or
endless stream is cut off at `audio.max_seconds` instead of filling memory. Decoding is PyAV's, whose
wheel ships its own FFmpeg: no system codec is needed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ponder.config import AudioSettings
from ponder.errors import BadRequest

RATE = 16_000
"""Whisper listens at 16 kHz, mono."""

READABLE = "WAV, MP3, OGG (Opus or Vorbis), FLAC, M4A/AAC or WebM"
_NOT_AUDIO = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive",
    b"{": "JSON text",
    b"<": "HTML or XML text",
}


class InvalidAudio(BadRequest):
    code = "invalid_audio"


@dataclass(frozen=True)
class Sound:
    """Decoded audio: float32 samples in [-1, 1] at `RATE` Hz, mono."""

    samples: npt.NDArray[np.float32]
    format: str
    """The container the bytes really are (`wav`, `mp3`, `ogg`, `flac`, `m4a`, `webm`, `aac`)."""

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def sniff(data: bytes) -> str | None:
    """The audio container `data` really is, from its first bytes; None when it is none we read."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "aac" if head[1] & 0x06 == 0 else "mp3"  # MPEG frame sync; layer bits 00 mean ADTS AAC
    return None


def _what(data: bytes) -> str:
    for magic, name in _NOT_AUDIO.items():
        if data.lstrip()[: len(magic)] == magic:
            return f"; it looks like {name}"
    return ""


def check(data: bytes, limits: AudioSettings, what: str = "the audio file") -> str:
    """Refuse what cannot be audio we read before decoding anything; returns the real container type."""
    if not data:
        raise InvalidAudio(f"{what} is empty", param="file")
    if len(data) > limits.max_bytes:
        raise InvalidAudio(
            f"{what} is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.1f} MB (audio.max_bytes)",
            param="file",
        )
    kind = sniff(data)
    if kind is None:
        raise InvalidAudio(f"{what} is not audio ponder can read: expected {READABLE}{_what(data)}", param="file")
    return kind


def _too_long(what: str, length: str, limits: AudioSettings) -> InvalidAudio:
    return InvalidAudio(
        f"{what} is {length} long; the limit is {limits.max_seconds:g} s (audio.max_seconds)", param="file"
    )


def decode(data: bytes, limits: AudioSettings, what: str = "the audio file") -> Sound:
    """Validate and decode `data` to 16 kHz mono float32, or raise `InvalidAudio` saying what is wrong."""
    import av

    kind = check(data, limits, what)
    most = int(limits.max_seconds * RATE)
    chunks: list[npt.NDArray[np.float32]] = []
    got = 0
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidAudio(f"{what} ({kind}) has no audio track", param="file")
            if container.duration is not None and container.duration / av.time_base > limits.max_seconds:
                raise _too_long(what, f"{container.duration / av.time_base:.1f} s", limits)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    got += len(block)
                    if got > most:
                        raise _too_long(what, f"over {limits.max_seconds:g} s", limits)
                    chunks.append(block)
            chunks.extend(
                out.to_ndarray().reshape(-1).astype(np.float32, copy=False) for out in resampler.resample(None)
            )
    except av.error.FFmpegError as exc:
        raise InvalidAudio(
            f"{what} looks like {kind} but could not be decoded: {exc.strerror or exc}", param="file"
        ) from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if len(samples) > most:
        raise _too_long(what, f"{len(samples) / RATE:.1f} s", limits)
    if len(samples) == 0:
        raise InvalidAudio(f"{what} ({kind}) contains no audio samples", param="file")
    return Sound(samples, kind)
