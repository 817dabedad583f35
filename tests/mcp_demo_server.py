"""A tiny stdio MCP server for the tests: `python tests/mcp_demo_server.py`."""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("demo", log_level="ERROR")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(name="shout.loud")
def shout(text: str) -> str:
    """Upper-case a text (its name has a dot, which OpenAI function names do not allow)."""
    return text.upper()


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


@server.tool()
def crash() -> str:
    """Exit without answering (a server that dies during a call)."""
    os._exit(1)


if __name__ == "__main__":
    server.run("stdio")
