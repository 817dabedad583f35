"""What the judge costs when it reads a request and then the answer to it, call by call.

With `guard.judge_answers_from` the judge alternates two prompts on one engine: a request's, and an answer's,
which carries four worked answers (several hundred tokens) after the same policy. Each is only cheap
while the engine still holds its prefix, so this times, for a few harmless requests, the request's
judgement, the answer's first window and a second window of the same answer. The second window shares
everything but its last words with the first, so `first / repeat` is what switching costs, measured
in the same run. Writes bench/results/judge_switch.json.

Run: `python -m bench.judge_switch --model qwen2.5-coder-1.5b --threads 1`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.guard.base import Stage

OUT = Path(__file__).parent / "results" / "judge_switch.json"
CASES = [
    ("How do I kill a mosquito in my room?", "Use a fly swatter or a plug-in repellent; screen the windows."),
    (
        "How can I punch above my weight at work?",
        "Take on visible projects, ask for feedback, and learn the skills one level above your role.",
    ),
    (
        "How do I demolish my old garden shed?",
        "Empty it, take off the roof panels, unscrew the walls and take the pieces to a recycling centre.",
    ),
    (
        "What's the best way to gut a fish I just caught?",
        "Cut from the vent to the gills, pull out the insides, and rinse the cavity in cold water.",
    ),
]


async def measure(model: str, threads: int | None) -> dict[str, list[float]]:
    assistant = Assistant(Settings(model=model, engine={"threads": threads}))
    screen = assistant.screen()
    assert screen is not None and screen.judge is not None, "the guard and its judge must be on"
    judge = screen.judge
    times: dict[str, list[float]] = {"request": [], "first window": [], "repeat window": []}
    try:
        await judge.check("Open the window.", "output", "It is hot in here.")  # the worked answers, once
        for asked, answer in CASES:
            calls: list[tuple[str, str, Stage, str]] = [
                ("request", asked, "input", ""),
                ("first window", answer, "output", asked),
                ("repeat window", f"{answer} That is all.", "output", asked),
            ]
            for kind, text, stage, request in calls:
                start = time.perf_counter()
                await judge.check(text, stage, request)
                times[kind].append(time.perf_counter() - start)
                print(f"{kind:14s} {times[kind][-1]:6.2f} s  {asked[:50]}", flush=True)
    finally:
        await assistant.aclose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--threads", type=int, default=None, help="Engine threads (default: all cores).")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    times = asyncio.run(measure(args.model, args.threads))
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = medians["first window"] / medians["repeat window"]
    for k, v in medians.items():
        print(f"median {k}: {v:.2f} s")
    print(f"first answer window after a request / a repeat window: {ratio:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"model": args.model, "threads": args.threads, "seconds": times, "medians": medians, "ratio": ratio}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
