"""`ponder tools` (list what the model may call) and `ponder tools call NAME ARGS` (run one call).

Thin over `ToolBox`: the listing is its specs, the call is `ToolBox.call` with the JSON as given;
a failed call prints the observation the model would have seen on stderr and exits 1.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ponder.cli.common import err, errors, out
from ponder.cli.options import settings_from_flags, settings_options
from ponder.config import Settings


def _summary(description: str) -> str:
    first = description.split(". ")[0].split(": ")[0].strip()
    return first if first.endswith(".") else first + "."


@click.group("tools", invoke_without_command=True)
@settings_options
@click.pass_context
def tools_command(ctx: click.Context, /, **kwargs: Any) -> None:
    """List the tools the model may call (built-ins, plugins, MCP servers)."""
    with errors():
        settings = settings_from_flags(kwargs)
        ctx.obj = settings
        if ctx.invoked_subcommand is not None:
            return
        specs = asyncio.run(_specs(settings))
        table = Table("name", "description", box=None)
        for spec in specs:
            table.add_row(spec["function"]["name"], _summary(spec["function"]["description"]))
        out.print(table)
        out.print('[dim]run one with: ponder tools call NAME \'{"argument": "value"}\'[/dim]')


async def _specs(settings: Settings) -> list[dict[str, Any]]:
    from ponder.tools.box import ToolBox

    async with ToolBox(settings) as box:
        return box.specs()


@tools_command.command("call")
@click.argument("name")
@click.argument("arguments", default="{}")
@click.option("--timeout", type=float, help="Seconds the call may take (default: tools.timeout).")
@click.pass_obj
def call(settings: Settings, name: str, arguments: str, timeout: float | None) -> None:
    """Run tool NAME with ARGUMENTS (a JSON object) and print what the model would see."""
    from ponder.tools.box import ToolBox

    async def run() -> Any:
        async with ToolBox(settings) as box:
            return await box.call(name, arguments, timeout)

    with errors():
        observation = asyncio.run(run())
        if not observation.ok:
            message = f"[red]{escape(name)} failed:[/red] {escape(observation.content)}"
            err.print(message, highlight=False, soft_wrap=True)
            raise SystemExit(1)
        out.print(observation.content.rstrip("\n"), highlight=False, soft_wrap=True, markup=False)
