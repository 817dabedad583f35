"""Fitting contemplate's confidence to observed accuracy (Platt scaling), honestly measured.

A vote's raw signals (how much the agents agree, how sure the agreeing agents were of their own
tokens) rank answers well but are not probabilities. Logistic weights over them are fitted by
Newton's method on recorded results; the calibration error reported beside them is measured on
held-out folds, so a report never praises weights on the very items they were fitted to.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ponder.evals.runner import Result, contemplation
from ponder.reasoning.answers import classify
from ponder.reasoning.confidence import platt

FOLDS = 5


def features(report: dict[str, Any]) -> tuple[float, float] | None:
    """(agreement, mean token probability of the agents that gave the winning answer), or None."""
    answer, agents = report.get("answer"), report.get("agents") or []
    if answer is None or not agents:
        return None
    key = classify(str(answer)).key
    support = [float(a["confidence"]) for a in agents if a.get("answer") and classify(a["answer"]).key == key]
    if not support:
        return None
    return float(report.get("agreement") or 0.0), sum(support) / len(support)


def fit(x: Sequence[Sequence[float]], y: Sequence[bool], l2: float = 1e-2) -> tuple[float, ...]:
    """Logistic weights (one per feature, then the bias) by a few Newton steps with a little L2."""
    xs = np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])
    ys = np.asarray(y, dtype=float)
    w = np.zeros(xs.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(xs @ w, -50, 50)))
        grad = xs.T @ (p - ys) + l2 * w
        hess = (xs * (p * (1 - p))[:, None]).T @ xs + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return tuple(round(float(v), 3) for v in w)


def calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float | None:
    """Expected calibration error: how far stated confidence is from observed accuracy."""
    if not pairs:
        return None
    buckets: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for conf, ok in pairs:
        buckets[min(int(conf * bins), bins - 1)].append((conf, ok))
    return sum(
        len(b) / len(pairs) * abs(statistics.fmean(c for c, _ in b) - statistics.fmean(ok for _, ok in b))
        for b in buckets.values()
    )


def refit(rows: Sequence[Result]) -> dict[str, Any] | None:
    """Weights fitted on every row, and the calibration error of weights fitted on the other folds."""
    pairs = [(f, r.correct) for r in rows if (f := features(contemplation(r.ponder))) is not None]
    if len(pairs) < 2 * FOLDS or len({ok for _, ok in pairs}) < 2:
        return None
    held_out: list[tuple[float, bool]] = []
    for k in range(FOLDS):
        train = [p for i, p in enumerate(pairs) if i % FOLDS != k]
        if len({ok for _, ok in train}) < 2:
            return None
        w = fit([f for f, _ in train], [ok for _, ok in train])
        held_out += [(platt(f, w), ok) for i, (f, ok) in enumerate(pairs) if i % FOLDS == k]
    return {
        "weights": list(fit([f for f, _ in pairs], [ok for _, ok in pairs])),
        "items": len(pairs),
        "calibration_error_cross_validated": calibration_error(held_out),
    }
