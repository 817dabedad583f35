"""`ponder eval DATASET`: run modes over a dataset and write the report (resumable).

`ponder eval safety` is the same runner over the held-out safety sets, with `--guard on,off` to run
every setting with the guard on and off, and a report of refusal rates (`ponder.evals.safety`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

from ponder.assistant import Assistant
from ponder.cli.common import err, errors, prepare
from ponder.cli.common import out as stdout
from ponder.cli.options import settings_from_flags, settings_options
from ponder.config import Settings
from ponder.errors import BadRequest
from ponder.evals import datasets, report, safety
from ponder.evals.datasets import Item
from ponder.evals.replay import replayed
from ponder.evals.runner import (
    LocalTarget,
    RemoteTarget,
    Setting,
    Store,
    parse_settings,
    regraded,
    run,
    sharded,
    with_guard,
)

SAFETY = "safety"


@click.command("eval")
@click.argument("dataset", type=click.Choice([*datasets.DATASETS, SAFETY]))
@click.option("--mode", "--modes", "modes", default="instant", show_default=True,
              help="Comma-separated settings: mode or mode:key=value (e.g. thinking:budget=256).")  # fmt: skip
@click.option("--limit", type=int, help="Items to run (the same seeded selection for every setting; safety: per set).")
@click.option("--guard", "guard_states", help="safety: run each setting with the guard on, off, or on,off (default).")
@click.option("--sets", "sets_", help=f"safety: comma-separated sets to run (default all: {', '.join(safety.SETS)}).")
@click.option("--prompts", type=click.Path(path_type=Path),
              help='safety: your own prompts, a JSON line each {"text": ..., "harmful": true|false}; '
              "sets own-harmful and own-safe (the only sets unless --sets names others).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Which items, and the sampling seeds.")
@click.option("--url", help="Evaluate a running ponder / OpenAI-compatible server instead of loading the model here.")
@click.option("--api-key", help="API key for --url.")
@click.option("--remote-model", help="Model name to ask --url for (default: ponder-MODE, for a ponder server).")
@click.option("--out", type=click.Path(path_type=Path), help="Results folder (default eval-results/DATASET-MODEL).")
@click.option("--max-tokens", type=int, default=512, show_default=True, help="Answer length limit.")
@click.option("--temperature", type=float, default=0.6, show_default=True)
@click.option("--report-only", is_flag=True, help="Write the report from the results so far; run nothing.")
@click.option("--replay", default="", help="Settings to replay from recorded full traces (e.g. contemplate,auto).")
@click.option("--shard", default="1/1", show_default=True,
              help="K/N: answer only every N-th item from the K-th, so N processes or machines share a run "
              "(each with its own --out; their results.jsonl files concatenate into one).")  # fmt: skip
@settings_options
def eval_command(
    dataset: str,
    modes: str,
    limit: int | None,
    guard_states: str | None,
    sets_: str | None,
    prompts: Path | None,
    seed: int,
    url: str | None,
    api_key: str | None,
    remote_model: str | None,
    out: Path | None,
    max_tokens: int,
    temperature: float,
    report_only: bool,
    replay: str,
    shard: str,
    **kwargs: Any,
) -> None:
    """Measure accuracy, tokens and latency per mode on DATASET."""
    with errors():
        settings = settings_from_flags(kwargs)
        part = parse_shard(shard)
        chosen = parse_settings(modes)
        if dataset == SAFETY:
            chosen = with_guard(chosen, guard_states or "on,off")
        elif guard_states is not None:
            raise BadRequest("--guard is for `ponder eval safety`; other datasets run with the guard as configured")
        elif sets_ is not None or prompts is not None:
            raise BadRequest(f"{'--sets' if sets_ is not None else '--prompts'} is for `ponder eval safety`")
        replays = parse_settings(replay) if replay else []
        for setting in chosen:  # fail now, not hours into the run
            Assistant(settings).plan(None, setting.mode, setting.reasoning_effort, setting.thinking_budget)
        if dataset == SAFETY:
            wanted = [s.strip() for s in sets_.split(",") if s.strip()] if sets_ else None
            items = safety.load(limit, seed, wanted, prompts)
        else:
            items = datasets.load(dataset, limit=limit, seed=seed)
        model = settings.model if url is None else "remote"
        folder = out or Path("eval-results") / f"{dataset}-{model}"
        store = Store(folder / "results.jsonl")
        if not report_only:
            _run(settings, store, chosen, items, url, api_key, remote_model, max_tokens, temperature, dataset, part)
        # Only items every setting has answered, so a partial run is still a paired comparison.
        answered: dict[str, set[str]] = {}
        for r in store.results:
            answered.setdefault(r.item, set()).add(r.setting)
        names = {s.name for s in chosen}
        done = [i for i in items if names <= answered.get(i.id, set())]
        if not done:
            raise BadRequest(f"no item in {folder} has been answered by every setting yet")
        done_ids = {i.id for i in done}
        # Graded again from the stored text: a better grader needs no new model run.
        results = regraded([r for r in store.results if r.setting in names and r.item in done_ids], done)
        results += replayed(results, replays)
        title = f"{dataset}, {model}, {len(done)} items" + (f" of {len(items)}" if len(done) < len(items) else "")
        if dataset == SAFETY:
            stdout.print(safety.write(results, done, folder, title), highlight=False)
            stdout.print(f"results in {folder}/ (results.jsonl, report.json, report.md)")
            return
        summary = report.write(results, folder, title)
        stdout.print(report.markdown(summary, title), highlight=False)
        stdout.print(f"results in {folder}/ (results.jsonl, report.json, report.md, accuracy_vs_tokens.png)")


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1-based K) as the runner's (k, n), or a message that says what is wrong."""
    k, slash, n = text.partition("/")
    if not (slash and k.strip().isdigit() and n.strip().isdigit() and 1 <= int(k) <= int(n)):
        raise BadRequest(f"--shard takes K/N with 1 <= K <= N (e.g. 1/2), got {text!r}")
    return int(k) - 1, int(n)


def _run(
    settings: Settings,
    store: Store,
    chosen: list[Setting],
    items: list[Item],
    url: str | None,
    api_key: str | None,
    remote_model: str | None,
    max_tokens: int,
    temperature: float,
    dataset: str,
    shard: tuple[int, int],
) -> None:
    target: LocalTarget | RemoteTarget
    if url is None:
        prepare(settings, settings.model)
        target = LocalTarget(settings, max_tokens, temperature)
    else:
        target = RemoteTarget(url, remote_model, api_key, max_tokens, temperature)
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress("{task.description}", *columns, console=err) as bar:
        total = len(sharded(items, shard)) * len(chosen)
        task = bar.add_task(f"{dataset} × {len(chosen)} settings", total=total)

        async def go() -> None:
            try:
                await run(target, chosen, items, store, lambda: bar.advance(task), shard)
            finally:
                await target.aclose()

        asyncio.run(go())
