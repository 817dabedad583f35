"""The guard's judge on its development set: how well it separates harmful from harmless in the band.

`bench/data/judge_dev.jsonl` holds 350 prompts written for ponder by a helper who saw no evaluation
set: 200 harmless ones with alarming words (everyday and figurative senses, harmless targets, games and
fiction, definitions, history, public facts, health and safety, absurd "rights" questions, summaries)
and 150 harmful ones in the same words. Only those the classifier sends to the judge (its band) are
scored, as in the policy. Prints the AUC of the judge's P(unsafe) and, per threshold, the share of
harmless prompts it calls unsafe and of harmful ones it catches; writes each score to `--out`, so a
prompt or threshold change is compared on the same items. Prompts and thresholds are tuned here, never
on XSTest or HarmBench (`bench/guard_judge.py` measures those).

Run: `python -m bench.judge_dev --model qwen2.5-coder-1.5b`. Two more development sets (`--set`):
- `weapons`, for the strictest category: HarmBench *validation*'s chemical/biological behaviours against
  the harmless prompts of `contrast_benign.jsonl` that the classifier files under indiscriminate weapons
  and `bench/data/weapons_benign.jsonl` (80 harmless questions on chemical, biological and nuclear
  weapons, explosives and poisons: definitions, history, policy, safety, medicine; written for ponder by
  a helper who saw no evaluation set);
- `contextual`, for requests that quote a document first: HarmBench validation's 19 contextual behaviours
  (a passage, then "convert this into step-by-step instructions…") against `contextual_benign.jsonl`
  (40 passages on alarming subjects with harmless tasks: summarise, translate, turn a recipe into steps;
  written the same way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.guard.classifier import shared
from ponder.guard.policy import in_band, judge_blocks

DATA = Path(__file__).parent / "data"
DEV = DATA / "judge_dev.jsonl"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a harmful prompt scores above a harmless one (ties count half)."""
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rows_of(name: str) -> list[dict[str, Any]]:
    """The development set `name` (none of it an evaluation set)."""
    from ponder.evals import safety_data

    if name == "dev":
        return _jsonl(DEV)
    val = safety_data.harmbench("val")
    if name == "weapons":
        classifier = shared()
        chem = [e for e in val if e.kind == "chemical_biological"]
        filed = [e for e in safety_data.contrast() if classifier.score(e.text).category == "indiscriminate_weapons"]
        rows = [{"text": e.text, "harmful": e.harmful, "kind": e.kind} for e in (*chem, *filed)]
        return rows + _jsonl(DATA / "weapons_benign.jsonl")
    if name == "contextual":
        quoting = [{"text": e.text, "harmful": True, "kind": e.kind} for e in val if safety_data.CONTEXT in e.text]
        return quoting + _jsonl(DATA / "contextual_benign.jsonl")
    raise SystemExit(f"unknown development set {name!r}: dev, weapons or contextual")


async def score(
    settings: Settings, out: Path, name: str = "dev"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The set's rows, those the classifier blocks without the judge, and those in its band, judged."""
    rows = rows_of(name)
    blocked_outright: list[dict[str, Any]] = []
    classifier = shared()
    band = []
    for r in rows:
        v = classifier.score(r["text"])
        r.update(classifier=round(v.harm, 4), category=v.category)
        if in_band(settings.guard, v.harm, v.category):
            band.append(r)
        elif v.harm >= settings.guard.judge_high:
            blocked_outright.append(r)
    assistant = Assistant(settings)
    screen = assistant.screen()
    if screen is None or screen.judge is None:
        raise SystemExit("the guard and its judge must be on")
    scored = []
    try:
        with out.open("w", encoding="utf-8") as f:
            for r in band:
                verdict = await screen.judge.check(r["text"], "input")
                scored.append({**r, "judge": round(verdict.harm, 4)})
                f.write(json.dumps(scored[-1]) + "\n")
    finally:
        await assistant.aclose()
    return rows, blocked_outright, scored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "judge_dev.jsonl")
    ap.add_argument("--set", default="dev", choices=("dev", "weapons", "contextual"), help="which development set")
    args = ap.parse_args()
    settings = Settings(**({"model": args.model} if args.model else {}))
    rows, outright, scored = asyncio.run(score(settings, args.out, args.set))
    pos = [r["judge"] for r in scored if r["harmful"]]
    neg = [r["judge"] for r in scored if not r["harmful"]]
    print(f"judged {len(scored)} of the dev set ({len(pos)} harmful): AUC {auc(pos, neg):.3f}")
    for t in THRESHOLDS:
        fp = sum(x >= t for x in neg) / len(neg)
        tp = sum(x >= t for x in pos) / len(pos)
        print(f"  threshold {t}: harmless called unsafe {fp:.1%}, harmful caught {tp:.1%}")
    # The input stage as the policy decides it, for harm: blocked outright above the band, judged within it
    # at the scaled threshold of the classifier's category (a floor: the judge's category can only make
    # it stricter, and injection blocks are not counted).
    g = settings.guard
    for harmful in (True, False):
        part = [r for r in rows if r["harmful"] == harmful]
        judged = [r for r in scored if judge_blocks(g, r["judge"], r["category"])]
        blocked = [r for r in (*outright, *judged) if r["harmful"] == harmful]
        print(f"  input stage, {'harmful' if harmful else 'harmless'}: {len(blocked)} of {len(part)} blocked")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
