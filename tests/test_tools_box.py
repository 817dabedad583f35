"""ToolBox: the model's mistakes come back as observations it can act on; our bugs are raised."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from ponder.config import Settings
from ponder.errors import BadRequest, ToolError, UnknownPlugin
from ponder.tools import tools
from ponder.tools.box import ToolBox
from ponder.tools.decorator import tool

DEMO_SERVER = Path(__file__).with_name("mcp_demo_server.py")


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b.

    Args:
        a: The dividend.
        b: The divisor.
    """
    if b == 0:
        raise ToolError("cannot divide by zero; check the divisor")
    return a / b


@tool
async def nap(seconds: float) -> str:
    """Sleep a while."""
    await asyncio.sleep(seconds)
    return "rested"


@tool
def buggy() -> str:
    """A tool with a bug in it."""
    raise KeyError("our own mistake")


@pytest.fixture
def box(tmp_path: Path) -> ToolBox:
    return ToolBox(Settings(cache_dir=tmp_path, tools={"enabled": ["calculator"]}), extra=[divide, nap, buggy])


async def test_a_good_call(box: ToolBox) -> None:
    seen = await box.call("divide", '{"a": 7, "b": 2}')
    assert (seen.tool, seen.ok, seen.content) == ("divide", True, "3.5") and seen.seconds >= 0


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("multiply", "{}", "there is no tool named 'multiply'; the tools are: calculator, divide, nap, buggy"),
        ("divide", '{"a": 1, "b": ', "not valid JSON (Expecting value at character 13)"),
        ("divide", "[1, 2]", "must be a JSON object, not list"),
        ("divide", '{"a": 1}', "invalid arguments for divide: b: Field required"),
        ("divide", '{"x": 1, "b": 2}', 'x: Extra inputs are not permitted. divide takes {"a": number, "b": number}'),
        ("divide", '{"a": "one", "b": 2}', "invalid arguments for divide: a: Input should be a valid number"),
        ("divide", '{"a": 1, "b": 0}', "cannot divide by zero; check the divisor"),
        ("calculator", '{"expression": "2 +"}', "cannot parse '2 +'"),
    ],
)
async def test_mistakes_become_observations(box: ToolBox, name: str, arguments: str, message: str) -> None:
    seen = await box.call(name, arguments)
    assert not seen.ok and message in seen.content


async def test_a_timeout_becomes_an_observation(box: ToolBox) -> None:
    seen = await box.call("nap", '{"seconds": 30}', timeout=0.05)
    assert not seen.ok and seen.content == "nap did not finish within 0.05 s and was stopped"


async def test_a_bug_is_raised(box: ToolBox) -> None:
    with pytest.raises(KeyError, match="our own mistake"):
        await box.call("buggy", "{}")


def test_specs_and_settings(tmp_path: Path) -> None:
    box = ToolBox(Settings(cache_dir=tmp_path))
    assert box.names() == ["calculator", "python", "convert_units", "datetime"]  # no documents folder set
    assert all(s["type"] == "function" and s["function"]["parameters"]["type"] == "object" for s in box.specs())
    json.dumps(box.specs())  # the specs go on the wire as they are
    with_docs = ToolBox(Settings(cache_dir=tmp_path, tools={"documents": tmp_path}))
    assert "search_documents" in with_docs.names()
    with pytest.raises(UnknownPlugin, match="unknown tool 'browser'; valid tools are: calculator, convert_units"):
        ToolBox(Settings(tools={"enabled": ["browser"]}))
    with pytest.raises(BadRequest, match="two tools are named 'divide'"):
        ToolBox(Settings(tools={"enabled": []}), extra=[divide, divide])


async def test_sandbox_limits_come_from_the_settings(tmp_path: Path) -> None:
    box = ToolBox(Settings(cache_dir=tmp_path, tools={"enabled": ["python"], "cpu_seconds": 1, "output_bytes": 300}))
    spin = await box.call("python", json.dumps({"code": "while True: pass"}))
    assert not spin.ok and "after 1 s of CPU time" in spin.content
    loud = await box.call("python", json.dumps({"code": "print('x' * 10_000)"}))
    assert not loud.ok and "passed 300 bytes" in loud.content


async def test_plugins_register_like_built_ins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(tools._items, "divide", "tests.test_tools_box:divide")
    box = ToolBox(Settings(cache_dir=tmp_path, tools={"enabled": ["divide"]}))
    assert (await box.call("divide", '{"a": 1, "b": 4}')).content == "0.25"


async def test_a_plugin_package_registers_its_tool_by_entry_point(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An installed distribution that declares `[ponder.tools]` in its entry points is found and called."""
    (tmp_path / "ponder_halve_plugin.py").write_text(
        "from ponder.tools.decorator import tool\n\n\n@tool\ndef halve(x: float) -> float:\n"
        '    """Half of x."""\n    return x / 2\n'
    )
    info = tmp_path / "ponder_halve_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ponder-halve-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ponder.tools]\nhalve = ponder_halve_plugin:halve\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(tools, "_items", dict(tools._items))
    monkeypatch.setattr(tools, "_entry_points_loaded", False)
    assert "halve" in tools.names()
    box = ToolBox(Settings(cache_dir=tmp_path, tools={"enabled": ["halve"]}))
    assert (await box.call("halve", '{"x": 5}')).content == "2.5"


def demo_settings(tmp_path: Path, *args: str) -> Settings:
    server = {"name": "demo", "command": sys.executable, "args": [*args]}
    return Settings(cache_dir=tmp_path, tools={"enabled": [], "mcp_servers": [server]})


async def test_mcp_server_tools_are_discovered_and_called(tmp_path: Path) -> None:
    async with ToolBox(demo_settings(tmp_path, str(DEMO_SERVER))) as box:
        assert box.names() == ["demo__add", "demo__shout_loud", "demo__divide", "demo__crash"]
        add = next(s for s in box.specs() if s["function"]["name"] == "demo__add")["function"]
        assert add["description"] == "Add two integers."
        assert add["parameters"]["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
        assert (await box.call("demo__add", '{"a": 2, "b": 40}')).content == "42"
        assert (await box.call("demo__shout_loud", '{"text": "hi"}')).content == "HI"
        bad = await box.call("demo__add", '{"a": "two", "b": 40}')
        assert not bad.ok and "a: 'two' is not of type 'integer'" in bad.content
        failed = await box.call("demo__divide", '{"a": 1, "b": 0}')
        assert not failed.ok and "cannot divide by zero" in failed.content
        results = await asyncio.gather(*(box.call("demo__add", json.dumps({"a": i, "b": i})) for i in range(5)))
        assert [r.content for r in results] == ["0", "2", "4", "6", "8"]
    assert box.names() == []  # the server's tools leave with it


async def test_an_mcp_server_that_dies_during_a_call_is_an_observation(tmp_path: Path) -> None:
    async with ToolBox(demo_settings(tmp_path, str(DEMO_SERVER))) as box:
        died = await box.call("demo__crash", "{}")
        assert not died.ok and "the demo MCP server failed during the call" in died.content
        after = await box.call("demo__add", '{"a": 1, "b": 2}')
        assert not after.ok and "demo" in after.content


async def test_an_mcp_server_that_does_not_start_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match=r"MCP server 'demo'.*failed"):
        async with ToolBox(demo_settings(tmp_path, "-c", "import sys; sys.exit(3)")):
            pass


async def test_a_box_may_be_closed_from_another_task(tmp_path: Path) -> None:
    """A server loop opens the box at startup and closes it at shutdown, in different tasks."""
    box = ToolBox(demo_settings(tmp_path, str(DEMO_SERVER)))
    await asyncio.create_task(box.__aenter__())
    assert (await asyncio.create_task(box.call("demo__add", '{"a": 1, "b": 2}'))).content == "3"
    await asyncio.create_task(box.aclose())
    assert box.names() == []


def test_offering_tools_loads_no_model(tmp_path: Path) -> None:
    """Building a box (even with search) imports neither onnxruntime nor the MCP client: both wait for use."""
    import subprocess

    code = (
        "import sys; from ponder.config import Settings; from ponder.tools.box import ToolBox; "
        f"box = ToolBox(Settings(tools={{'documents': {str(tmp_path)!r}}})); box.specs(); "
        "print(sorted(m for m in ('onnxruntime', 'mcp', 'bm25s', 'pint') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


async def test_a_tool_call_is_answered_with_a_tool_turn(box: ToolBox) -> None:
    from ponder.types import ToolCall

    turn = await box.run(ToolCall(id="call_1", name="divide", arguments='{"a": 1, "b": 8}'))
    assert (turn.role, turn.tool_call_id, turn.name, turn.content) == ("tool", "call_1", "divide", "0.125")
