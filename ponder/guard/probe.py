"""The model's own view of a request: a linear head over the hidden state the language model computes
when it is about to answer.

Why: the classifier is a topic detector (MiniLM reads "kill" in "kill a Python process"); the judge is the
model asked in words, and a 1.5B asked in words reacts to alarming ones; the majority samples the model's
answers, eight 16-token openings per request. All three read the request from outside or through its
words. The state the model is in at the start of its answer, read by a head trained on labelled requests,
separated harmful from harmless development prompts better than any of them (`bench.probe`, README; AUC
0.953 on the judge's development prompts, against the judge's 0.902 and the majority's 0.892), also among
the requests the input stage let through, where the model's own refusals are (0.936, 0.785, 0.858).

The head is tied to one model file (its pinned SHA-256, in the head's manifest): a hidden state means
nothing to a head trained on another model's. It reads the request as a ChatML user turn (the catalogue
models' template), with no system message, and the last token's state (llama.cpp's last-token pooling), from a
second llama.cpp context over the same mapped weights: one prefill of the request, no decoding. The turn's
markers (`<|im_start|>`) reach the model as plain text, not as its special tokens, because that is how
llama-cpp-python's `embed` tokenizes; the head was trained on states read the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ponder.guard import DATA
from ponder.guard.base import Stage, Verdict

Array = npt.NDArray[np.float32]
log = logging.getLogger(__name__)
TAIL_CHARS = 2000
"""A longer request is read by its last characters, where the ask usually is."""
CONTEXT = 1024


@dataclass(frozen=True)
class Head:
    """A logistic head over standardised hidden states, and what it was trained for."""

    mean: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    bias: float
    model_sha256: str
    turn: str
    """How a request is put to the model, with `{text}` where it goes (its chat template's user turn)."""

    def score(self, hidden: npt.NDArray[np.float32]) -> float:
        z = float(((hidden - self.mean) / self.scale) @ self.weights + self.bias)
        return float(1.0 / (1.0 + np.exp(-z)))

    def save(self, path: Path, manifest: dict[str, Any]) -> None:
        """`path` (.npz) and its manifest beside it (.json)."""
        np.savez_compressed(path, mean=self.mean, scale=self.scale, weights=self.weights, bias=np.float32(self.bias))
        meta = {"model_sha256": self.model_sha256, "turn": self.turn, **manifest}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Head:
        meta = json.loads(path.with_suffix(".json").read_text())
        with np.load(path) as h:
            return cls(
                h["mean"].astype(np.float32),
                h["scale"].astype(np.float32),
                h["weights"].astype(np.float32),
                float(h["bias"]),
                meta["model_sha256"],
                meta["turn"],
            )


def head_path(model: str) -> Path:
    return DATA / f"probe-{model}.npz"


def shipped(model: str, sha256: str) -> Head | None:
    """The head shipped for catalogue model `model`, if there is one and it was trained on this file."""
    path = head_path(model)
    if not path.exists():
        return None
    head = Head.load(path)
    return head if head.model_sha256 == sha256 else None


class Hidden:
    """Last-token hidden states of one model file, from its own llama.cpp context (embedding mode)."""

    def __init__(self, gguf: Path, threads: int) -> None:
        import llama_cpp

        # llama-cpp-python prints llama.cpp's notes to stderr while a context opens, even with verbose=False
        # ("pooling_type is [-1], but [3] was specified"): kept for the debug log instead.
        with contextlib.redirect_stderr(io.StringIO()) as notes:
            self.llm = llama_cpp.Llama(
                model_path=str(gguf),
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
                n_ctx=CONTEXT,
                n_batch=CONTEXT,
                n_threads=threads,
                verbose=False,
            )
        log.debug("llama.cpp opening the probe's context: %s", notes.getvalue().strip())
        self._lock = threading.Lock()

    def __call__(self, turn: str, text: str) -> npt.NDArray[np.float32]:
        """The state after `turn` with `text` in it. A text too long for the context is read by its tail: its
        last `TAIL_CHARS` characters, then halves of that until the turn fits (2,000 characters of Chinese run
        past 1,024 tokens). The turn is tokenized as `embed` does it, its markers as plain text."""
        tail = text[-TAIL_CHARS:]
        with self._lock:
            while len(self.llm.tokenize(turn.format(text=tail).encode())) > CONTEXT and len(tail) > 1:
                tail = tail[len(tail) // 2 :]
            out = self.llm.embed(turn.format(text=tail), normalize=False, truncate=False)
        return np.asarray(out, np.float32).reshape(-1)

    def close(self) -> None:
        self.llm.close()


Reader = Callable[[str, str], Array]
"""What the probe reads a request with: `(turn, text)` to one hidden state (a `Hidden`)."""


REMEMBERED = 256
"""Requests whose readings a probe keeps (the newest). A reading is a prefill of most of a second and the same
for the same turn and text, and the guard reads only the newest user turn, so a conversation sent again whole
(a regenerated answer, a client's retry, the same prompt in another mode) is not read again. The state is
kept, not the score, so a head swapped in (`bench.probe score --head`) scores it afresh."""


class ProbeGuard:
    """Scores a request by the model's hidden state under the shipped head (`check`; the input stage only).
    The model's context opens on the first check (~2 s), from `opener`."""

    name = "probe"

    def __init__(self, head: Head, opener: Callable[[], Reader]) -> None:
        self.head = head
        self._open = opener
        self._hidden: Reader | None = None
        self._states: OrderedDict[tuple[str, str], Array] = OrderedDict()
        self._lock = threading.Lock()

    def score(self, text: str) -> float:
        return self.head.score(self._read(self.head.turn, text))

    def _read(self, turn: str, text: str) -> Array:
        key = (turn, text)
        with self._lock:
            if key in self._states:
                self._states.move_to_end(key)
                return self._states[key]
        if self._hidden is None:  # the opener finds the model file (a stamp read) and shares its context
            self._hidden = self._open()
        state = self._hidden(turn, text)
        with self._lock:
            self._states[key] = state
            while len(self._states) > REMEMBERED:
                self._states.popitem(last=False)
        return state

    async def check(self, text: str, stage: Stage, asked: str = "") -> Verdict:
        return Verdict(harm=await asyncio.to_thread(self.score, text), category=None, guard=self.name)


_opening = threading.Lock()


@cache
def _hidden(gguf: Path, threads: int) -> Hidden:
    return Hidden(gguf, threads)


def hidden_of(gguf: Path, threads: int) -> Hidden:
    """One context per model file in a process, however many screens ask for it."""
    with _opening:
        return _hidden(gguf, threads)
