"""`ToolBox`: the tools one conversation may use, called the way a tool loop needs them called.

Built from the settings (`tools.enabled`, the sandbox's limits, the documents folder, the MCP
servers), it offers the tools' OpenAI specs and runs a call given as the model wrote it: a name and
a JSON string. Everything the model can get wrong (an unknown tool, broken JSON, arguments that do
not fit the schema, a failing computation, a timeout) comes back as an `Observation` with
`ok=False` and a message the model can act on; a bug in ponder or in a plugin is raised.
`run(ToolCall)` answers one of an assistant turn's `tool_calls` with the `role: tool` message the
next request carries.

MCP servers run while the box is open: `async with ToolBox(settings) as box: ...`. Without MCP
servers the box may be used without entering it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ponder.errors import BadRequest, ToolError
from ponder.tools.base import Configurable, Tool, tools
from ponder.types import Message, ToolCall

if TYPE_CHECKING:
    from ponder.config import Settings
    from ponder.tools.mcp import McpServer

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What OpenAI accepts as a function name."""


@dataclass(frozen=True)
class Observation:
    tool: str
    ok: bool
    content: str
    seconds: float

    def message(self, call_id: str) -> Message:
        """The `role: tool` turn that hands this observation back to the model."""
        return Message(role="tool", content=self.content, tool_call_id=call_id, name=self.tool)


class ToolBox:
    def __init__(self, settings: Settings, extra: Iterable[Tool] = ()) -> None:
        self.settings = settings
        self._tools: dict[str, Tool] = {}
        for name in settings.tools.enabled:
            found = tools.get(name)
            configured = found.configure(settings) if isinstance(found, Configurable) else found
            if configured is not None:
                self.add(configured)
        for t in extra:
            self.add(t)
        self._servers: list[McpServer] = []
        self._served: list[str] = []
        """Names of the tools the MCP servers brought, removed when they stop."""

    def add(self, tool: Tool) -> None:
        """Offer one more tool (a plugin's, or a sub-agent wrapped as a tool)."""
        if not NAME.match(tool.name):
            raise BadRequest(f"tool name {tool.name!r} is not allowed: use 1-64 letters, digits, '_' or '-'")
        if tool.name in self._tools:
            raise BadRequest(f"two tools are named {tool.name!r}")
        self._tools[tool.name] = tool

    async def __aenter__(self) -> ToolBox:
        from ponder.tools.mcp import McpServer

        self._servers = [McpServer(entry) for entry in self.settings.tools.mcp_servers]
        started = await asyncio.gather(*(s.start() for s in self._servers), return_exceptions=True)
        failures = [r for r in started if isinstance(r, BaseException)]
        if failures:
            await self.aclose()
            raise failures[0]
        for listed in started:
            for t in [] if isinstance(listed, BaseException) else listed:
                self.add(t)
                self._served.append(t.name)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        servers, self._servers = self._servers, []
        await asyncio.gather(*(s.close() for s in servers))
        for name in self._served:
            self._tools.pop(name, None)
        self._served = []

    def extended(self, extra: Iterable[Tool]) -> ToolBox:
        """This box's tools plus `extra`, for one request (a `delegate` tool); the MCP servers stay this box's."""
        view = ToolBox.__new__(ToolBox)
        view.settings, view._tools, view._servers = self.settings, dict(self._tools), []
        for t in extra:
            view.add(t)
        return view

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def specs(self) -> list[dict[str, Any]]:
        """Every tool in the OpenAI `tools` shape, ready for a request or a chat template."""
        return [t.spec() for t in self._tools.values()]

    async def call(self, name: str, arguments_json: str, timeout: float | None = None) -> Observation:
        """Run one call as the model wrote it; never raises for the model's mistakes."""
        start = time.perf_counter()

        def seen(ok: bool, content: str) -> Observation:
            limit = self.settings.tools.output_bytes
            if len(content) > limit:
                content = content[:limit] + f"\n[… cut at {limit:,} characters]"
            return Observation(name, ok, content, time.perf_counter() - start)

        tool = self._tools.get(name)
        if tool is None:
            return seen(False, f"there is no tool named {name!r}; the tools are: {', '.join(self._tools) or '(none)'}")
        # The sandbox stops itself at tools.timeout with a precise reason; this is the backstop.
        limit = timeout if timeout is not None else self.settings.tools.timeout + 1.0
        deadline = asyncio.timeout(limit)
        try:
            arguments = _arguments(name, arguments_json)
            async with deadline:
                content = await tool.run(arguments)
        except ToolError as exc:
            return seen(False, exc.message)
        except TimeoutError as exc:
            if deadline.expired():
                return seen(False, f"{name} did not finish within {limit:g} s and was stopped")
            return seen(False, f"{name} timed out: {exc}")
        return seen(True, content)

    async def run(self, call: ToolCall, timeout: float | None = None) -> Message:
        """Answer one of the assistant's `tool_calls` with the `role: tool` turn for the next request."""
        observation = await self.call(call.name, call.arguments, timeout)
        return observation.message(call.id)


def _arguments(name: str, arguments_json: str) -> dict[str, Any]:
    text = arguments_json.strip() or "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(
            f"the arguments for {name} are not valid JSON ({exc.msg} at character {exc.pos}); "
            'send one JSON object, e.g. {"expression": "2+2"}'
        ) from None
    if not isinstance(value, dict):
        raise ToolError(f"the arguments for {name} must be a JSON object, not {type(value).__name__}")
    return value
