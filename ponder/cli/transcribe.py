"""`ponder transcribe FILE`: speech to text on the packaged Whisper models, printed as text, SRT, VTT or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from ponder.cli.common import err, errors, out, progress
from ponder.config import Settings
from ponder.errors import BadRequest
from ponder.media.audio import check
from ponder.media.speech import check_language, speech_model, transcribe_bytes
from ponder.media.transcript import FORMATS, ResponseFormat, render
from ponder.models import whisper


def read_audio(path: Path) -> bytes:
    """A sound file's bytes, or a one-line error naming the path."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror or exc}") from None


def prepare_speech(settings: Settings, name: str | None = None) -> whisper.SpeechModel:
    """The speech model a command will use, assembled and verified first (with a progress bar)."""
    entry = speech_model(settings, name)
    if not whisper.is_assembled(settings.cache_dir, entry):
        with progress() as bar:
            whisper.assemble(settings.cache_dir, entry, bar)
    return entry


@click.command("transcribe")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model", help="whisper-base or whisper-tiny.en (default: the audio.model setting).")
@click.option("--language", help="ISO 639-1 code of the spoken language (default: detect it).")
@click.option("--prompt", help="Text that primes the spelling of names and terms.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def transcribe_command(file: Path, model: str | None, language: str | None, prompt: str | None, fmt: str) -> None:
    """Transcribe a sound FILE (WAV, MP3, OGG/Opus, FLAC, M4A, WebM); the audio.* settings apply."""
    with errors():
        settings = Settings()
        check_language(speech_model(settings, model), language)
        data = read_audio(file)
        check(data, settings.audio, str(file))  # refuse what is not audio before assembling a model
        entry = prepare_speech(settings, model)
        t = transcribe_bytes(settings, data, model=entry.name, language=language, prompt=prompt, what=str(file))
        body = render(t, cast(ResponseFormat, fmt))
        if isinstance(body, dict):
            out.print_json(data=body)
        else:
            out.print(body, end="", highlight=False, markup=False, soft_wrap=True)
        err.print(
            f"[dim]{t.model} · {t.format} · {t.duration:.1f} s · language {t.language} "
            f"({t.language_probability:.0%}) · {t.real_time_factor:.2f}× real time[/dim]",
            highlight=False,
        )
