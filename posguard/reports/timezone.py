"""Which timezone a report is shown in: the one choice the CLI, the API and scripts share.

Pure: the caller reads the terminal registry and passes each terminal's (store, timezone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ReportZone", "report_timezone"]


@dataclass(frozen=True)
class ReportZone:
    """The timezone of a report and why it was chosen.

    Attributes:
        tz: IANA timezone name.
        note: why this zone, for the title block ("" when it was given explicitly or
            nothing could be said, e.g. no terminals are registered).
    """

    tz: str
    note: str = ""


def report_timezone(terminals: Iterable[tuple[str, str]], store: str | None = None,
                    explicit: str = "", default: str = "UTC") -> ReportZone:
    """The timezone a report's period, days, hours and times are shown in.

    1. An explicit zone (`--tz`, the API's `tz`) wins.
    2. A report for one store: the timezone of that store's terminals. When the store has
       no registered terminals, or its terminals disagree, `default`, with a note saying so.
    3. A report for all stores: the timezone of every terminal when they all share one,
       else `default` (with a note when they are in several zones).

    Args:
        terminals: (store, timezone) of each registered terminal; an empty timezone is UTC.
        store: the store the report is limited to (None or "" = all stores).
        explicit: a timezone the user asked for ("" = none).
        default: the zone when the registry does not decide (UTC, or a configured one).

    Example:
        >>> report_timezone([("S1", "Europe/Moscow"), ("S2", "Asia/Omsk")], "S1").tz
        'Europe/Moscow'
    """
    if explicit:
        return ReportZone(explicit)
    pairs = [(s, tz or "UTC") for s, tz in terminals]
    if store:
        zones = sorted({tz for s, tz in pairs if s == store})
        if len(zones) == 1:
            return ReportZone(zones[0], f"the timezone of store {store}'s terminals")
        if not zones:
            return ReportZone(default, f"{default}: store {store} has no terminals in the "
                                       "terminal registry")
        return ReportZone(default, f"{default}: store {store}'s terminals are in different "
                                   f"timezones ({_listed(zones)})")
    zones = sorted({tz for _, tz in pairs})
    if len(zones) == 1:
        return ReportZone(zones[0], "the timezone of every registered terminal")
    if not zones:
        return ReportZone(default)
    return ReportZone(default, f"{default}: the terminals are in different timezones "
                               f"({_listed(zones)})")


def _listed(zones: list[str], most: int = 5) -> str:
    more = f", and {len(zones) - most} more" if len(zones) > most else ""
    return ", ".join(zones[:most]) + more
