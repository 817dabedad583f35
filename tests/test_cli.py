"""The CLI: answers on stdout, thinking apart on stderr, one-line errors with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ponder.cli.main import cli


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'model = "fake"\ncache_dir = "{tmp_path}"\n[reasoning]\nbudget_low = 3\n[guard]\nenabled = false\n'
        '[[models]]\nname = "fake"\nbackend = "fake"\n'
        'options = { scripts = ["weighing it </think>", "Forty-two."] }\n'
    )
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    return CliRunner()


def test_one_shot_thinking(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["chat", "What is 6x7?", "--mode", "thinking"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Forty-two."
    assert "weighing it" in result.stderr and "Forty-two" not in result.stderr


def test_settings_flags_reach_the_run(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["chat", "q", "--effort", "low", "--reasoning-budget-low", "1"])
    assert result.exit_code == 0, result.output
    assert "weighing" in result.stderr and "weighing it" not in result.stderr  # a one-token budget


def test_interactive_keeps_the_conversation(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["chat"], input="first question\nsecond question\n\n")
    assert result.exit_code == 0, result.output
    assert "weighing it </think>" in result.stdout and "Forty-two." in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chat", "q", "--model", "gpt-4o"], "unknown model 'gpt-4o'"),
        (["chat", "q", "--mode", "dreaming"], "unknown mode 'dreaming'"),
        (["chat", "q", "--engine-parallel", "0"], "invalid setting engine.parallel"),
        (["models", "pull", "llama-70b"], "unknown model 'llama-70b'"),
    ],
)
def test_errors_are_one_line(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_models_lists_catalogue(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["models"])
    assert result.exit_code == 0
    for name in ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m", "fake"):
        assert name in result.stdout


def test_broken_config_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("model = \n")
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    result = CliRunner().invoke(cli, ["chat", "q"])
    assert result.exit_code == 1 and "is not valid TOML" in result.stderr and "Traceback" not in result.output
