"""`ponder tools`: a listing, and one call printed as the model would see it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ponder.cli.main import cli


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "plants.md").write_text("# Ferns\n\nFerns like shade and damp soil.\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'cache_dir = "{tmp_path}"\n[tools]\ndocuments = "{tmp_path / "notes"}"\n')
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    return CliRunner()


def test_lists_the_tools(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["tools"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip() and line[1] != " "]
    assert names[:5] == ["calculator", "python", "search_documents", "convert_units", "datetime"]
    assert "Evaluate an arithmetic expression exactly." in result.stdout


def test_calls_one(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["tools", "call", "calculator", '{"expression": "2^64"}'])
    assert result.exit_code == 0 and result.stdout == "18446744073709551616\n"
    found = runner.invoke(cli, ["tools", "call", "search_documents", '{"query": "shade", "k": 1}'])
    assert found.exit_code == 0 and found.stdout.startswith("[1] plants.md lines 1-3\n")


def test_a_failed_call_is_one_line_and_exit_1(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["tools", "call", "calculator", '{"expression": "1/0"}'])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "calculator failed: division by zero"
    flagged = runner.invoke(cli, ["tools", "--tools-cpu-seconds", "0", "call", "python", "{}"])
    assert flagged.exit_code == 1 and "invalid setting tools.cpu_seconds" in flagged.stderr
