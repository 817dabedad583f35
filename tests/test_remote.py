"""The remote backend against a recording OpenAI-compatible server: what each engine is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ponder.backends.remote import RemoteBackend
from ponder.config import ModelEntry, Settings
from ponder.models import resolve
from ponder.types import Completion, SamplingParams


class Recorder(BaseHTTPRequestHandler):
    """Answers every `/v1/completions` with one streamed "ok" and keeps the request body."""

    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        chunks = [
            {"id": "c", "object": "text_completion", "created": 0, "model": "m",
             "choices": [{"index": 0, "text": "ok", "finish_reason": "stop", "logprobs": None}]},
            {"id": "c", "object": "text_completion", "created": 0, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
        ]  # fmt: skip
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


GRAMMAR = 'root ::= "yes" | "no"'


@pytest.mark.parametrize(
    ("dialect", "sent"),
    [
        ("llama.cpp", {"grammar": GRAMMAR}),
        ("vllm", {"structured_outputs": {"grammar": GRAMMAR}}),
        ("vllm-guided", {"guided_grammar": GRAMMAR}),
        ("sglang", {"ebnf": GRAMMAR}),
        ("none", {}),
    ],
)
async def test_each_engine_gets_the_grammar_where_it_reads_it(
    server: str, tmp_path: Path, dialect: str, sent: dict[str, Any]
) -> None:
    entry = ModelEntry(name="cluster", endpoint=server, remote_name="m", grammar=dialect)
    settings = Settings(cache_dir=tmp_path, models=[entry])
    backend = RemoteBackend(resolve(settings, "cluster"), settings)
    items = [i async for i in backend.stream("Is it?", SamplingParams(max_tokens=4, grammar=GRAMMAR))]
    await backend.aclose()
    assert isinstance(items[-1], Completion) and items[-1].text == "ok"
    (body,) = Recorder.bodies
    fields = {"grammar", "structured_outputs", "guided_grammar", "ebnf"}
    assert {k: v for k, v in body.items() if k in fields} == sent
    assert body["prompt"] == "Is it?" and body["model"] == "m"


def test_an_unknown_dialect_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="grammar"):
        ModelEntry(name="x", endpoint="http://h/v1", grammar="tgi")
