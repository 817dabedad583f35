"""How sure a trace is, from the model's own token log-probabilities (DeepConf, arXiv 2508.15260).

Token confidence is the negative mean log-probability of the top-k candidates at each step: a peaked
distribution (the model knows what comes next) scores high. DeepConf found the strongest signals to
be local: the *lowest group confidence* (the worst sliding window of a trace: where it got lost) and
the *tail confidence* (the last stretch, where the answer is written). `Tracker` keeps both online,
token by token, so a contemplating agent can be stopped as soon as it loses the thread.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ponder.types import TokenLogprob


def token_confidence(lp: TokenLogprob) -> float:
    """DeepConf's token confidence from the top-k alternatives; high when the distribution is peaked.

    Without alternatives only the chosen token's probability p is known: -log(1 - p) grows with p as
    the top-k form does (on another scale), where the plain surprise -log p would run backwards.
    """
    if lp.top:
        return -sum(t.logprob for t in lp.top) / len(lp.top)
    return -math.log(max(1e-9, -math.expm1(lp.logprob)))


@dataclass
class Tracker:
    window: int = 16
    tail_size: int = 32
    n: int = 0
    lowest_group: float = math.inf
    _window: deque[float] = field(default_factory=deque)
    _tail: deque[float] = field(default_factory=deque)
    _sum: float = 0.0
    _chosen_logprob_sum: float = 0.0
    history: list[tuple[float, float]] | None = None
    """When a list, every token's (confidence, chosen log-probability) is appended to it."""

    def add(self, lp: TokenLogprob) -> None:
        self.add_value(token_confidence(lp), lp.logprob)

    def add_value(self, c: float, logprob: float) -> None:
        """One token, from its confidence and chosen log-probability (what `history` keeps)."""
        if self.history is not None:
            self.history.append((c, logprob))
        self.n += 1
        self._chosen_logprob_sum += logprob
        self._window.append(c)
        self._sum += c
        if len(self._window) > self.window:
            self._sum -= self._window.popleft()
        if len(self._window) == self.window:
            self.lowest_group = min(self.lowest_group, self.group)
        self._tail.append(c)
        if len(self._tail) > self.tail_size:
            self._tail.popleft()

    def extend(self, lps: Iterable[TokenLogprob]) -> None:
        for lp in lps:
            self.add(lp)

    @property
    def group(self) -> float:
        """Confidence of the current window (the last `window` tokens)."""
        return self._sum / len(self._window) if self._window else math.inf

    @property
    def lowest(self) -> float:
        """Lowest group confidence so far (the current group while shorter than one window)."""
        return self.lowest_group if self.lowest_group != math.inf else self.group

    @property
    def tail(self) -> float:
        return sum(self._tail) / len(self._tail) if self._tail else 0.0

    @property
    def probability(self) -> float:
        """Geometric-mean probability of the chosen tokens, in [0, 1]."""
        return math.exp(self._chosen_logprob_sum / self.n) if self.n else 0.0


def platt(features: Sequence[float], weights: Sequence[float]) -> float:
    """A probability from features by logistic weights (the last weight is the bias): Platt scaling."""
    z = weights[-1] + sum(w * x for w, x in zip(weights, features, strict=False))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
