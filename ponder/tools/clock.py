"""`datetime`: the date and time facts a model cannot know or tends to miscount.

Now in a time zone, the days (and time) between two dates, a date plus a duration, and a date's
weekday. Time zones are IANA names read with `zoneinfo` (the `tzdata` package supplies them where
the system has none). Months and years are added calendar-wise: 31 January plus one month is
28/29 February.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ponder.errors import ToolError
from ponder.tools.decorator import tool


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone {name!r}; use an IANA name like 'Europe/Paris' or 'UTC'") from None


def _parse(text: str | None, what: str, zone: ZoneInfo) -> dt.datetime:
    if not text:
        raise ToolError(f"this operation needs `{what}` (an ISO date like 2024-03-01 or 2024-03-01T14:30)")
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ToolError(f"{what}={text!r} is not an ISO date (YYYY-MM-DD, optionally THH:MM)") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _add_months(value: dt.datetime, months: int) -> dt.datetime:
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ToolError("the resulting date is outside years 1-9999")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def _show(value: dt.datetime) -> str:
    text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(timespec="minutes")
    return f"{text} ({value.strftime('%A')})"


def _span(delta: dt.timedelta) -> str:
    sign, delta = ("-" if delta < dt.timedelta() else ""), abs(delta)
    hours, rest = divmod(delta.seconds, 3600)
    clock = f", {hours} h {rest // 60} min" if delta.seconds else ""
    return f"{sign}{delta.days} days{clock} ({sign}{delta.days / 7:.2f} weeks)"


@tool(name="datetime", outside_text=False)
def datetime_tool(
    operation: Literal["now", "difference", "add", "weekday"],
    date: str | None = None,
    end: str | None = None,
    years: int = 0,
    months: int = 0,
    weeks: int = 0,
    days: int = 0,
    hours: int = 0,
    minutes: int = 0,
    timezone: str = "UTC",
) -> str:
    """Dates and times: the current time in a time zone, the time between two dates, a date plus a
    duration, or a date's weekday.

    Args:
        operation: "now", "difference" (from `date` to `end`), "add" (a duration to `date`), or "weekday" (of `date`).
        date: An ISO date or date-time, e.g. "2024-03-01" or "2024-03-01T14:30".
        end: The second date, for "difference".
        years: Years to add (negative to subtract).
        months: Months to add.
        weeks: Weeks to add.
        days: Days to add.
        hours: Hours to add.
        minutes: Minutes to add.
        timezone: IANA time zone, e.g. "Europe/Paris"; used for "now" and for dates given without one.
    """
    zone = _zone(timezone)
    if operation == "now":
        now = dt.datetime.now(zone)
        return f"{now.isoformat(timespec='seconds')} ({now.strftime('%A')}, {timezone})"
    start = _parse(date, "date", zone)
    if operation == "weekday":
        return start.strftime("%A")
    if operation == "difference":
        return _span(_parse(end, "end", zone) - start)
    try:
        moved = _add_months(start, 12 * years + months) + dt.timedelta(
            weeks=weeks, days=days, hours=hours, minutes=minutes
        )
    except OverflowError:
        raise ToolError("the resulting date is outside years 1-9999") from None
    return _show(moved)
