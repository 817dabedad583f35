"""Auto mode routes on the confidence of an instant attempt and says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend
from ponder.server.app import create_app
from ponder.types import Event, Message, Provenance, ReasoningDelta, SamplingParams, TextDelta, Usage
from tests.conftest import fake_settings

ASK = [Message(role="user", content="What is 2 + 2?")]
SURE = {"logprob": -0.01, "alt": -9.0}
DOUBT = {"logprob": -0.15, "alt": -2.0}  # p = 0.86: between the thresholds
LOST = {"logprob": -1.5, "alt": -1.6}


async def auto(tmp_path: Path, scripts: list[Any]) -> tuple[list[Event], FakeBackend]:
    assistant = Assistant(fake_settings(tmp_path, scripts=scripts))
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    options = {"agents": 2, "warmup": 2, "window": 2}
    events = [e async for e in assistant.run(assistant.plan("ponder-auto"), ASK, SamplingParams(), 1, options)]
    return events, backend


def chose(events: list[Event]) -> str:
    return str(next(e for e in events if isinstance(e, Provenance) and e.mode == "auto").report["chose"])


async def test_a_confident_instant_answer_stands(tmp_path: Path) -> None:
    events, backend = await auto(tmp_path, [{"text": "It is 4.", **SURE}])
    assert chose(events) == "instant" and len(backend.prompts) == 1
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 4."
    assert [e for e in events if isinstance(e, Usage)][-1].completion_tokens == 3


async def test_mild_doubt_thinks(tmp_path: Path) -> None:
    events, backend = await auto(tmp_path, [{"text": "It is 5.", **DOUBT}, "2 and 2 </think>", "It is 4."])
    assert chose(events) == "thinking" and len(backend.prompts) == 3
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 4."
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "2 and 2 "
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.completion_tokens == 3 + 4 + 3  # the probe counts too


async def test_deep_doubt_contemplates(tmp_path: Path) -> None:
    scripts = [{"text": "It is 5.", **LOST}, {"text": "a </think> 4", **SURE}, {"text": "b </think> 4", **SURE}]
    events, _ = await auto(tmp_path, scripts)
    assert chose(events) == "contemplate"
    assert any(isinstance(e, Provenance) and e.mode == "contemplate" for e in events)


def test_auto_report_in_the_api(tmp_path: Path) -> None:
    scripts = [{"text": "It is 5.", **LOST}, {"text": "a </think> 4", **SURE}, {"text": "b </think> 4", **SURE}]
    with TestClient(create_app(fake_settings(tmp_path, scripts=scripts))) as c:
        body = c.post(
            "/v1/chat/completions",
            json={"model": "ponder-auto", "messages": [{"role": "user", "content": "2+2?"}], "ponder": {"agents": 2}},
        ).json()
    assert body["ponder"]["chose"] == "contemplate" and "confidence" in body["ponder"]["reason"]
    assert len(body["ponder"]["contemplate"]["agents"]) == 2


def test_bad_options_are_a_400_before_anything_runs(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path, scripts=["never asked"])
    with TestClient(create_app(settings)) as client:
        for options, where in (({"instant_above": 5}, "instant_above"), ({"agents": 0}, "agents")):
            body = {"model": "ponder-auto", "messages": [{"role": "user", "content": "2+2?"}], "ponder": options}
            r = client.post("/v1/chat/completions", json=body)
            assert r.status_code == 400 and where in r.json()["error"]["message"], r.text
