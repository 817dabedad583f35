"""One exception tree, so the edges (HTTP, CLI) can turn any failure into a message a person can act on.

Deep code raises these with a precise message; only the server and the CLI decide how they look.
Each class carries the HTTP status and OpenAI error `type`/`code` the server should use.
"""

from __future__ import annotations

from pydantic import ValidationError


class PonderError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class BadRequest(PonderError):
    status = 400
    type = "invalid_request_error"


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """Where the first problem of a pydantic error is (dotted path), and what it is."""
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]), first["msg"]


class UnknownPlugin(BadRequest):
    """A name looked up in a registry (model, mode, backend) that is not there; lists the valid ones."""

    code = "not_found"

    def __init__(self, kind: str, name: str, valid: list[str], *, param: str | None = None) -> None:
        self.kind, self.name, self.valid = kind, name, valid
        super().__init__(
            f"unknown {kind} {name!r}; valid {kind}s are: {', '.join(sorted(valid)) or '(none)'}",
            param=param,
        )


class WrongModelKind(BadRequest):
    """A model of the wrong kind for the endpoint: a speech model asked to chat, a chat model asked to transcribe."""

    code = "wrong_model_kind"


class ContextOverflow(BadRequest):
    code = "context_length_exceeded"


class PayloadTooLarge(PonderError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class QueueFull(PonderError):
    """The engine's waiting line is full; the caller should retry after `retry_after` seconds."""

    status = 503
    type = "server_error"
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendError(PonderError):
    status = 502
    type = "server_error"
    code = "backend_error"


class ModelNotInstalled(PonderError):
    """The packages that carry a model's weights are missing; the message holds the pip command."""

    status = 503
    code = "model_not_installed"


class ModelCorrupt(PonderError):
    code = "model_corrupt"


class ToolError(BadRequest):
    """A tool call the model got wrong (bad arguments, a failing computation, a timeout).

    `ToolBox` turns it into an observation for the model; only a caller outside a tool loop sees it raised.
    """

    code = "tool_error"
