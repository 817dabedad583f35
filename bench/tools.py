"""`python -m bench.tools`: what calling a tool costs, printed and written to bench/results/tools.json.

- the Python sandbox: wall time of a trivial run (a fresh interpreter, limits, audit hook, network
  namespace where available), median and max over `--runs`;
- the calculator on a compound-interest expression, median over 1000 calls;
- search_documents over a folder built from this repository's README and module docstrings (real
  prose, cut into passages): the first index build, a rebuild after one file changed, and a query.

Figures only; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ponder.config import Settings
from ponder.tools.calculator import calculate
from ponder.tools.documents import DocumentsTool, index_for
from ponder.tools.sandbox import Limits, namespaces_available, run_python

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"


def corpus(folder: Path) -> int:
    """README.md plus one Markdown file per ponder module docstring; returns the number of files."""
    (folder / "README.md").write_text((ROOT / "README.md").read_text())
    count = 1
    for module in sorted((ROOT / "ponder").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(module.read_text()))
        if doc:
            name = module.relative_to(ROOT).with_suffix(".md").as_posix().replace("/", "_")
            (folder / name).write_text(f"# {module.relative_to(ROOT)}\n\n{doc}\n")
            count += 1
    return count


async def main(runs: int) -> dict[str, Any]:
    sandbox = []
    for _ in range(runs):
        start = time.perf_counter()
        await run_python("print(sum(range(10)))", Limits())
        sandbox.append(time.perf_counter() - start)
    expression = "1000 * (1 + 0.05/12)^(12*10)"
    calc = []
    for _ in range(1000):
        start = time.perf_counter()
        calculate(expression)
        calc.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        folder, cache = Path(tmp, "docs"), Path(tmp, "cache")
        folder.mkdir()
        files = corpus(folder)
        tool = DocumentsTool().configure(Settings(tools={"documents": folder}, cache_dir=cache))
        assert tool is not None and tool.folder is not None and tool.cache is not None  # a folder is configured
        start = time.perf_counter()
        await tool.run({"query": "warm-up"})
        build = time.perf_counter() - start
        index = index_for(tool.folder, tool.cache)
        passages = len(index.passages)
        (folder / "README.md").write_text((folder / "README.md").read_text() + "\n\nOne more paragraph.\n")
        start = time.perf_counter()
        await tool.run({"query": "warm-up"})
        rebuild, re_embedded = time.perf_counter() - start, index.embedded
        queries = []
        for q in ("how does the sandbox stop network access", "which models are packaged", "guard categories"):
            start = time.perf_counter()
            await tool.run({"query": q, "k": 5})
            queries.append(time.perf_counter() - start)
    return {
        "sandbox_runs": runs,
        "sandbox_namespaces": namespaces_available(),
        "sandbox_median_s": statistics.median(sandbox),
        "sandbox_max_s": max(sandbox),
        "calculator_median_ms": statistics.median(calc) * 1000,
        "search_files": files,
        "search_passages": passages,
        "search_first_build_s": build,
        "search_rebuild_after_one_change_s": rebuild,
        "search_rebuild_embedded_passages": re_embedded,
        "search_query_median_ms": statistics.median(queries) * 1000,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="sandbox runs to time")
    figures = asyncio.run(main(parser.parse_args().runs))
    for key, value in figures.items():
        print(f"{key:36} {value:.3f}" if isinstance(value, float) else f"{key:36} {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tools.json").write_text(json.dumps(figures, indent=2) + "\n")
