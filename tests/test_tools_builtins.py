"""The built-in tools give the exact answers a small model gets wrong, and say clearly when they cannot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ponder.config import Settings
from ponder.errors import ToolError
from ponder.tools.calculator import calculate
from ponder.tools.clock import datetime_tool
from ponder.tools.documents import DocumentsTool, index_for, passages
from ponder.tools.units import convert_units


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("0.1 + 0.2", "0.3"),
        ("2^100", "1267650600228229401496703205376"),
        ("2**10 - 24", "1000"),
        ("12345678901234567890 * 98765432109876543210", "1219326311370217952237463801111263526900"),
        ("1/3", "1/3 ≈ 0.333333333333333"),
        ("(2/3)^-2", "2.25"),
        ("17 % 5 + 7 // 2", "5"),
        ("-(3 - 10) * 2", "14"),
        ("1000 * (1 + 0.05/12)^(12*10)", "≈ 1647.00949769028"),
        ("sqrt(144) + sqrt(2)^2", "14"),
        ("8^(1/3)", "2"),
        ("log(1000) + log(8, 2) + ln(e)", "7"),
        ("exp(1)", "2.71828182845905"),
        ("sin(pi/2) + cos(0)", "2"),
        ("factorial(20)", "2432902008176640000"),
        ("comb(52, 5)", "2598960"),
        ("round(2/3, 4)", "0.6667"),
        ("abs(-5) + min(3, 1, 2) + max(1.5, 2)", "8"),
        ("3 × 4 ÷ 2 − 1", "5"),
        ("17!/12!", "742560"),  # how people, and small models, write factorials
        ("math.sqrt(16) + 10!", "3628804"),  # Python's habit
    ],
)
def test_calculator_is_exact(expression: str, value: str) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("2^10^10", "too large"),
        ("factorial(10^6)", "too large"),
        ("1/0", "division by zero"),
        ("sqrt(-1)", "not real"),
        ("__import__('os')", "unknown name '__import__'"),
        ("__import__('os').system('true')", "not arithmetic"),
        ("(lambda: 1)()", "not arithmetic"),
        ("[1, 2]", "not arithmetic"),
        ("x + 1", "unknown name 'x'"),
        ("2 +", "cannot parse"),
        ("factorial(2.5)", "whole number"),
        # What to fix, for the mistakes small models make:
        ("4,837 * 9,261", "without thousands separators"),
        ("x = 2^40", "Send one expression.*use the python tool"),
        ("(3+2)!", r"Write factorial\(n\)"),
        ("sum(i**2 for i in range(1, 251))", "unknown name 'sum'.*use the python tool"),
    ],
)
def test_calculator_refuses_clearly(expression: str, problem: str) -> None:
    with pytest.raises(ToolError, match=problem):
        calculate(expression)


async def test_convert_units() -> None:
    assert await convert_units.run({"amount": 212, "from_unit": "degF", "to_unit": "degC"}) == "212 degF = 100 degC"
    assert await convert_units.run({"amount": 90, "from_unit": "km/h", "to_unit": "m/s"}) == "90 km/h = 25 m/s"
    with pytest.raises(ToolError, match=r"cannot convert kg \(\[mass\]\) to m \(\[length\]\)"):
        await convert_units.run({"amount": 1, "from_unit": "kg", "to_unit": "m"})
    with pytest.raises(ToolError, match="unknown unit 'furlongz'"):
        await convert_units.run({"amount": 1, "from_unit": "furlongz", "to_unit": "m"})


async def test_datetime() -> None:
    run = datetime_tool.run
    assert await run({"operation": "weekday", "date": "1969-07-20"}) == "Sunday"
    assert await run({"operation": "difference", "date": "2024-01-01", "end": "2024-03-01"}) == "60 days (8.57 weeks)"
    assert await run({"operation": "add", "date": "2024-01-31", "months": 1}) == "2024-02-29 (Thursday)"
    assert await run({"operation": "add", "date": "2024-03-30T22:00", "hours": 3}) == "2024-03-31T01:00+00:00 (Sunday)"
    now = dt.datetime.fromisoformat((await run({"operation": "now", "timezone": "Asia/Kolkata"})).split()[0])
    assert now.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(hours=1)
    with pytest.raises(ToolError, match="unknown time zone 'Mars/Olympus'"):
        await run({"operation": "now", "timezone": "Mars/Olympus"})
    with pytest.raises(ToolError, match="needs `date`"):
        await run({"operation": "weekday"})


NOTES = {
    "trip.md": "# Lisbon\n\nWe flew out on 3 May with flight TP1351.\n\n"
    "## Costs\n\nThe trip cost 1,840 euros in all.\n",
    "garden/tomatoes.txt": "Tomatoes want eight hours of sun.\nWater them deeply twice a week.\n",
    ".hidden/secret.md": "the hidden password is swordfish\n",
    "photo.jpg": "not text",
}


@pytest.fixture
def documents(tmp_path: Path) -> DocumentsTool:
    folder = tmp_path / "notes"
    for name, text in NOTES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    tool = DocumentsTool().configure(Settings(tools={"documents": folder}, cache_dir=tmp_path / "cache"))
    assert tool is not None
    return tool


def test_passages_keep_files_and_line_numbers() -> None:
    found = passages("trip.md", NOTES["trip.md"])
    assert [(p.start, p.end, p.heading) for p in found] == [(1, 3, "Lisbon"), (5, 7, "Costs")]
    assert found[1].text == "## Costs\n\nThe trip cost 1,840 euros in all."


async def test_search_documents_by_words_and_by_meaning(documents: DocumentsTool) -> None:
    by_word = await documents.run({"query": "TP1351", "k": 1})
    assert by_word.startswith("[1] trip.md lines 1-3\n") and "flight TP1351" in by_word
    by_meaning = await documents.run({"query": "how much did the holiday cost?", "k": 1})
    assert by_meaning.startswith("[1] trip.md lines 5-7") and "1,840 euros" in by_meaning
    watering = await documents.run({"query": "how often should I water the vegetables", "k": 1})
    assert watering.startswith("[1] garden/tomatoes.txt lines 1-2")
    everything = await documents.run({"query": "password", "k": 20})
    assert "swordfish" not in everything and "photo" not in everything


async def test_the_index_follows_the_folder(documents: DocumentsTool, tmp_path: Path) -> None:
    assert documents.folder is not None and documents.cache is not None
    await documents.run({"query": "sun"})
    index = index_for(documents.folder, documents.cache)
    (documents.folder / "bikes.md").write_text("The blue bicycle needs a new chain.\n")
    found = await documents.run({"query": "bicycle chain", "k": 1})
    assert found.startswith("[1] bikes.md lines 1-1")
    assert index.embedded == 1  # only the new file's passage was embedded again
    (documents.folder / "bikes.md").unlink()
    assert "bikes.md" not in await documents.run({"query": "bicycle chain", "k": 5})


def test_search_documents_is_offered_only_with_a_folder(tmp_path: Path) -> None:
    assert DocumentsTool().configure(Settings(cache_dir=tmp_path)) is None
