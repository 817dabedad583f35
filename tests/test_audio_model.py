"""Speech recognition on the real packaged Whisper models, through the OpenAI SDK and the CLI.

The fixtures in tests/data were spoken once by espeak-ng and committed (Opus, a few KB each). The
language model is the fake backend, so what is tested is the sound's way in: what the LLM is asked
is what was said.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletionContentPartInputAudioParam, ChatCompletionMessageParam

from ponder.backends.fake import FakeBackend
from ponder.cli.main import cli
from ponder.config import Settings, default_cache_dir
from ponder.media.speech import transcribe_bytes
from ponder.server.app import create_app
from tests.conftest import fake_settings
from tests.e2e import ponder_server

pytestmark = pytest.mark.model

DATA = Path(__file__).parent / "data"
CAPITAL = (DATA / "capital-of-france.ogg").read_bytes()


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def speech_settings(tmp_path: Path, **guard: object) -> Settings:
    """The fake LLM, the real Whisper models from the machine's cache (`ponder models pull whisper-…`).

    whisper-tiny.en is the speech model (`whisper-1`): it hears espeak-ng's English best (see bench.speech).
    """
    settings = fake_settings(tmp_path, guard=guard or None)
    settings.cache_dir = default_cache_dir()
    settings.audio.model = "whisper-tiny.en"
    return settings


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[openai.OpenAI, FakeBackend]]:
    settings = speech_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        sdk = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)
        yield sdk, client.app.state.assistant._backends["fake"]  # type: ignore[attr-defined]


def test_tiny_en_transcribes_the_fixture(tmp_path: Path) -> None:
    t = transcribe_bytes(speech_settings(tmp_path), CAPITAL, model="whisper-tiny.en")
    assert words(t.text) == "what is the capital of france"
    assert t.language == "en" and t.format == "ogg"
    assert 2.0 < t.duration < 2.6


def test_base_detects_french(tmp_path: Path) -> None:
    t = transcribe_bytes(speech_settings(tmp_path), (DATA / "bonjour-fr.ogg").read_bytes(), model="whisper-base")
    assert t.language == "fr"
    # The words themselves vary with the CPU's int8 kernels ("Bonjour" was heard as "Moujou" on one
    # machine, "plaît" written without its accent on another); the French ones that carry the question
    # are heard on every machine seen so far, accents aside.
    heard = unicodedata.normalize("NFKD", t.text.lower()).encode("ascii", "ignore").decode()
    assert "capitale" in heard and "s'il vous plait" in heard


def test_sdk_transcriptions_in_every_format(served: tuple[openai.OpenAI, FakeBackend]) -> None:
    sdk, _ = served
    audio = ("question.ogg", CAPITAL, "audio/ogg")
    plain = sdk.audio.transcriptions.create(model="whisper-1", file=audio)
    assert words(plain.text) == "what is the capital of france"
    verbose = sdk.audio.transcriptions.create(
        model="whisper-tiny.en", file=audio, response_format="verbose_json", language="en"
    )
    assert verbose.language == "en" and 2.0 < verbose.duration < 2.6
    assert verbose.segments and words(verbose.segments[0].text) == "what is the capital of france"
    text = sdk.audio.transcriptions.create(model="whisper-tiny.en", file=audio, response_format="text")
    assert words(str(text)) == "what is the capital of france"
    srt = sdk.audio.transcriptions.create(model="whisper-tiny.en", file=audio, response_format="srt")
    assert str(srt).startswith("1\n00:00:00,000 --> 00:00:0")
    vtt = sdk.audio.transcriptions.create(model="whisper-tiny.en", file=audio, response_format="vtt")
    assert str(vtt).startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_sdk_errors_are_openai_errors(served: tuple[openai.OpenAI, FakeBackend]) -> None:
    sdk, _ = served
    with pytest.raises(openai.BadRequestError, match="unknown speech model 'whisper-9'"):
        sdk.audio.transcriptions.create(model="whisper-9", file=("a.ogg", CAPITAL))
    with pytest.raises(openai.BadRequestError, match="is not audio ponder can read"):
        sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"not a sound at all"))


def test_spoken_question_reaches_the_model_as_its_transcript(served: tuple[openai.OpenAI, FakeBackend]) -> None:
    sdk, backend = served
    part: ChatCompletionContentPartInputAudioParam = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(CAPITAL).decode(), "format": "wav"},
    }
    r = sdk.chat.completions.create(
        model="fake",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Answer in one word."}, part]}],
        max_tokens=8,
    )
    assert r.choices[0].message.content
    prompt = backend.prompts[-1]
    heard = re.search(r"Spoken: (.*)\n", prompt)
    assert heard is not None, prompt
    assert words(heard.group(1)) == "what is the capital of france"
    assert prompt.index("Spoken:") < prompt.index("Answer in one word.")


def test_chat_reports_the_language_and_duration_it_heard(served: tuple[openai.OpenAI, FakeBackend]) -> None:
    """As verbose_json has them: `ponder.perception` in the answer, and the stream's perception chunk."""
    sdk, _ = served
    reply = sdk.chat.completions.create(model="fake", messages=_spoken("capital-of-france.ogg"))
    heard = (reply.model_extra or {})["ponder"]["perception"][0]
    assert heard["kind"] == "audio" and heard["item"] == 1 and heard["model"] == "whisper-tiny.en"
    assert heard["language"] == "en" and 0.5 < heard["language_probability"] <= 1.0
    assert 2.0 < heard["duration"] < 2.6 and words(heard["text"]) == "what is the capital of france"
    assert set(heard["timings"]) == {"decode", "recognise"} and heard["annotations"] == []
    chunks = list(sdk.chat.completions.create(model="fake", messages=_spoken("capital-of-france.ogg"), stream=True))
    streamed = [c.model_extra["ponder"]["perception"] for c in chunks if c.model_extra and "ponder" in c.model_extra]
    assert len(streamed) == 1
    assert {k: streamed[0][0][k] for k in ("language", "duration", "text")} == {
        k: heard[k] for k in ("language", "duration", "text")
    }


def _spoken(fixture: str) -> list[ChatCompletionMessageParam]:
    data = base64.b64encode((DATA / fixture).read_bytes()).decode()
    return [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}]}]


def test_guard_screens_what_was_said(tmp_path: Path) -> None:
    settings = speech_settings(tmp_path, judge=False)
    with TestClient(create_app(settings)) as client:
        harmful = client.post(
            "/v1/chat/completions", json={"model": "fake", "messages": _spoken("pipe-bomb-request.ogg")}
        )
        benign = client.post(
            "/v1/chat/completions", json={"model": "fake", "messages": _spoken("capital-of-france.ogg")}
        )
    refused = harmful.json()
    assert refused["ponder"]["safety"]["stage"] == "input"
    assert refused["ponder"]["safety"]["category"] in ("violent_crimes", "indiscriminate_weapons")
    assert "can't help" in refused["choices"][0]["message"]["content"]
    # The spoken form itself must not look like an attack: a benign spoken question is answered.
    answered = benign.json()
    assert "safety" not in answered.get("ponder", {}), answered
    assert answered["choices"][0]["message"]["content"].endswith("France?")  # the fake model quotes its prompt


def test_cli_transcribe_and_spoken_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('model = "fake"\n[guard]\nenabled = false\n[[models]]\nname = "fake"\nbackend = "fake"\n')
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    runner = CliRunner()
    fixture = str(DATA / "capital-of-france.ogg")
    result = runner.invoke(cli, ["transcribe", fixture, "--model", "whisper-tiny.en"])
    assert result.exit_code == 0, result.output
    assert words(result.stdout) == "what is the capital of france"
    assert "whisper-tiny.en · ogg" in result.stderr
    srt = runner.invoke(cli, ["transcribe", fixture, "--model", "whisper-tiny.en", "--format", "srt"])
    assert srt.stdout.startswith("1\n00:00:00,000 --> ")
    # The fake model quotes the end of its prompt, which is the spoken question's transcript.
    monkeypatch.setenv("PONDER_AUDIO__MODEL", "whisper-tiny.en")
    chat = runner.invoke(cli, ["chat", "--audio", fixture])
    assert chat.exit_code == 0, chat.output
    assert chat.stdout.strip().endswith("France?")


@pytest.fixture(scope="module")
def speech_server() -> Iterator[str]:
    args = ["--model", "smollm2-135m", "--no-guard-enabled", "--audio-model", "whisper-tiny.en"]
    with ponder_server(*args, "--engine-context", "1024") as url:
        yield url


def test_real_server_over_http(speech_server: str) -> None:
    """`ponder serve` on smollm2-135m: multipart upload and a spoken chat turn over a real socket."""
    sdk = openai.OpenAI(base_url=speech_server + "/v1", api_key="unused", max_retries=0)
    text = sdk.audio.transcriptions.create(model="whisper-tiny.en", file=("q.ogg", CAPITAL), response_format="text")
    assert words(str(text)) == "what is the capital of france"
    part: ChatCompletionContentPartInputAudioParam = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(CAPITAL).decode(), "format": "wav"},
    }
    r = sdk.chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": [part]}],
        max_tokens=16,
        temperature=0,
    )
    typed = sdk.chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": "Spoken: What is the capital of France?"}],
        max_tokens=16,
        temperature=0,
    )
    assert r.choices[0].message.content == typed.choices[0].message.content  # the model read the same turn
    assert r.usage is not None and typed.usage is not None and r.usage.prompt_tokens == typed.usage.prompt_tokens
