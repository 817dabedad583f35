"""How the relevance check (`ponder.calls.relevance`) would change BFCL scores, on recorded calls.

`python -m bench.call_relevance --source bfcl-1.5b-v2-regraded.json --source bfcl-1.5b-v2-skip40-regraded.json`
takes the calls a BFCL run returned (after every other filter: a `--regrade` report), asks the model
once per item whether those calls do what the user asked, and scores each threshold: below it the
calls are dropped (right for irrelevance, wrong elsewhere; items without calls are unchanged). The
model is only asked, never run again on the item, so a sweep over thresholds costs one prompt per item.
Writes bench/results/call-relevance-MODEL.json with every item's probability; `--resume` reuses them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from bench.bfcl import CATEGORIES, RESULTS, _bfcl, load, messages_of, recorded_parser, show_sweep, tools_of
from ponder.assistant import Assistant
from ponder.calls.relevance import relevance
from ponder.config import Settings
from ponder.models import resolve
from ponder.types import ToolCall

THRESHOLDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def sweep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per threshold, each category's accuracy when calls scored below it are dropped."""
    out = []
    for t in THRESHOLDS:
        line: dict[str, Any] = {"threshold": t}
        for category in CATEGORIES:
            mine = [r for r in rows if r["category"] == category]
            if not mine:
                continue
            right = 0
            for r in mine:
                dropped = r.get("relevance") is not None and r["relevance"] < t
                right += (category == "irrelevance") if dropped else bool(r["ponder"])
            line[category] = round(100 * right / len(mine), 1)
        out.append(line)
    return out


async def main(args: argparse.Namespace) -> None:
    _, _, data, mapping = _bfcl()
    items = {it["id"]: it for c in CATEGORIES for it, _ in load(data, c, None, args.seed)}
    rows = [r for s in args.source for r in json.loads((RESULTS / s).read_text())["items"] if r["model"] == args.model]
    out = RESULTS / f"call-relevance-{args.model.removeprefix('qwen2.5-coder-')}.json"
    known = {}
    if args.resume and out.exists():
        known = {r["id"]: r["relevance"] for r in json.loads(out.read_text())["items"]}
    settings = Settings(guard={"enabled": False}, engine={"parallel": 1, "context": 4096, "threads": args.threads})
    assistant = Assistant(settings)
    started = time.time()
    try:
        backend = await assistant.backend(args.model)
        template = resolve(settings, args.model).template
        for n, row in enumerate(rows):
            if not row["calls"]:
                row["relevance"] = None
            elif row["id"] in known:
                row["relevance"] = known[row["id"]]
            else:
                item = items[row["id"]]
                calls = [ToolCall(id="r", name=k, arguments=json.dumps(a)) for c in row["calls"] for k, a in c.items()]
                p = await relevance(backend, template, messages_of(item), calls, tools_of(item["function"], mapping))
                row["relevance"] = round(p, 4)
                print(f"{n + 1}/{len(rows)} {row['id']}: {p:.3f} ponder={row['ponder']}", flush=True)
    finally:
        await assistant.aclose()
    table = sweep(rows)
    report = {"command": " ".join(sys.argv), "seconds": round(time.time() - started), "sweep": table}
    keep = ("id", "category", "ponder", "calls", "relevance")
    report["items"] = [{k: r[k] for k in keep} for r in rows]
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    show_sweep(table, CATEGORIES)
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(recorded_parser(__doc__ or "").parse_args()))
