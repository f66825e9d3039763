"""Time arguments of CLI commands: --last 1h, --from/--to as ISO time or epoch numbers."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from posguard.console.errors import SettingsError
from posguard.model.errors import TimeArgumentError
from posguard.model.times import datetime_to_micros, to_micros

__all__ = ["parse_duration", "parse_time", "time_range"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """'90s', '15m', '1h', '2d' -> microseconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise SettingsError(f"bad duration {text!r}: use e.g. 30s, 15m, 1h, 2d")
    return int(float(m.group(1)) * _UNITS[m.group(2)] * 1_000_000)


def parse_time(text: str) -> int:
    """ISO 8601 (naive = UTC) or epoch seconds/microseconds -> microseconds."""
    try:
        return to_micros(text)
    except TimeArgumentError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"bad time {text!r}: use ISO 8601 or epoch seconds") from None
    return datetime_to_micros(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def time_range(from_: str | None, to: str | None, last: str | None,
               default_last: str = "1h") -> tuple[int, int]:
    now = int(time.time() * 1_000_000)
    t1 = parse_time(to) if to else now
    if from_:
        return parse_time(from_), t1
    return t1 - parse_duration(last or default_last), t1
