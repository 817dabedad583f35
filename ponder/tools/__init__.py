"""Tools the model can call: the `Tool` Protocol and registry, `@tool`, the built-ins, the sandbox, MCP.

Importing this package is cheap: built-ins register lazily as "module:attr", so the embedding model
behind `search_documents` and the MCP client load only when a `ToolBox` needs them.
"""

from ponder.tools.base import Configurable, Tool, tools

__all__ = ["Configurable", "Tool", "tools"]
