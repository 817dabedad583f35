"""`convert_units`: unit conversion with pint, the well-kept library that knows thousands of units.

Temperatures (offset units) convert correctly because the amount is built as a quantity in its own
unit. Incompatible or unknown units come back to the model as a `ToolError` that says which.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ponder.errors import ToolError
from ponder.tools.decorator import tool

if TYPE_CHECKING:
    import pint


@cache
def registry() -> pint.UnitRegistry[Any]:
    """Imported and built on first use (~0.5 s), once per process."""
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def _unit(name: str) -> pint.Unit:
    import pint

    try:
        return registry().Unit(name.strip())
    except (pint.UndefinedUnitError, AttributeError, ValueError, TypeError, SyntaxError):
        raise ToolError(f"unknown unit {name!r}; write units like 'km/h', 'degC', 'lbf', 'kWh', 'mile'") from None


@tool(name="convert_units", outside_text=False)
def convert_units(amount: float, from_unit: str, to_unit: str) -> str:
    """Convert an amount from one unit to another (length, mass, time, speed, energy, temperature, …).

    Args:
        amount: The number to convert.
        from_unit: Its unit, e.g. "mile", "km/h", "degF", "kWh", "lb".
        to_unit: The unit wanted, of the same kind, e.g. "km", "m/s", "degC", "MJ", "kg".
    """
    import pint

    source, target = _unit(from_unit), _unit(to_unit)
    try:
        converted = registry().Quantity(amount, source).to(target)
    except pint.DimensionalityError:
        raise ToolError(
            f"cannot convert {from_unit} ({source.dimensionality}) to {to_unit} ({target.dimensionality}): "
            "they measure different things"
        ) from None
    return f"{amount:g} {from_unit} = {converted.magnitude:.10g} {to_unit}"
