"""BFCL AST accuracy of the packaged models, raw versus through ponder's function calling.

`python -m bench.bfcl --limit 40 --models qwen2.5-coder-1.5b` reads the Berkeley Function Calling
Leaderboard's own data and answers from `bfcl-eval` 2026.3.23 (`pip install --no-deps
bfcl-eval==2026.3.23`) and scores with BFCL's own AST checker (`ast_checker`, imported from the
package; its model-config table is replaced, because importing it pulls in every vendor SDK).

Every item is asked once, the way a client asks ponder: the functions become `tools` (BFCL's own
Gorilla-to-OpenAPI type mapping), rendered in the model's template, greedy, `tool_choice: auto`.
The same reply is then scored twice:
- raw: only well-formed `<tool_call>` tags holding valid JSON count (what the model's own format
  gives a client that parses it strictly, as llama.cpp's server does);
- ponder: lenient parsing, schema validation and coercion, one grammar-constrained re-ask when
  the reply tried to call and failed, and the turn continued while the model leans to call again, as
  `CallingMode.run` does (the extra tokens are counted).
`invalid` is the share of returned calls whose name or arguments fail the tool's JSON Schema,
checked here independently of ponder's validator. Irrelevance items are right when no call is
returned. Prints a table and writes bench/results/bfcl.json (per-item replies included) after every
item; `--resume` goes on from it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import sys
import time
import types
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ponder.assistant import Assistant
from ponder.calls.mode import CallingMode, forced_grammar, read, said_in, should_reask
from ponder.calls.parse import parse
from ponder.calls.spec import FunctionSpec, policy
from ponder.config import Settings
from ponder.models import relevance_threshold, resolve
from ponder.modes.base import RunRequest, answer_of
from ponder.modes.instant import InstantMode
from ponder.types import Message, SamplingParams, ToolCall, Usage

RESULTS = Path(__file__).parent / "results"
CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
CHECKER_NAME = "ponder"


def _bfcl() -> tuple[Any, Any, Path, dict[str, str]]:
    """BFCL's checker, language enum, data folder and type mapping, without its vendor SDK imports."""
    config = types.ModuleType("bfcl_eval.constants.model_config")
    config.MODEL_CONFIG_MAPPING = defaultdict(lambda: types.SimpleNamespace(underscore_to_dot=False))  # type: ignore[attr-defined]
    sys.modules.setdefault(config.__name__, config)
    import bfcl_eval
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

    return ast_checker, Language.PYTHON, Path(bfcl_eval.__file__).parent / "data", GORILLA_TO_OPENAPI


def _cast(properties: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """BFCL's `_cast_to_openai_type` (model_handler/utils.py), restated: it imports tree-sitter."""
    for value in properties.values():
        kind = value.get("type")
        if kind is None:
            value["type"] = "string"
        else:
            if kind == "float":
                value["format"] = "float"
                value["description"] = value.get("description", "") + " This is a float type value."
            value["type"] = mapping.get(kind, "string")
        if value["type"] in ("array", "object"):
            if "properties" in value:
                value["properties"] = _cast(value["properties"], mapping)
            elif "items" in value:
                items = value["items"]
                items["type"] = mapping[items["type"]]
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = mapping[items["items"]["type"]]
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _cast(items["properties"], mapping)
    return properties


def tools_of(functions: list[dict[str, Any]], mapping: dict[str, str]) -> list[FunctionSpec]:
    out = []
    for f in copy.deepcopy(functions):
        params = f["parameters"]
        params["type"] = "object"
        params["properties"] = _cast(params.get("properties", {}), mapping)
        params.pop("optional", None)
        out.append(FunctionSpec(f["name"], f.get("description", ""), params))
    return out


def load(data: Path, category: str, limit: int | None, seed: int) -> list[tuple[dict[str, Any], Any]]:
    items = [json.loads(line) for line in (data / f"BFCL_v4_{category}.json").open()]
    answers: dict[str, Any] = {}
    answer_file = data / "possible_answer" / f"BFCL_v4_{category}.json"
    if answer_file.exists():
        answers = {a["id"]: a["ground_truth"] for a in map(json.loads, answer_file.open())}
    if limit is not None and limit < len(items):
        items = sorted(random.Random(seed).sample(items, limit), key=lambda r: int(r["id"].rsplit("_", 1)[1]))
    return [(it, answers.get(it["id"])) for it in items]


def invalid_share(calls: list[tuple[str, Any]], tools: list[FunctionSpec]) -> int:
    """How many (name, arguments) calls fail their tool's JSON Schema (or name no tool)."""
    bad = 0
    for name, args in calls:
        tool = next((t for t in tools if t.name == name), None)
        if tool is None or not isinstance(args, dict) or not Draft202012Validator(dict(tool.parameters)).is_valid(args):
            bad += 1
    return bad


async def generate(request: RunRequest) -> tuple[str, Usage]:
    return await answer_of(InstantMode(), request)


def scored(
    item: dict[str, Any], answer: Any, category: str, found: list[tuple[str, Any]], ast_checker: Any, language: Any
) -> bool:
    """BFCL's verdict on the (name, arguments) calls returned for `item`: none at all, for irrelevance."""
    if category == "irrelevance":
        return not found
    if not found or any(not isinstance(a, dict) for _, a in found):
        return False
    out = ast_checker(item["function"], [{n: a} for n, a in found], answer, language, category, CHECKER_NAME)
    return bool(out["valid"])


def messages_of(item: dict[str, Any]) -> list[Message]:
    return [Message(role=m["role"], content=m["content"]) for m in item["question"][0]]


async def run_item(
    assistant: Assistant, model: str, category: str, item: dict[str, Any], answer: Any, checker: Any
) -> dict[str, Any]:
    ast_checker, language, mapping = checker
    tools = tools_of(item["function"], mapping)
    spec = resolve(assistant.settings, model)
    calls = policy(tools, "auto", True, relevance=relevance_threshold(assistant.settings, spec))
    backend = await assistant.backend(model)
    template = spec.template
    messages = messages_of(item)
    params = SamplingParams(max_tokens=384 if "parallel" in category else 256, temperature=0.0)
    calling = CallingMode(InstantMode(), calls)
    request = calling.prepare(RunRequest(backend, template, messages, params))
    text, usage = await generate(request)
    attempt = read(calls, text, usage)
    reasked = should_reask(calls, attempt, 1)
    tokens = usage.completion_tokens
    again = ""
    if reasked:
        forced = replace(request, params=params.model_copy(update={"grammar": forced_grammar(calls, attempt)}))
        again, again_usage = await generate(forced)
        attempt = read(calls, again, again_usage)
        tokens += again_usage.completion_tokens
    found = list(attempt.checked.calls)
    if found:  # as CallingMode.run does: the turn continued while the model leans to call again
        more, spent = await calling.more_calls(request, found, attempt.text)
        found += more
        tokens += spent.completion_tokens
    found = calling.settle(found, said_in(request.messages))
    fit = await calling.fit(request, found)  # the relevance check, as CallingMode.run asks it
    if fit is not None and fit < (calls.relevance or 0.0):
        found = []
    names = [t.name for t in tools]
    raw_calls = [(c.name, c.arguments) for c in parse(text, names, strict=True).calls]
    ponder_calls = [(c.name, json.loads(c.arguments)) for c in found]

    def score(found: list[tuple[str, Any]]) -> bool:
        return scored(item, answer, category, found, ast_checker, language)

    return {
        "id": item["id"],
        "category": category,
        "model": model,
        "raw": score(raw_calls),
        "ponder": score(ponder_calls),
        "raw_calls": len(raw_calls),
        "raw_invalid": invalid_share(raw_calls, tools),
        "ponder_calls": len(ponder_calls),
        "calls": [{n: a} for n, a in ponder_calls],  # what ponder returned, continuation included
        "ponder_invalid": invalid_share(ponder_calls, tools),
        "reasked": reasked,
        "relevance": fit,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": tokens,
        "reply": text,
        "reask_reply": again,
    }


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    for model in dict.fromkeys(r["model"] for r in rows):
        for category in CATEGORIES:
            sub = [r for r in rows if r["model"] == model and r["category"] == category]
            if not sub:
                continue
            n = len(sub)

            def share(a: int, b: int) -> float:
                return round(a / b, 3) if b else 0.0

            summary.append(
                {
                    "model": model,
                    "category": category,
                    "n": n,
                    "raw": share(sum(r["raw"] for r in sub), n),
                    "ponder": share(sum(r["ponder"] for r in sub), n),
                    "raw_invalid": share(sum(r["raw_invalid"] for r in sub), sum(r["raw_calls"] for r in sub)),
                    "ponder_invalid": share(sum(r["ponder_invalid"] for r in sub), sum(r["ponder_calls"] for r in sub)),
                    "reasked": sum(r["reasked"] for r in sub),
                    "tokens_per_item": round(sum(r["completion_tokens"] for r in sub) / n, 1),
                }
            )
    return summary


def show(summary: list[dict[str, Any]]) -> None:
    print(
        f"{'model':<20} {'category':<18} {'n':>4} {'raw':>6} {'ponder':>7} "
        f"{'inv.raw':>8} {'inv.ponder':>10} {'reask':>5} {'tok':>6}"
    )
    for s in summary:
        print(
            f"{s['model']:<20} {s['category']:<18} {s['n']:>4} {s['raw']:>6.1%} {s['ponder']:>7.1%} "
            f"{s['raw_invalid']:>8.1%} {s['ponder_invalid']:>10.1%} {s['reasked']:>5} {s['tokens_per_item']:>6}"
        )


async def main(args: argparse.Namespace) -> None:
    ast_checker, language, data, mapping = _bfcl()
    checker = (ast_checker, language, mapping)
    engine = {"parallel": args.parallel, "context": 4096, "threads": args.threads}
    settings = Settings(guard={"enabled": False}, engine=engine)
    assistant = Assistant(settings)
    started = time.time()
    out = RESULTS / args.out
    # random.sample draws the same first items for a larger --limit (same seed), so a run can grow.
    rows: list[dict[str, Any]] = json.loads(out.read_text())["items"] if args.resume and out.exists() else []
    done = {(r["model"], r["id"]) for r in rows}

    def save() -> None:
        RESULTS.mkdir(exist_ok=True)
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "seed": args.seed,
            "seconds": round(time.time() - started),
            "summary": table(rows),
            "items": rows,
        }
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")

    try:
        for model in args.models:
            for category in args.categories:
                limit = args.limit_for.get(category, args.limit) if args.limit_for else args.limit
                # --skip: the first items of the sample are left out (a held-out run after tuning on them).
                seen = {it["id"] for it, _ in load(data, category, args.skip, args.seed)} if args.skip else set()
                items = [
                    (it, a)
                    for it, a in load(data, category, limit, args.seed)
                    if (model, it["id"]) not in done and it["id"] not in seen
                ]
                gate = asyncio.Semaphore(args.parallel)

                async def one(
                    it: dict[str, Any], ans: Any, model: str = model, category: str = category, gate: Any = gate
                ) -> None:
                    async with gate:
                        row = await run_item(assistant, model, category, it, ans, checker)
                    rows.append(row)
                    save()  # after every item, so a run cut short resumes where it stopped
                    print(
                        f"{model} {row['id']}: raw={row['raw']} ponder={row['ponder']} reask={row['reasked']}",
                        flush=True,
                    )

                await asyncio.gather(*(one(it, ans) for it, ans in items))
    finally:
        await assistant.aclose()
    show(table(rows))
    print(f"wrote {out}")


def regrade(args: argparse.Namespace) -> None:
    """Score the calls an earlier run recorded again, through today's `CallingMode.settle`, with no
    model run: what a change to the filters does, on the same replies. `--limit` keeps the items of that
    sample (the first of a larger one), `--skip` drops them (the items a larger run added)."""
    ast_checker, language, data, mapping = _bfcl()
    source = RESULTS / args.out
    rows = json.loads(source.read_text())["items"]
    kept: list[dict[str, Any]] = []
    for category in CATEGORIES:
        items = {it["id"]: (it, a) for it, a in load(data, category, None, args.seed)}
        first = {it["id"] for it, _ in load(data, category, args.limit or args.skip, args.seed)}
        for row in (r for r in rows if r["category"] == category and "calls" in r):
            if (args.skip and row["id"] in first) or (args.limit and row["id"] not in first):
                continue
            item, answer = items[row["id"]]
            tools = tools_of(item["function"], mapping)
            recorded = [ToolCall(id="r", name=n, arguments=json.dumps(a)) for c in row["calls"] for n, a in c.items()]
            calling = CallingMode(InstantMode(), policy(tools, "auto", True))
            settled = calling.settle(recorded, said_in(messages_of(item)))
            found = [(c.name, json.loads(c.arguments)) for c in settled]
            kept.append(
                {
                    **row,
                    "ponder": scored(item, answer, category, found, ast_checker, language),
                    "ponder_calls": len(found),
                    "ponder_invalid": invalid_share(found, tools),
                    "calls": [{n: a} for n, a in found],
                    "recorded_ponder": row["ponder"],
                }
            )
    out = source.with_name(source.stem + (f"-skip{args.skip}" if args.skip else "") + "-regraded.json")
    report = {"regraded_from": source.name, "command": " ".join(sys.argv), "summary": table(kept), "items": kept}
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    show(table(kept))
    print(f"{sum(r['ponder'] != r['recorded_ponder'] for r in kept)} items changed; wrote {out}")


def recorded_parser(doc: str) -> argparse.ArgumentParser:
    """The options of a script that asks the model about a BFCL run's recorded calls."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--source", action="append", required=True, help="a bench.bfcl report in bench/results")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    return parser


def show_sweep(table: list[dict[str, Any]], categories: list[str]) -> None:
    """A threshold sweep as a table: one line per threshold, one column per category."""
    print("threshold " + " ".join(f"{c:>17}" for c in categories))
    for line in table:
        print(f"{line['threshold']:>9} " + " ".join(f"{line.get(c, '-'):>17}" for c in categories))


def _limits(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (part.split("=") for part in text.split(",") if part)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["qwen2.5-coder-1.5b"])
    ap.add_argument("--categories", nargs="+", default=CATEGORIES, choices=CATEGORIES)
    ap.add_argument("--limit", type=int, default=None, help="Items per category (a seeded sample); all when unset.")
    ap.add_argument("--limit-for", type=_limits, default={}, help="Per-category limits, e.g. multiple=20,parallel=20.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=2, help="Items decoded together (engine slots).")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (1 is faster on a busy machine).")
    ap.add_argument("--out", default="bfcl.json")
    ap.add_argument("--resume", action="store_true", help="Keep the items already scored in --out.")
    ap.add_argument("--regrade", action="store_true", help="Rescore --out's recorded calls with today's filters.")
    ap.add_argument("--skip", type=int, default=None, help="Leave out the sample's first --skip items.")
    parsed = ap.parse_args()
    if parsed.regrade:
        regrade(parsed)
    else:
        asyncio.run(main(parsed))
