"""One settings tree: defaults < config file < PONDER_* environment < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ponder.cli.options import settings_from_flags
from ponder.config import ModelEntry, Settings
from ponder.errors import UnknownPlugin
from ponder.models import resolve


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('model = "smollm2-135m"\n[engine]\nparallel = 2\ncontext = 1024\n')
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    s = Settings()
    assert (s.model, s.engine.parallel, s.engine.context) == ("smollm2-135m", 2, 1024)
    monkeypatch.setenv("PONDER_ENGINE__PARALLEL", "6")
    s = Settings()
    assert (s.engine.parallel, s.engine.context) == (6, 1024)
    s = settings_from_flags({"setting__engine__parallel": 8, "setting__server__port": None, "setting__model": None})
    assert (s.model, s.engine.parallel, s.engine.context, s.server.port) == ("smollm2-135m", 8, 1024, 8000)


def test_user_models_in_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[[models]]\nname = "mine"\npath = "/models/mine.gguf"\ntemplate = "chatml"\n\n'
        '[[models]]\nname = "cluster"\nendpoint = "http://gpu-box:8000/v1"\nremote_name = "Qwen/Qwen2.5-7B-Instruct"\n'
    )
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    s = Settings()
    mine, cluster = resolve(s, "mine"), resolve(s, "cluster")
    assert (mine.backend, mine.path) == ("llama", Path("/models/mine.gguf"))
    assert (cluster.backend, cluster.remote_name) == ("openai", "Qwen/Qwen2.5-7B-Instruct")
    with pytest.raises(UnknownPlugin, match="cluster, mine"):
        resolve(s, "other")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="exactly one of `path` or `endpoint`"):
        ModelEntry(name="x")
    with pytest.raises(ValidationError):
        Settings(engine={"parallel": 0})
    with pytest.raises(ValidationError):
        Settings(engine={"paralel": 2})  # a typo is an error, not silently ignored
