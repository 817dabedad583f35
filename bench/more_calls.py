"""Would a small model make the parallel calls it leaves out, if its turn went on? Measured on BFCL.

Continued after its calls, the 1.5B mostly ended its turn: "weather in Paris and Rome" got one call.
`ponder.calls.more` continues it in the model's own format (a fenced block after its fenced block)
and reads its probability of opening another call. This script asks that of every recorded BFCL item
with calls and, where the probability is at least the lowest threshold swept, makes the model write
one more call the way `more_calls` does; the new call then passes the same filters (valid, new,
grounded in the user's words and bringing a value the calls before did not, `settle`). Each
threshold's score is the recorded calls, plus the new one wherever the probability reached it (one
continued call per item: a second one would need the model asked again after it).

`python -m bench.more_calls --source bfcl-1.5b-v2-regraded.json --source bfcl-1.5b-v2-skip40-regraded.json`
writes bench/results/more-calls-1.5b-own.json (each item's probability, its top first tokens and
the call added); `--resume` goes on from it, and `--categories` picks the categories to ask.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from typing import Any

from bench.bfcl import CATEGORIES, RESULTS, _bfcl, load, messages_of, recorded_parser, scored, show_sweep, tools_of
from ponder.assistant import Assistant
from ponder.backends.yesno import first_token
from ponder.calls.mode import CallingMode, said_in
from ponder.calls.more import ANY_START, Style, one_call_grammar, one_more, opening_mass, reply_style, written
from ponder.calls.spec import policy
from ponder.calls.validate import _leaves
from ponder.config import Settings
from ponder.models import resolve
from ponder.modes.instant import InstantMode
from ponder.types import SamplingParams, ToolCall

THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.01)
ORDER = ["parallel", "parallel_multiple", "simple_python", "multiple"]


def mass(top: dict[str, float]) -> float:
    """What `more.go_on` returns, from an item's stored top first tokens."""
    return opening_mass(list(top.items()))


def novel(row: dict[str, Any]) -> bool:
    """Does each added call pass a value the recorded calls did not (`grounded`'s last rule; rows
    asked before that rule was written are held to it here)?"""
    used = {leaf for c in row["calls"] for a in c.values() for leaf in _leaves(a)}
    return all(any(leaf not in used for leaf in _leaves(a)) for c in row["added"] or [] for a in c.values())


def sweep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per threshold, each category's accuracy with the added call kept where the mass reached it."""
    table = []
    for t in THRESHOLDS:
        line: dict[str, Any] = {"threshold": t}
        for category in ORDER:
            mine = [r for r in rows if r["category"] == category and "top" in r]
            if mine:
                right = 0
                for r in mine:
                    added = r["added_right"] is not None and mass(r["top"] or {}) >= t and novel(r)
                    right += bool(r["added_right"]) if added else bool(r["ponder"])
                line[category] = f"{right}/{len(mine)}"
        table.append(line)
    return table


async def main(args: argparse.Namespace) -> None:
    ast_checker, language, data, mapping = _bfcl()
    items = {it["id"]: (it, a) for c in CATEGORIES for it, a in load(data, c, None, args.seed)}
    rows = [
        r
        for s in args.source
        for r in json.loads((RESULTS / s).read_text())["items"]
        if r["model"] == args.model and r["category"] in args.categories
    ]
    rows.sort(key=lambda r: ORDER.index(r["category"]))  # the calls left out are in the parallel ones
    out = RESULTS / (args.out or f"more-calls-{args.model.removeprefix('qwen2.5-coder-')}-own.json")
    known = {r["id"]: r for r in json.loads(out.read_text())["items"]} if args.resume and out.exists() else {}
    settings = Settings(guard={"enabled": False}, engine={"parallel": 1, "context": 4096, "threads": args.threads})
    assistant = Assistant(settings)
    started = time.time()

    def save(final: bool = False) -> None:
        report: dict[str, Any] = {"command": " ".join(sys.argv), "seconds": round(time.time() - started)}
        if final:
            report["sweep"] = sweep(rows)
        report["items"] = [r for r in rows if "top" in r]
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")

    try:
        backend = await assistant.backend(args.model)
        template = resolve(settings, args.model).template
        for n, row in enumerate(rows):
            if row["id"] in known:
                row.update({k: known[row["id"]][k] for k in ("top", "added", "added_right")})
                continue
            item, answer = items[row["id"]]
            tools = tools_of(item["function"], mapping)
            calling = CallingMode(InstantMode(), policy(tools, "auto", True))
            messages = messages_of(item)
            said = said_in(messages)
            calls = [ToolCall(id="r", name=k, arguments=json.dumps(a)) for c in row["calls"] for k, a in c.items()]
            row.update(top=None, added=None, added_right=None)
            if not calls:
                continue
            tpl = replace(template, tools=tuple(t.openai() for t in tools))
            style: Style = reply_style(row["reply"])
            prompt = tpl.render(messages) + "\n".join(written(c, style) for c in calls) + "\n"
            stop = list(tpl.stop)
            first, _ = await first_token(backend, prompt, stop, grammar=ANY_START)
            top = dict(first)
            row["top"] = {k: round(v, 3) for k, v in sorted(top.items(), key=lambda kv: -kv[1])}
            if mass(top) >= THRESHOLDS[0]:
                grammar = one_call_grammar(calling.policy, style)
                params = SamplingParams(max_tokens=200, temperature=0.0, stop=stop, grammar=grammar)
                fresh, _ = await one_more(backend, prompt, style, calling.policy, calls, said, params)
                kept = calling.settle([*calls, *fresh], said)
                row["added"] = [{c.name: json.loads(c.arguments)} for c in kept[len(calls) :]] if fresh else []
                if len(kept) > len(calls):
                    found = [(c.name, json.loads(c.arguments)) for c in kept]
                    row["added_right"] = scored(item, answer, row["category"], found, ast_checker, language)
            print(f"{n + 1}/{len(rows)} {row['id']}: mass={mass(top):.3f} added={row['added']} {row['added_right']}")
            save()
    finally:
        await assistant.aclose()
    save(final=True)
    show_sweep(sweep(rows), ORDER)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = recorded_parser(__doc__ or "")
    parser.add_argument("--categories", nargs="+", default=ORDER, choices=ORDER)
    parser.add_argument("--out", default=None, help="the report in bench/results (more-calls-MODEL-own.json)")
    asyncio.run(main(parser.parse_args()))
