"""`@tool`: the schema a model sees comes from the hints and docstring; bad calls are refused precisely."""

from __future__ import annotations

import enum
from typing import Literal

import pytest

from ponder.errors import ToolError
from ponder.tools.decorator import tool


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@tool
def paint(
    wall: str,
    coats: int,
    colour: Colour,
    finish: Literal["matte", "gloss"] = "matte",
    rooms: list[str] | None = None,
    ratio: float = 1.0,
    primer: bool = False,
) -> str:
    """Paint a wall.

    More words that are not part of the description.

    Args:
        wall: Which wall to paint.
        coats: How many coats.
        colour: The paint's colour.
        finish: Matte or gloss.
        rooms: Rooms to do as well.
    """
    return f"{wall}:{coats}:{colour.name}:{finish}:{rooms}:{ratio}:{primer}"


def test_schema_from_hints_and_docstring() -> None:
    spec = paint.spec()
    assert spec["type"] == "function"
    fn = spec["function"]
    assert fn["name"] == "paint" and fn["description"] == "Paint a wall."
    params = fn["parameters"]
    assert params["type"] == "object" and params["required"] == ["wall", "coats", "colour"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["wall"] == {"type": "string", "description": "Which wall to paint."}
    assert props["coats"]["type"] == "integer"
    assert props["colour"]["enum"] == ["red", "green"] and props["colour"]["description"] == "The paint's colour."
    assert props["finish"]["enum"] == ["matte", "gloss"] and props["finish"]["default"] == "matte"
    assert props["rooms"]["type"] == "array" and props["rooms"]["items"] == {"type": "string"}
    assert "anyOf" not in props["rooms"]  # Optional[X] = None is shown as an optional X
    assert props["ratio"] == {"type": "number", "default": 1.0}
    assert props["primer"]["type"] == "boolean"
    assert "$defs" not in params and "title" not in str(params)


async def test_arguments_are_validated_and_converted() -> None:
    assert await paint.run({"wall": "north", "coats": "2", "colour": "green"}) == "north:2:GREEN:matte:None:1.0:False"
    with pytest.raises(ToolError, match=r"coats: .*integer.*colour: .*'red' or 'green'"):
        await paint.run({"wall": "north", "coats": "two", "colour": "blue"})
    with pytest.raises(ToolError, match="wall: Field required"):
        await paint.run({"coats": 1, "colour": "red"})
    with pytest.raises(ToolError, match="sheen: Extra inputs"):
        await paint.run({"wall": "w", "coats": 1, "colour": "red", "sheen": 3})


async def test_async_functions_and_non_text_results() -> None:
    @tool(name="lookup", description="Look a key up.")
    async def find(key: str) -> dict[str, int]:
        return {key: len(key)}

    assert find.name == "lookup" and find.spec()["function"]["description"] == "Look a key up."
    assert await find.run({"key": "abc"}) == '{"abc": 3}'


def test_a_tool_must_be_typed_and_documented() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        """Does things."""

    def undocumented(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="type hint"):
        tool(untyped)
    with pytest.raises(TypeError, match="docstring"):
        tool(undocumented)
