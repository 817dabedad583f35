"""The fast guard: sentence embeddings and three small linear heads, ~10 ms per check on one core.

Heads (trained by `ponder.guard.train`, shipped as `data/head.npz`): harm, injection, and the
hazard category. The injection head also weighs the text's hashed n-grams (`ponder.guard.grams`),
because an injection often shows in its form (homoglyphs, escapes, stock phrasing) more than its topic.
A long text is read window by window and scored by its worst window, so a harmful
paragraph cannot hide inside a long benign document.
"""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ponder.guard import DATA, grams
from ponder.guard.base import Stage, Verdict
from ponder.guard.embed import Embedder

HEAD = DATA / "head.npz"


def _sigmoid(z: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    return out


class ClassifierGuard:
    name = "classifier"

    def __init__(self, embedder: Embedder | None = None, head: Path = HEAD) -> None:
        self.embedder = embedder or Embedder()
        with np.load(head) as h:
            self.harm_w, self.harm_b = h["harm_w"], float(h["harm_b"])
            self.inj_w, self.inj_b = h["injection_w"], float(h["injection_b"])
            self.inj_grams = h["injection_grams"].astype(np.float32)
            self.cat_w, self.cat_b = h["category_w"], h["category_b"]
            self.categories = [str(c) for c in h["categories"]]

    def score(self, text: str) -> Verdict:
        x = self.embedder.embed(text)
        harm = _sigmoid(x @ self.harm_w + self.harm_b)
        worst = int(np.argmax(harm))
        logits = self.cat_w @ x[worst] + self.cat_b
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return Verdict(
            harm=float(harm[worst]),
            category=self.categories[int(np.argmax(probs))],
            injection=float(_sigmoid(x @ self.inj_w + (self.inj_b + grams.dot(text, self.inj_grams))).max()),
            guard=self.name,
        )

    async def check(self, text: str, stage: Stage, asked: str = "") -> Verdict:
        return await asyncio.to_thread(self.score, text)


@cache
def shared() -> ClassifierGuard:
    """The packaged classifier, verified and loaded once per process (~0.35 s), whoever asks."""
    return ClassifierGuard()
