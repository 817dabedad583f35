"""Text in images, with where it sits: PP-OCR (detect lines, then read them) from the `rapidocr` package.

`rapidocr` 3.10.0 ships the PP-OCRv6 small detector and recogniser as ONNX files inside its wheel,
so nothing is downloaded; each file is checked against a pinned SHA-256 before first use. The engine
is built once per process, on first use. The detector runs first and is cheap (tens of ms at an
image's own size); when it finds no text-like region, recognition — the slow part — is skipped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ponder.errors import ModelCorrupt
from ponder.media import Shared
from ponder.models.store import sha256_file

MODELS_SHA256 = {
    "PP-OCRv6_det_small.onnx": "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    "PP-OCRv6_rec_small.onnx": "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    "ch_ppocr_mobile_v2.0_cls_mobile.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}


@dataclass(frozen=True)
class TextLine:
    text: str
    box: tuple[int, int, int, int]
    """x0, y0, x1, y1: the line's upright bounding box, in the image's pixels."""
    score: float


class Reader:
    def __init__(self, threads: int = 2) -> None:
        import rapidocr
        from rapidocr import RapidOCR

        models = Path(rapidocr.__file__).parent / "models"
        for name, want in MODELS_SHA256.items():
            path = models / name
            if not path.exists() or sha256_file(path) != want:
                raise ModelCorrupt(f"{path} is missing or fails its pinned SHA-256; reinstall rapidocr==3.10.0")
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # Detect at the image's own size (at most 960 px a side) rather than blowing every image up
            # to 736 px on its short side: a 64 px icon costs milliseconds, not a second.
            "Det.limit_type": "max",
            "Det.limit_side_len": 960,
        }
        self.engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def read(self, im: Image.Image, min_score: float = 0.5) -> list[TextLine]:
        """The lines of text in `im`, top to bottom, each with its box and recognition confidence."""
        with self._lock:
            out: Any = self.engine(im)
        if out.boxes is None or out.txts is None:
            return []
        lines = []
        for quad, text, score in zip(out.boxes, out.txts, out.scores or (), strict=False):
            if score < min_score or not text.strip():
                continue
            xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
            box = (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))
            lines.append(TextLine(text.strip(), box, float(score)))
        return lines_in_reading_order(lines)


def rows(lines: list[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into rows (vertical centres within half a line's height), top to bottom, each left to right.

    The detector reads "TOTAL" and "18.87" at the two ends of a receipt line as two boxes; a row
    puts them back together, so the model sees which amount belongs to which label.
    """
    out: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda t: (t.box[1] + t.box[3]) / 2):
        centre, height = (line.box[1] + line.box[3]) / 2, line.box[3] - line.box[1]
        if out:
            last = out[-1][-1]
            if abs(centre - (last.box[1] + last.box[3]) / 2) <= max(height, last.box[3] - last.box[1]) / 2:
                out[-1].append(line)
                continue
        out.append([line])
    return [sorted(row, key=lambda t: t.box[0]) for row in out]


def lines_in_reading_order(lines: list[TextLine]) -> list[TextLine]:
    return [line for row in rows(lines) for line in row]


reader: Shared[Reader] = Shared(Reader)
"""The process's OCR engine, built on first use."""
