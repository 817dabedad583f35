"""What a tool is, for every layer that offers tools to a model (the API, the agent loop, the CLI).

A tool has a name, a description and a JSON Schema for its arguments, and turns validated arguments
into observation text for the model. A mistake the *model* made (bad arguments, a failing
computation, a timeout) raises `ToolError`, which `ToolBox` hands back to the model as an
observation; any other exception is a bug in ponder or a plugin and propagates.

Whether a tool's output may carry text from outside (`outside_text`) decides how the guard reads it:
a document, a web page or another program's reply may hide instructions for the model, so it is
screened for prompt injection as well as harm; the output of ponder's own computations (calculator,
sandbox, units, dates) is derived from the model's own arguments, so it is screened for harm only.
A tool that does not say counts as reading outside text: the safe side.

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
    outside_text: bool
    """Whether the output may carry text from outside ponder (files, the web, another program), where
    instructions can be smuggled in; False only when it is computed from the call's own arguments."""

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


def carries_outside_text(tool: Tool) -> bool:
    """`tool.outside_text`; a tool written without it (a plugin older than the attribute) counts as True."""
    return getattr(tool, "outside_text", True) is not False


def openai_spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


tools: Registry[Tool] = Registry("tool", entry_point_group="ponder.tools")
tools.register("calculator", "ponder.tools.calculator:calculator")
tools.register("python", "ponder.tools.sandbox:python")
tools.register("search_documents", "ponder.tools.documents:search_documents")
tools.register("convert_units", "ponder.tools.units:convert_units")
tools.register("datetime", "ponder.tools.clock:datetime_tool")
