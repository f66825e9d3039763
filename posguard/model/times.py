"""Time helpers: microsecond timestamps, script time arguments, local time of a store."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from posguard.model.errors import TimeArgumentError

__all__ = [
    "MICROS",
    "to_micros",
    "micros_to_datetime",
    "datetime_to_micros",
    "local_datetime",
    "zone",
]

MICROS = 1_000_000
# Seconds since the epoch stay below 1e11 until the year 5138; microseconds are above 1e14
# for any time after 1973. Between the two is ambiguous and refused.
_SECONDS_MAX = 1e11
_MICROS_MIN = 1e14


def to_micros(value: int | float | str) -> int:
    """Turn a script time bound into integer microseconds.

    The scripting reference passes seconds as floats (`time.time()`) and microseconds as
    numeric strings; both are accepted, told apart by magnitude.

    Example:
        >>> to_micros(1_700_000_000.5)
        1700000000500000
        >>> to_micros("1700000000500000")
        1700000000500000
    """
    if isinstance(value, bool):
        raise TimeArgumentError(f"time bound must be a number, not {value!r}")
    if isinstance(value, str):
        try:
            num: float = float(value.strip())
        except ValueError:
            raise TimeArgumentError(f"time bound {value!r} is not a number") from None
    elif isinstance(value, int | float):
        num = value
    else:
        raise TimeArgumentError(f"time bound must be a number, not {type(value).__name__}")
    if num != num or num < 0:
        raise TimeArgumentError(f"time bound {value!r} is negative or not a number")
    if num < _SECONDS_MAX:
        return int(round(num * MICROS))
    if num >= _MICROS_MIN:
        return int(num)
    raise TimeArgumentError(
        f"time bound {value!r} is neither seconds (< 1e11) nor microseconds (>= 1e14)"
    )


def micros_to_datetime(ts: int) -> datetime:
    """Aware UTC datetime of a microsecond timestamp."""
    return datetime.fromtimestamp(ts / MICROS, tz=UTC)


def datetime_to_micros(dt: datetime) -> int:
    """Microseconds of an aware datetime; naive datetimes are refused."""
    if dt.tzinfo is None:
        raise TimeArgumentError(f"naive datetime {dt.isoformat()} has no timezone")
    return int(dt.timestamp() * MICROS) if dt.microsecond == 0 else (
        int(dt.replace(microsecond=0).timestamp()) * MICROS + dt.microsecond
    )


def zone(name: str) -> ZoneInfo:
    """ZoneInfo for an IANA name, with the project's error on an unknown name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeArgumentError(f"unknown timezone {name!r}") from None


def local_datetime(ts: int, tz: str) -> datetime:
    """The store-local aware datetime of a microsecond timestamp."""
    return micros_to_datetime(ts).astimezone(zone(tz))
