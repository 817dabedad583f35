"""A real vision-language model, when the operator has one: a GGUF plus its projector, read natively.

No VLM weights are on any package index ponder can reach, so this path is opt-in: set
`images.vlm_model` (e.g. a Qwen2.5-VL or SmolVLM GGUF) and `images.vlm_mmproj` (its multimodal
projector), and llama.cpp's multimodal support (mtmd, through llama-cpp-python's chat handlers)
looks at the pixels itself. Its description joins the packaged perception in the observation, and
the configured language model reasons over both. The handler is picked from the file names unless
`images.vlm_handler` names one.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import Any

from ponder.config import ImagesSettings
from ponder.errors import PonderError

HANDLERS: dict[str, str] = {
    "qwen2.5-vl": "Qwen25VLChatHandler",
    "llava-1.5": "Llava15ChatHandler",
    "llava-1.6": "Llava16ChatHandler",
    "moondream": "MoondreamChatHandler",
    "nanollava": "NanoLlavaChatHandler",
    "minicpm-v-2.6": "MiniCPMv26ChatHandler",
    "llama3-vision-alpha": "Llama3VisionAlphaChatHandler",
    "gemma4": "Gemma4ChatHandler",
    "mtmd": "MTMDChatHandler",
}
"""Handler names ponder accepts, and llama-cpp-python's class for each (`mtmd` uses the GGUF's own template)."""

_HINTS = (
    ("qwen2.5-vl", "qwen2.5-vl"),
    ("qwen2_5_vl", "qwen2.5-vl"),
    ("qwen2.5vl", "qwen2.5-vl"),
    ("llava-v1.6", "llava-1.6"),
    ("llava-1.6", "llava-1.6"),
    ("llava", "llava-1.5"),
    ("moondream", "moondream"),
    ("nanollava", "nanollava"),
    ("minicpm", "minicpm-v-2.6"),
    ("gemma-4", "gemma4"),
    ("gemma4", "gemma4"),
)

PROMPT = (
    "Describe this image for someone who cannot see it: the objects and people, their colours and "
    "positions, and every piece of text or number exactly as written."
)


class VisionModelMissing(PonderError):
    """The operator's native vision model is misconfigured: a server problem, said plainly."""

    code = "vision_model_missing"


def handler_name(settings: ImagesSettings) -> str:
    """The chat handler for the configured VLM: as named, or guessed from the GGUF file names."""
    if settings.vlm_handler != "auto":
        return settings.vlm_handler  # checked against HANDLERS when the settings were read
    names = " ".join(p.name.lower() for p in (settings.vlm_model, settings.vlm_mmproj) if p is not None)
    return next((handler for hint, handler in _HINTS if hint in names), "mtmd")


def files(settings: ImagesSettings) -> tuple[Path, Path]:
    """The model and projector paths, checked: both named, both present."""
    model, mmproj = settings.vlm_model, settings.vlm_mmproj
    if model is None:
        raise VisionModelMissing("images.vlm_model is not set; the native vision path needs a GGUF")
    if mmproj is None:
        raise VisionModelMissing(
            f"images.vlm_model is {model} but images.vlm_mmproj is not set: a vision GGUF needs its multimodal "
            "projector (the mmproj-*.gguf file published with it)"
        )
    for what, path in (("images.vlm_model", model), ("images.vlm_mmproj", mmproj)):
        if not path.expanduser().is_file():
            raise VisionModelMissing(f"{what} is {path}, which does not exist (or is not a file)")
    return model.expanduser(), mmproj.expanduser()


class NativeVision:
    """A llama.cpp vision model that describes images (one at a time; it is loaded once)."""

    def __init__(self, settings: ImagesSettings, context: int = 4096, threads: int | None = None) -> None:
        model, mmproj = files(settings)
        import llama_cpp.llama_chat_format as formats
        from llama_cpp import Llama

        handler = getattr(formats, HANDLERS[handler_name(settings)])(clip_model_path=str(mmproj), verbose=False)
        try:
            self.llm: Any = Llama(
                model_path=str(model), chat_handler=handler, n_ctx=context, n_threads=threads, verbose=False
            )
        except ValueError as exc:
            raise VisionModelMissing(f"llama.cpp could not load the vision model {model}: {exc}") from None
        self.max_tokens = settings.vlm_max_tokens
        self._lock = threading.Lock()

    def describe(self, png: bytes) -> str:
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": PROMPT}]
        with self._lock:
            try:
                out = self.llm.create_chat_completion(
                    messages=[{"role": "user", "content": content}], max_tokens=self.max_tokens, temperature=0.0
                )
            except ValueError as exc:  # the projector is only opened here, on the first image
                raise VisionModelMissing(f"llama.cpp could not use the vision projector: {exc}") from None
        return str(out["choices"][0]["message"]["content"] or "").strip()


_loaded: dict[tuple[Path, Path, str], NativeVision] = {}
_lock = threading.Lock()


def native(settings: ImagesSettings) -> NativeVision:
    """The configured vision model, loaded on first use and kept for the process."""
    model, mmproj = files(settings)
    key = (model, mmproj, handler_name(settings))
    with _lock:
        if key not in _loaded:
            _loaded[key] = NativeVision(settings)
        return _loaded[key]
