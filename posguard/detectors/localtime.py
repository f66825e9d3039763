"""Store-local time of event timestamps, fast enough for the per-event path.

Rules such as "alcohol after 23:00" and "per day" work in the local time of the terminal's
store. `zoneinfo` conversions cost microseconds each, so UTC offsets are memoised per zone and
15-minute bucket of UTC time: every transition since 1970 happens on a quarter hour, and a
bucket whose two ends disagree is computed exactly on every call. Memoisation is not state:
the functions are pure, the cache only saves work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

import msgspec

from posguard.model.errors import TimeArgumentError
from posguard.model.times import zone

__all__ = [
    "MINUTE",
    "DAY",
    "Zones",
    "utc_offset",
    "local_micros",
    "local_day",
    "local_minute_of_day",
    "parse_hhmm",
    "format_day",
    "check_zone",
    "zones_from",
]

MINUTE = 60_000_000
DAY = 86_400_000_000
_BUCKET = 15 * MINUTE
_INEXACT = -(1 << 62)  # marks a bucket that contains a transition
_cache: dict[tuple[str, int], int] = {}
_CACHE_MAX = 1 << 16


class Zones(msgspec.Struct, frozen=True, kw_only=True):
    """Which IANA timezone each terminal lives in (from the terminal registry).

    Attributes:
        terminals: terminal GUID -> timezone name.
        default: timezone of terminals not in the map.

    Example:
        >>> Zones(terminals={"T1": "Europe/Moscow"}).of("T1")
        'Europe/Moscow'
    """

    terminals: dict[str, str] = msgspec.field(default_factory=dict)
    default: str = "UTC"

    def of(self, terminal: str) -> str:
        """Timezone name of a terminal."""
        return self.terminals.get(terminal, self.default)

    def check(self) -> None:
        """Raise TimeArgumentError when a zone name is unknown."""
        for name in {self.default, *self.terminals.values()}:
            check_zone(name)


def check_zone(name: str, field: str = "") -> None:
    """Raise unless `name` is a known IANA timezone.

    Raises:
        TimeArgumentError: without `field`; ValueError naming `field` with it (for
            parameter checks in `__post_init__`, which msgspec reports as validation errors).
    """
    try:
        zone(name)
    except TimeArgumentError as e:
        if field:
            raise ValueError(f"{field}: {e}") from None
        raise


def _exact_offset(tz: str, ts: int) -> int:
    off = datetime.fromtimestamp(ts // 1_000_000, UTC).astimezone(zone(tz)).utcoffset()
    assert off is not None
    return (off.days * 86_400 + off.seconds) * 1_000_000


def utc_offset(tz: str, ts: int) -> int:
    """Offset of local time from UTC in microseconds at UTC instant `ts` (microseconds)."""
    b = ts // _BUCKET
    off = _cache.get((tz, b))
    if off is None:
        start = _exact_offset(tz, b * _BUCKET)
        end = _exact_offset(tz, (b + 1) * _BUCKET - 1)
        off = start if start == end else _INEXACT
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[(tz, b)] = off
    if off == _INEXACT:
        return _exact_offset(tz, ts)
    return off


def local_micros(ts: int, tz: str) -> int:
    """Local wall-clock time of `ts` as microseconds since the local epoch."""
    return ts + utc_offset(tz, ts)


def local_day(ts: int, tz: str) -> int:
    """Local calendar day number (days since 1970-01-01 in local time).

    Example:
        >>> local_day(1_700_000_000_000_000, "UTC")
        19675
    """
    return (ts + utc_offset(tz, ts)) // DAY


def local_minute_of_day(ts: int, tz: str) -> int:
    """Minutes since local midnight, 0..1439.

    Example:
        >>> local_minute_of_day(1_700_000_000_000_000, "Europe/Moscow")  # 01:13 in Moscow
        73
    """
    return ((ts + utc_offset(tz, ts)) // MINUTE) % 1440


def format_day(day: int) -> str:
    """ISO date of a local day number: 19675 -> '2023-11-14'."""
    return datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> int:
    """Minutes since midnight of an "HH:MM" string; raises TimeArgumentError otherwise.

    Example:
        >>> parse_hhmm("23:00")
        1380
    """
    m = _HHMM.match(text)
    if not m:
        raise TimeArgumentError(f"time of day {text!r} is not HH:MM (00:00..23:59)")
    return int(m.group(1)) * 60 + int(m.group(2))


def zones_from(terminals: Mapping[str, str] | None, default: str = "UTC") -> Zones:
    """Build and check a Zones value from a terminal -> timezone mapping."""
    z = Zones(terminals=dict(terminals or {}), default=default)
    z.check()
    return z

