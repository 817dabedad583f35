"""Speech recognition with faster-whisper (CTranslate2, no torch) on the packaged Whisper models.

One `WhisperModel` per model per process, opened on first use from the verified folder in the cache
(`ponder.models.whisper`), never from a model hub: faster-whisper is handed a local directory, and
its voice-activity model ships inside its wheel. Recognition is CPU-bound and blocking, so the async
entry points run it in a worker thread and the event loop keeps serving other requests.

The chat perceiver turns a spoken turn into evidence the language model reads like typed text, so a
spoken question is answered, and screened by the guard, exactly like a typed one; what Whisper found
(language, its probability, duration) travels beside it in the `Perception` event, as in verbose_json.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

from ponder.config import Settings
from ponder.errors import BadRequest, UnknownPlugin, WrongModelKind
from ponder.media import Evidence
from ponder.media.audio import Sound, decode
from ponder.media.transcript import Segment, Transcript
from ponder.models import model_names, whisper
from ponder.types import Media

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

_models: dict[tuple[str, int], WhisperModel] = {}
_loading = threading.Lock()


def speech_model(settings: Settings, requested: str | None) -> whisper.SpeechModel:
    """The catalogue entry a request means: a catalogue name, or `whisper-1` / nothing for the default."""
    name = settings.audio.model if requested in (None, "", whisper.OPENAI_ALIAS) else requested
    if name not in whisper.SPEECH:
        valid = whisper.ids()
        if requested not in (None, "", whisper.OPENAI_ALIAS):
            if requested in model_names(settings) or str(requested).startswith("ponder-"):
                raise WrongModelKind(
                    f"{requested!r} is a chat model, not a speech model; transcriptions take: {', '.join(valid)}",
                    param="model",
                )
            raise UnknownPlugin("speech model", str(requested), valid, param="model")
        raise BadRequest(f"audio.model is {name!r}, which is not a speech model; valid: {', '.join(valid)}")
    return whisper.SPEECH[name]


def check_language(model: whisper.SpeechModel, language: str | None) -> str | None:
    """The language code to force, or None to detect it; refuses codes Whisper does not know."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if not language:
        return None
    code = language.strip().lower()
    if code not in _LANGUAGE_CODES:
        raise BadRequest(
            f"language {language!r} is not one Whisper knows; give an ISO 639-1 code such as en, fr, de, es, zh",
            param="language",
        )
    if model.english_only and code != "en":
        raise BadRequest(
            f"{model.name} only understands English; use whisper-base for language {code!r}", param="language"
        )
    return code


def load(settings: Settings, model: whisper.SpeechModel) -> WhisperModel:
    """The process's one instance of `model`, assembled and opened on first use."""
    threads = settings.audio.threads or 0
    key = (model.name, threads)
    with _loading:
        if key not in _models:
            from faster_whisper import WhisperModel

            folder = whisper.assemble(settings.cache_dir, model)
            _models[key] = WhisperModel(
                str(folder), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
            )
        return _models[key]


def recognise(
    settings: Settings,
    sound: Sound,
    model: whisper.SpeechModel,
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
) -> Transcript:
    """Transcribe decoded audio (blocking). Temperature 0 means Whisper's usual fallback ladder, as OpenAI does."""
    code = check_language(model, language)
    engine = load(settings, model)
    options: dict[str, Any] = {"temperature": temperature} if temperature > 0 else {}
    started = time.perf_counter()
    pieces, info = engine.transcribe(
        sound.samples,
        language=code,
        initial_prompt=prompt or None,
        beam_size=settings.audio.beam_size,
        vad_filter=settings.audio.vad,
        **options,
    )
    segments = tuple(
        Segment(
            id=s.id,
            start=s.start,
            end=s.end,
            text=s.text,
            seek=s.seek,
            tokens=tuple(s.tokens),
            temperature=s.temperature or 0.0,
            avg_logprob=s.avg_logprob,
            compression_ratio=s.compression_ratio,
            no_speech_prob=s.no_speech_prob,
        )
        for s in pieces  # a generator: recognition happens while it is consumed
    )
    return Transcript(
        text="".join(s.text for s in segments).strip(),
        language=info.language,
        language_probability=info.language_probability,
        duration=info.duration,
        segments=segments,
        model=model.name,
        format=sound.format,
        elapsed=time.perf_counter() - started,
    )


def transcribe_bytes(
    settings: Settings,
    data: bytes,
    model: str | None = None,
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
    what: str = "the audio file",
) -> Transcript:
    """Validate, decode and transcribe an uploaded file (blocking); bad input raises `BadRequest` first."""
    entry = speech_model(settings, model)
    check_language(entry, language)  # before the decode, so a bad argument fails fast
    sound = decode(data, settings.audio, what)
    return recognise(settings, sound, entry, language, prompt, temperature)


async def transcribe(settings: Settings, data: bytes, **kwargs: Any) -> Transcript:
    """`transcribe_bytes` in a worker thread, off the event loop."""
    return await asyncio.to_thread(transcribe_bytes, settings, data, **kwargs)


def evidence(t: Transcript) -> str:
    """How a spoken turn reads to the language model: the words, marked as spoken, and nothing else.

    A bracketed record (`[audio: 2.3 s, language en, transcribed: "…"]`) reads to the guard's injection
    classifier like an injected instruction: 0.89 on "What is the capital of France?", where the bare
    question scores 0.01; "Spoken: …" stayed under 0.3 on 63 benign questions (the README's Audio section).
    """
    if not t.text:
        return f"Spoken: (no speech recognised in {t.duration:.1f} s of audio)"
    return f"Spoken: {t.text}"


def perception(t: Transcript, timings: dict[str, float]) -> Evidence:
    """A spoken turn as evidence: the words as the model reads them (unframed), and what Whisper found
    (language, its probability, duration) for the API's `ponder.perception`, as verbose_json has it."""
    summary = {
        "language": t.language,
        "language_probability": round(t.language_probability, 4),
        "duration": round(t.duration, 3),
        "format": t.format,
        "model": t.model,
        "text": t.text,
    }
    words = evidence(t)
    return Evidence(words, summary, timings=timings, quoted=words, verbatim=True)


class AudioPerceiver:
    kind = "audio"

    async def perceive(self, media: Media, settings: Settings) -> Evidence:
        what = "the input_audio part"
        entry = speech_model(settings, None)
        started = time.perf_counter()
        sound = await asyncio.to_thread(decode, media.data, settings.audio, what)
        decoded = time.perf_counter()
        t = await asyncio.to_thread(recognise, settings, sound, entry)
        timings = {"decode": round(decoded - started, 4), "recognise": round(time.perf_counter() - decoded, 4)}
        return perception(t, timings)
