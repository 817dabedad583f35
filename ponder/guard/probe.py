"""The model's own view of a request: a linear head over the hidden state the language model computes
when it is about to answer.

Why: the classifier is a topic detector (MiniLM reads "kill" in "kill a Python process"); the judge is the
model asked in words, and a 1.5B asked in words reacts to alarming ones; the majority samples the model's
answers, eight 16-token openings per request. All three read the request from outside or through its
words. The state the model is in at the start of its answer, read by a head trained on labelled requests,
separated harmful from harmless development prompts better than any of them (`bench.probe`, README; AUC
0.960 on the judge's development prompts, against the judge's 0.902 and the majority's 0.892), also among
the requests the input stage let through, where the model's own refusals are (0.946, 0.785, 0.858).

The head is tied to one model file (its pinned SHA-256, in the head's manifest): a hidden state means
nothing to a head trained on another model's. It reads the request as instant mode puts it to the model
(`turn_of`: the chat template, instant's default system message, the request as the one user turn) and takes
the state at the prompt's last token, after the final norm, from the engine that answers (`LlamaBackend.read`):
one prefill of the request, whose cells the engine keeps, so that the answer (or the majority's openings)
copies them instead of prefilling the same prompt again. Until December the probe read the request in a
second llama.cpp context, as a bare user turn with its markers as plain text: 0.9 s a request on 2 cores,
paid again by the answer's own prefill.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ponder.errors import ContextOverflow
from ponder.guard import DATA
from ponder.guard.base import Stage, Verdict
from ponder.models.templates import ChatTemplate
from ponder.modes.base import system_first
from ponder.types import Message

Array = npt.NDArray[np.float32]
TAIL_CHARS = 2000
"""A longer request is read by its last characters, where the ask usually is."""


@dataclass(frozen=True)
class Head:
    """A logistic head over standardised hidden states, and what it was trained for."""

    mean: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    bias: float
    model_sha256: str
    turn: str
    """How a request is put to the model, with `{text}` where it goes (`turn_of`)."""

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


Reader = Callable[[str], Awaitable[Array]]
"""What the probe reads a request with: a whole prompt to the hidden state at its last token
(`LlamaBackend.read`, on the engine that answers)."""


def turn_of(template: ChatTemplate, system: str) -> str:
    """A one-turn prompt of `template`, as instant mode puts a request to the model (`system` first), with
    `{text}` where the request goes: what a head is trained on and reads."""
    return template.render(system_first([Message(role="user", content="{text}")], system))


REMEMBERED = 256
"""Requests whose readings a probe keeps (the newest). A reading is a prefill (p50 ~0.4 s on 2 cores) and the same
for the same turn and text, and the guard reads only the newest user turn, so a conversation sent again whole
(a regenerated answer, a client's retry, the same prompt in another mode) is not read again. The state is
kept, not the score, so a head swapped in (`bench.probe score --head`) scores it afresh."""


async def read_tail(read: Reader, turn: str, text: str) -> Array:
    """The state after `turn` with `text` in it, as the head is trained and run: a text too long for the context
    is read by its tail, its last `TAIL_CHARS` characters, then halves of that until the prompt fits."""
    tail = text[-TAIL_CHARS:]
    while True:
        try:
            return await read(turn.replace("{text}", tail))
        except ContextOverflow:
            if len(tail) <= 1:
                raise
            tail = tail[len(tail) // 2 :]


class ProbeGuard:
    """Scores a request by the model's hidden state under the shipped head (`check`; the input stage only)."""

    name = "probe"

    def __init__(self, head: Head, read: Reader) -> None:
        self.head = head
        self._read_state = read
        self._states: OrderedDict[tuple[str, str], Array] = OrderedDict()

    async def score(self, text: str) -> float:
        return self.head.score(await self._read(self.head.turn, text))

    async def _read(self, turn: str, text: str) -> Array:
        """The state after `turn` with `text` in it (`read_tail`), kept for the newest requests."""
        key = (turn, text)
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        state = await read_tail(self._read_state, turn, text)
        self._states[key] = state
        while len(self._states) > REMEMBERED:
            self._states.popitem(last=False)
        return state

    async def check(self, text: str, stage: Stage, asked: str = "") -> Verdict:
        return Verdict(harm=await self.score(text), category=None, guard=self.name)
