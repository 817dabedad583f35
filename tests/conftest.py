"""Shared fixtures: settings isolated from the developer's own config, and a fake-backed app."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ponder.config import ModelEntry, Settings
from ponder.server.app import create_app
from tests.e2e import ponder_server


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the machine's config file or PONDER_* variables."""
    import os

    for key in list(os.environ):
        if key.startswith("PONDER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PONDER_CONFIG", str(tmp_path_factory.mktemp("cfg") / "absent.toml"))


def fake_settings(tmp_path: Path, guard: Mapping[str, object] | None = None, **options: object) -> Settings:
    """Settings over the fake backend; the guard is off unless a test turns it on (`guard={...}`). The
    model's majority (`guard.majority_openings`) is off too unless the test sets it: the fake answers each
    call from its queue of scripts, and eight sampled openings would take eight of them."""
    return Settings(
        model="fake",
        guard={"majority_openings": 0, **guard} if guard else {"enabled": False},
        cache_dir=tmp_path,
        models=[ModelEntry(name="fake", backend="fake", template="chatml", context=256, options=dict(options))],
        reasoning={"budget_low": 4, "budget_medium": 8, "budget_high": 16},
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fake_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="session")
def model_server() -> Iterator[str]:
    """One real `ponder serve` on smollm2-135m for every end-to-end test: 4 slots, 2 may wait."""
    args = ["--model", "smollm2-135m", "--engine-parallel", "4", "--engine-max-queue", "2", "--no-guard-enabled"]
    with ponder_server(*args, "--engine-context", "1024", "--server-max-body-bytes", "200000") as base:
        yield base
