"""What every command shares: the consoles, one-line errors, and model preparation with a progress bar."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from ponder.config import Settings, default_config_path
from ponder.errors import PonderError, first_problem
from ponder.models import resolve, store

out = Console()
err = Console(stderr=True)


@contextmanager
def errors() -> Iterator[None]:
    """Turn every expected failure into one line and exit status 1."""
    try:
        yield
    except PonderError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except ValidationError as exc:
        where, problem = first_problem(exc)
        err.print(f"[red]error:[/red] invalid setting {where}: {problem}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except tomllib.TOMLDecodeError as exc:
        err.print(f"[red]error:[/red] the config file {default_config_path()} is not valid TOML: {exc}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


@contextmanager
def progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress("{task.description}", *columns, console=err, transient=False) as bar:

        def factory(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield factory


def prepare(settings: Settings, name: str) -> None:
    """Make sure a catalogue model's GGUF is assembled and verified (with a progress bar)."""
    spec = resolve(settings, name)
    if spec.catalogue is not None and not store.is_assembled(settings.cache_dir, spec.catalogue):
        with progress() as bar:
            store.assemble(settings.cache_dir, spec.catalogue, bar)
