"""Tools from any stdio MCP server the user lists in `tools.mcp_servers`, offered as `SERVER__TOOL`.

OpenAI function names allow only letters, digits, `_` and `-`, so the server's name and the tool's
are joined with `__`. Each server runs as a subprocess for as long as its `ToolBox` is open; its
connection lives in a task of its own, so the box may be opened and closed from different tasks
(the MCP client's anyio scopes must be left in the task that entered them). Arguments are checked
against the tool's own input schema before the call (the model is shown it without titles or
`$ref`s, like a `@tool`'s); a server's error result becomes a `ToolError`, and so does a server that
dies or breaks the protocol during a call (the model reads it as an observation).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import TYPE_CHECKING, Any

import anyio
import jsonschema
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from ponder.errors import BadRequest, ToolError
from ponder.tools.base import openai_spec
from ponder.tools.decorator import plain_schema, usage

if TYPE_CHECKING:
    from ponder.config import McpServerEntry

START_TIMEOUT = 30.0


def _tool_name(server: str, tool: str) -> str:
    return f"{server}__{re.sub(r'[^A-Za-z0-9_-]', '_', tool)}"[:64]


def _text(content: list[Any]) -> str:
    parts = []
    for c in content:
        if isinstance(c, mcp_types.TextContent):
            parts.append(c.text)
        else:  # images, audio, resources: a text model can only be told they exist
            parts.append(f"[{getattr(c, 'type', 'content')} {getattr(c, 'mime_type', '') or ''}]".replace(" ]", "]"))
    return "\n".join(parts)


class McpTool:
    """One tool of a running MCP server."""

    outside_text = True
    """Whatever the server returns comes from another program, which may have read anything."""

    def __init__(self, server: McpServer, tool: mcp_types.Tool) -> None:
        self.server, self.remote_name = server, tool.name
        self.name = _tool_name(server.name, tool.name)
        self.description = tool.description or tool.title or f"{tool.name} (from the {server.name} MCP server)"
        self.schema: dict[str, Any] = dict(tool.input_schema or {"type": "object", "properties": {}})
        self.parameters = plain_schema(self.schema)

    def spec(self) -> dict[str, Any]:
        return openai_spec(self.name, self.description, self.parameters)

    async def run(self, arguments: dict[str, Any]) -> str:
        try:
            jsonschema.validate(arguments, self.schema)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "arguments"
            how = usage(self.name, self.parameters)
            raise ToolError(f"invalid arguments for {self.name}: {where}: {exc.message}. {how}") from None
        try:
            result = await self.server.client().call_tool(self.remote_name, arguments)
        except (MCPError, anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            # The server died or broke the protocol: the model is told, as with any failing tool.
            raise ToolError(f"the {self.server.name} MCP server failed during the call: {_reason(exc)}") from None
        text = _text(result.content)
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content, ensure_ascii=False)
        if result.is_error:
            raise ToolError(text or f"{self.name} failed")
        return text


class McpServer:
    """A stdio MCP server, started by `start()` and stopped by `close()`."""

    def __init__(self, entry: McpServerEntry) -> None:
        self.name = entry.name
        self.params = StdioServerParameters(command=entry.command, args=list(entry.args), env=dict(entry.env) or None)
        self._client: Client | None = None
        self._ready: asyncio.Future[list[McpTool]] | None = None
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def client(self) -> Client:
        if self._client is None:
            raise ToolError(f"the {self.name} MCP server is not running")
        return self._client

    async def start(self, timeout: float = START_TIMEOUT) -> list[McpTool]:
        """Launch the server and list its tools; `BadRequest` saying why when it cannot be reached."""
        self._ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._serve(), name=f"mcp:{self.name}")
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except TimeoutError:
            await self.close()
            raise BadRequest(f"MCP server {self.name!r} did not answer within {timeout:g} s") from None

    async def _serve(self) -> None:
        assert self._ready is not None  # set by start()
        try:
            # The server's stderr goes to ours, the real one: `sys.stderr` may be a wrapper with no fd.
            async with Client(stdio_client(self.params, errlog=sys.__stderr__ or sys.stderr)) as client:
                self._client = client
                listed: list[McpTool] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    listed += [McpTool(self, t) for t in page.tools]
                    if not (cursor := page.next_cursor):
                        break
                self._ready.set_result(listed)
                await self._closing.wait()
        except Exception as exc:
            if not self._ready.done():
                command = " ".join([self.params.command, *self.params.args])
                self._ready.set_exception(BadRequest(f"MCP server {self.name!r} ({command}) failed: {_reason(exc)}"))
        finally:
            self._client = None

    async def close(self) -> None:
        self._closing.set()
        if self._task is not None:
            await self._task
            self._task = None


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
