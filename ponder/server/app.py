"""`create_app(settings)`: the OpenAI-compatible server and the web page, as an app factory.

A factory rather than a module-level app, so each test builds its own app with its own settings.
Every failure leaves as an OpenAI-shaped JSON error: 400 for a bad request (including malformed
JSON), 413 for an oversized body, 503 with `Retry-After` when the queue is full. Never a bare 500
for something the client did.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ponder import __version__
from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.errors import PayloadTooLarge, PonderError, QueueFull, UnknownPlugin
from ponder.models import ModelKind
from ponder.server.audio import router as audio_router
from ponder.server.protocol import ChatCompletionRequest, CompletionRequest, error_body
from ponder.server.serving import Serving

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def error_json(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, PonderError):
        return error_body(exc.message, exc.type, exc.code, exc.param)
    return error_body(f"internal error: {exc}", "server_error", "internal_error")


def _error_response(exc: PonderError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QueueFull) else None
    return JSONResponse(error_json(exc), status_code=exc.status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"the request body is not valid JSON: {first.get('ctx', {}).get('error', 'parse error')}", None
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    where = ".".join(loc)
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where + ': ' if where else ''}{first.get('msg', 'invalid value')}{more}", where or None


class BodyLimit:
    """Refuse request bodies over `limit` bytes with a 413, whether or not they declare a length."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        # No trustworthy length: read the body here (it is small by definition) and replay it.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._reject(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.limit} bytes (server.max_body_bytes)"

    async def _reject(self, scope: Scope, receive: Any, send: Any) -> None:
        response = _error_response(PayloadTooLarge(self._message()))
        await response(scope, receive, send)


def create_app(settings: Settings, assistant: Assistant | None = None, *, preload: bool = True) -> FastAPI:
    assistant = assistant or Assistant(settings)
    serving = Serving(assistant, error_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if preload:
            await assistant.backend(settings.model)  # load the served model before taking requests
        yield
        await assistant.aclose()

    app = FastAPI(title="ponder", version=__version__, lifespan=lifespan)
    app.state.assistant = assistant
    app.add_middleware(BodyLimit, limit=settings.server.max_body_bytes)

    @app.exception_handler(PonderError)
    async def _ponder_error(request: Request, exc: PonderError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return JSONResponse(error_body(message, "invalid_request_error", "invalid_request", param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail), "invalid_request_error"), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse(error_json(exc), status_code=500)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(req: ChatCompletionRequest, request: Request) -> Response:
        return await serving.chat(req, request)

    @app.post("/v1/completions", response_model=None)
    async def completions(req: CompletionRequest, request: Request) -> Response:
        return await serving.complete(req, request)

    app.include_router(audio_router)

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(m, k) for m, k in assistant.model_kinds().items()]}

    @app.get("/v1/models/{model_id}")
    async def get_model(model_id: str) -> dict[str, Any]:
        kinds = assistant.model_kinds()
        if model_id not in kinds:
            raise UnknownPlugin("model", model_id, list(kinds), param="model")
        return _model_card(model_id, kinds[model_id])

    @app.get("/health")
    async def health() -> dict[str, Any]:
        engines = {}
        for name in assistant.loaded():
            backend = await assistant.backend(name)
            stats = getattr(getattr(backend, "engine", None), "stats", None)
            engines[name] = stats() if stats else {}
        return {"status": "ok", "version": __version__, "model": settings.model, "loaded": engines, **_memory()}

    page = resources.files("ponder.server").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app


def _memory() -> dict[str, float]:
    """This process's peak and current resident memory, in MB.

    `VmHWM` belongs to this process's own address space; `ru_maxrss` would also count a parent's peak
    before `exec` (it survives execve on Linux), so it is only the fallback where /proc is missing.
    """
    try:
        status = Path("/proc/self/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {"peak_rss_mb": int(fields["VmHWM"].split()[0]) / 1024, "rss_mb": int(fields["VmRSS"].split()[0]) / 1024}
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"peak_rss_mb": peak, "rss_mb": peak}


def _model_card(model_id: str, kind: ModelKind) -> dict[str, Any]:
    """OpenAI's model object, plus `kind` (`chat` or `speech`) so a client can tell which endpoint takes it."""
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "ponder", "kind": kind}
