"""`python -m bench.vision`: how well ponder answers questions about images, end to end, and how fast.

Two sets, both run through `Assistant.run` exactly as a request to the server would be (validation,
perception, the observation, the guard, the language model):

- easy-VQA (the `easy-vqa` package's test split: 1,000 64×64 images of one coloured shape, 9,673
  questions on shape, colour and yes/no). A sample of `--vqa N` questions, drawn with a fixed seed
  across all images. The answer is the first word of the dataset's 13-word vocabulary in the reply.
- text-in-image tasks drawn here with Pillow, with known answers: receipts (read the printed total),
  arithmetic problems rendered as images (read, then compute), and signs (read a number or word).
  Accuracy, and latency per image (perception stages and the whole answer).

Prints a summary and writes JSON to bench/results/vision-<model>.json (rows also stream to
vision-<model>-<set>.jsonl as they finish). Never part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import re
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.types import Media, Message, Perception, Safety, SamplingParams, TextDelta

RESULTS = Path(__file__).parent / "results"
INSTRUCTION = "Answer the question about the image in as few words as possible."


@dataclass
class Task:
    kind: str
    question: str
    answer: str
    image: bytes
    id: str = ""
    """Stable across runs (the set, the question's index), so a run can resume from its log."""


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


ITEMS = ["Coffee", "Bagel", "Orange juice", "Muffin", "Tea", "Sandwich", "Salad", "Soup", "Cookie", "Water"]
SIGNS = [
    ("SPEED LIMIT {n}", "What speed limit does the sign show?"),
    ("PLATFORM {n}", "Which platform number is on the sign?"),
    ("GATE {n}", "What gate number does the sign show?"),
    ("ROOM {n}", "What room number is on the sign?"),
    ("EXIT {n}", "What exit number does the sign show?"),
]


def text_tasks(n_each: int, seed: int = 7) -> list[Task]:
    """Receipts, rendered sums and signs, each with the answer it must lead to."""
    rng = random.Random(seed)
    tasks: list[Task] = []
    for _ in range(n_each):
        items = rng.sample(ITEMS, rng.randint(2, 4))
        prices = [rng.randint(150, 1299) / 100 for _ in items]
        im = Image.new("RGB", (440, 80 + 44 * (len(items) + 2)), "white")
        d = ImageDraw.Draw(im)
        d.text((20, 16), "CORNER CAFE", fill="black", font=_font(30))
        for i, (item, price) in enumerate(zip(items, prices, strict=True)):
            d.text((20, 70 + 44 * i), item, fill="black", font=_font(26))
            d.text((320, 70 + 44 * i), f"{price:.2f}", fill="black", font=_font(26))
        y = 70 + 44 * len(items) + 10
        d.line((20, y, 420, y), fill="black", width=2)
        d.text((20, y + 12), "TOTAL", fill="black", font=_font(28))
        d.text((320, y + 12), f"{sum(prices):.2f}", fill="black", font=_font(28))
        tasks.append(
            Task("receipt", "What is the total on this receipt?", f"{sum(prices):.2f}", _png(im), f"r{len(tasks)}")
        )
    for _ in range(n_each):
        op = rng.choice(["+", "-", "×"])
        a, b = rng.randint(12, 89), rng.randint(2, 9) if op == "×" else rng.randint(12, 89)
        value = a + b if op == "+" else a - b if op == "-" else a * b
        im = Image.new("RGB", (360, 140), (250, 250, 240))
        ImageDraw.Draw(im).text((30, 40), f"{a} {op} {b} = ?", fill=(20, 20, 120), font=_font(48))
        tasks.append(
            Task("math", "Solve the problem in the image. What is the answer?", str(value), _png(im), f"m{len(tasks)}")
        )
    for i in range(n_each):
        template, question = SIGNS[i % len(SIGNS)]
        number = rng.randint(2, 120)
        im = Image.new("RGB", (420, 220), (0, 90, 40) if i % 2 else (20, 50, 140))
        d = ImageDraw.Draw(im)
        d.rectangle((10, 10, 410, 210), outline="white", width=6)
        d.text((40, 80), template.format(n=number), fill="white", font=_font(44))
        tasks.append(Task("sign", question, str(number), _png(im), f"s{len(tasks)}"))
    return tasks


VOCABULARY = [
    "circle",
    "green",
    "red",
    "gray",
    "yes",
    "teal",
    "black",
    "rectangle",
    "yellow",
    "triangle",
    "brown",
    "blue",
    "no",
]
"""easy-VQA's 13 answers (`easy_vqa.get_answers()`)."""


def vqa_tasks(n: int, seed: int = 0) -> tuple[list[Task], list[str]]:
    import easy_vqa

    questions, answers, image_ids = easy_vqa.get_test_questions()
    paths = easy_vqa.get_test_image_paths()
    picked = random.Random(seed).sample(range(len(questions)), n)
    tasks = [
        Task("easy-vqa", questions[i], answers[i], Path(paths[image_ids[i]]).read_bytes(), f"q{i}") for i in picked
    ]
    return tasks, sorted(easy_vqa.get_answers())


SHAPES = ("circle", "rectangle", "triangle")
YES_NO = ("yes", "no")


def rule_answer(question: str, kind: str, colour: str) -> str:
    """What a fixed reading of easy-VQA's question templates answers from ponder's shape perception.

    A diagnostic, not ponder: it shows whether the observation holds the answer, so the language
    model's share of the errors can be told apart from perception's.
    """
    q = question.lower().replace("?", "")
    words = set(q.split())
    if "what" in words:
        return colour if ("color" in words or "colour" in words) else kind
    asked_shape = next((w for w in SHAPES if w in words), None)
    asked_colour = next((w for w in words if w in VOCABULARY and w not in (*SHAPES, *YES_NO)), None)
    present = (asked_shape is None or asked_shape == kind) and (asked_colour is None or asked_colour == colour)
    negated = "not" in words or q.startswith("is no ")
    return "yes" if present != negated else "no"


def rule_reader_accuracy() -> dict[str, Any]:
    """`rule_answer` over every easy-VQA test question, on `ponder.media.pixels.shapes` of each image."""
    import easy_vqa

    from ponder.media.pixels import shapes

    questions, answers, image_ids = easy_vqa.get_test_questions()
    seen: dict[int, tuple[str, str]] = {}
    for i, path in easy_vqa.get_test_image_paths().items():
        found = shapes(Image.open(path).convert("RGB"))
        seen[i] = (found[0].kind, found[0].colour) if found else ("", "")
    hits = sum(rule_answer(q, *seen[i]) == a for q, a, i in zip(questions, answers, image_ids, strict=True))
    return {"n": len(questions), "accuracy": round(hits / len(questions), 4)}


def vocabulary_answer(reply: str, vocabulary: list[str], gold: str) -> str | None:
    """The reply's first word of the gold answer's kind (a shape, a colour, yes/no): "black rectangle"
    answers a shape question with "rectangle". `square` counts as rectangle, `grey` as gray."""
    kind = (
        SHAPES
        if gold in SHAPES
        else YES_NO
        if gold in YES_NO
        else [w for w in vocabulary if w not in (*SHAPES, *YES_NO)]
    )
    words = re.findall(r"[a-z]+", reply.lower().replace("grey", "gray").replace("square", "rectangle"))
    return next((w for w in words if w in kind), None)


def number_answer(reply: str) -> str | None:
    """The last number in the reply, normalised (`$42.5` → `42.50` when the gold has cents)."""
    found = re.findall(r"-?\d+(?:[.,]\d+)?", reply.replace(",", ""))
    return found[-1] if found else None


def correct(task: Task, reply: str, vocabulary: list[str]) -> bool:
    if task.kind == "easy-vqa":
        return vocabulary_answer(reply, vocabulary, task.answer) == task.answer
    got = number_answer(reply)
    return got is not None and abs(float(got) - float(task.answer)) < 0.005


async def ask(assistant: Assistant, task: Task, max_tokens: int) -> dict[str, Any]:
    messages = [
        Message(role="system", content=INSTRUCTION),
        Message(role="user", content=task.question, media=[Media(kind="image", data=task.image)]),
    ]
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=0)
    start = time.perf_counter()
    reply: list[str] = []
    timings: dict[str, float] = {}
    refused = False
    async for ev in assistant.run(assistant.plan(), messages, params):
        if isinstance(ev, TextDelta):
            reply.append(ev.text)
        elif isinstance(ev, Perception):
            timings = dict(ev.timings or {})
        elif isinstance(ev, Safety):
            refused = True
    return {"reply": "".join(reply), "seconds": time.perf_counter() - start, "perception": timings, "refused": refused}


async def run_set(
    assistant: Assistant, tasks: list[Task], vocabulary: list[str], concurrency: int, max_tokens: int, log: Path
) -> list[dict[str, Any]]:
    """Every task's row; each is also appended to `log` (JSON lines) as it completes, so a run cut short
    still leaves its figures."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(task: Task) -> dict[str, Any]:
        nonlocal done
        async with gate:
            out = await ask(assistant, task, max_tokens)
        row = {"id": task.id, "kind": task.kind, "question": task.question, "answer": task.answer, **out}
        row["correct"] = correct(task, row["reply"], vocabulary)
        with log.open("a") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        done += 1
        if done % 25 == 0 or done == len(tasks):
            print(f"  {done}/{len(tasks)}: {summary_line(log)}", flush=True)
        return row

    return list(await asyncio.gather(*(one(t) for t in tasks)))


def summary_line(log: Path) -> str:
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return json.dumps({k: v for k, v in summary(rows).items() if k != "perception_mean"})


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r["seconds"] for r in rows]
    stages = sorted({s for r in rows for s in r["perception"]})
    return {
        "n": len(rows),
        "accuracy": round(sum(r["correct"] for r in rows) / len(rows), 4),
        "refused": sum(r["refused"] for r in rows),
        "seconds_mean": round(statistics.mean(seconds), 3),
        "seconds_p50": round(statistics.median(seconds), 3),
        "perception_mean": {s: round(statistics.mean(r["perception"].get(s, 0.0) for r in rows), 4) for s in stages},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--vqa", type=int, default=300, help="easy-VQA questions (0 to skip)")
    parser.add_argument("--text", type=int, default=10, help="text-in-image tasks of each kind (3 kinds; 0 to skip)")
    parser.add_argument("--concurrency", type=int, default=4, help="easy-VQA requests in flight (the engine batches)")
    parser.add_argument("--text-concurrency", type=int, default=1, help="text tasks in flight (1: clean latency)")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--no-guard", action="store_true", help="turn the safety guard off")
    parser.add_argument("--from-logs", action="store_true", help="only summarise the rows already in the logs")
    parser.add_argument("--fresh", action="store_true", help="discard the logs instead of resuming from them")
    args = parser.parse_args()

    RESULTS.mkdir(exist_ok=True)
    logs = {name: RESULTS / f"vision-{args.model}-{name}.jsonl" for name in ("easy-vqa", "text")}
    if not args.from_logs:
        await measure(args, logs)
    report: dict[str, Any] = {
        "model": args.model,
        "guard": not args.no_guard,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if logs["easy-vqa"].exists():
        rows = [json.loads(line) for line in logs["easy-vqa"].read_text().splitlines()]
        for r in rows:  # graded again here, so a grader fix applies to rows already logged
            r["correct"] = correct(Task("easy-vqa", r["question"], r["answer"], b""), r["reply"], VOCABULARY)
        report["easy_vqa"] = {**summary(rows), "rows": rows}
        print("easy-VQA", json.dumps(summary(rows)), flush=True)
        report["easy_vqa_rule_reader"] = rule_reader_accuracy()
        print("easy-VQA, perception + fixed template reader (no LLM):", report["easy_vqa_rule_reader"], flush=True)
    if logs["text"].exists():
        rows = [json.loads(line) for line in logs["text"].read_text().splitlines()]
        by_kind = {k: summary([r for r in rows if r["kind"] == k]) for k in sorted({r["kind"] for r in rows})}
        report["text_in_image"] = {**summary(rows), "by_kind": by_kind, "rows": rows}
        print("text in images", json.dumps(summary(rows)), flush=True)
        for kind, s in by_kind.items():
            print(f"  {kind}: {json.dumps(s)}", flush=True)
    out = RESULTS / f"vision-{args.model}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


def pending(tasks: list[Task], log: Path, fresh: bool) -> list[Task]:
    """The tasks the log has no row for: a run resumes where the last one stopped. Rows logged before
    rows carried an id (or by another sample) are discarded with the log."""
    if fresh or not log.exists():
        log.unlink(missing_ok=True)
        return tasks
    done = {json.loads(line).get("id") for line in log.read_text().splitlines()}
    if None in done or "" in done or not done <= {t.id for t in tasks}:
        log.unlink()
        return tasks
    return [t for t in tasks if t.id not in done]


async def measure(args: argparse.Namespace, logs: dict[str, Path]) -> None:
    """Run the sets asked for, each streaming its rows to its log."""
    assistant = Assistant(Settings(model=args.model, guard={"enabled": not args.no_guard}))
    try:
        if args.vqa:
            tasks, vocabulary = vqa_tasks(args.vqa)
            todo = pending(tasks, logs["easy-vqa"], args.fresh)
            print(f"easy-VQA: {len(todo)} of {len(tasks)} questions to ask {args.model}", flush=True)
            await run_set(assistant, todo, vocabulary, args.concurrency, args.max_tokens, logs["easy-vqa"])
        if args.text:
            tasks = text_tasks(args.text)
            todo = pending(tasks, logs["text"], args.fresh)
            print(f"text in images: {len(todo)} of {len(tasks)} tasks, {args.text_concurrency} at a time", flush=True)
            await run_set(assistant, todo, [], args.text_concurrency, args.max_tokens, logs["text"])
    finally:
        await assistant.aclose()


if __name__ == "__main__":
    asyncio.run(main())
