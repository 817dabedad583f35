"""What a tool is, for every layer that offers tools to a model (the API, the agent loop, the CLI).

A tool has a name, a description and a JSON Schema for its arguments, and turns validated arguments
into observation text for the model. A mistake the *model* made (bad arguments, a failing
computation, a timeout) raises `ToolError`, which `ToolBox` hands back to the model as an
observation; any other exception is a bug in ponder or a plugin and propagates.

Built-ins register in `tools` exactly like a third-party plugin would (entry-point group
`ponder.tools`), lazily by "module:attr". A tool that needs the user's settings (the sandbox's limits,
the documents folder) also implements `Configurable`, and `ToolBox` asks it for a configured copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ponder.registry import Registry

if TYPE_CHECKING:
    from ponder.config import Settings


class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]
    """A JSON Schema object describing the arguments."""

    def spec(self) -> dict[str, Any]:
        """The OpenAI tool shape: {"type": "function", "function": {"name", "description", "parameters"}}."""
        ...

    async def run(self, arguments: dict[str, Any]) -> str:
        """The observation text for the model; raises `ToolError` for a mistake the model made."""
        ...


@runtime_checkable
class Configurable(Protocol):
    def configure(self, settings: Settings) -> Tool | None:
        """This tool set up with the user's settings (limits, folders); None when they leave it nothing to do."""
        ...


def openai_spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


tools: Registry[Tool] = Registry("tool", entry_point_group="ponder.tools")
tools.register("calculator", "ponder.tools.calculator:calculator")
tools.register("python", "ponder.tools.sandbox:python")
tools.register("search_documents", "ponder.tools.documents:search_documents")
tools.register("convert_units", "ponder.tools.units:convert_units")
tools.register("datetime", "ponder.tools.clock:datetime_tool")
