"""The clock scripts see: `import time` in a script gives a view of `time` on this clock.

The reference's scripts read the wall clock (`time.time()`, `time.localtime().tm_hour`) and
the server's timezone ("the time is in microseconds in UNIX time format based on the
timezone configured on server"). The host gives each script a `time` module whose clock
functions use a `ScriptClock`: by default the real clock and the process's local timezone
(the real module is used as is); a configured timezone (IANA name) or an injected clock (tests,
replays) change what `time.time()`, `time.localtime()`, `time.strftime()`... return.
Everything else in the view is the real module (`sleep`, `monotonic`, `perf_counter`, ...).
"""

from __future__ import annotations

import time as _time
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["ScriptClock", "time_module"]


@dataclass(frozen=True)
class ScriptClock:
    """Wall clock and timezone of the scripts.

    Attributes:
        now: seconds since the epoch (like `time.time`).
        tz: IANA timezone name of "local" time; "" = the process's local timezone.
    """

    now: Callable[[], float] = _time.time
    tz: str = ""

    @property
    def is_real(self) -> bool:
        """True when the view would be the real `time` module."""
        return self.now is _time.time and not self.tz


def _struct(secs: float, zone: ZoneInfo) -> _time.struct_time:
    dt = datetime.fromtimestamp(secs, tz=UTC).astimezone(zone)
    off = dt.utcoffset()
    dst = dt.dst()
    tt = dt.timetuple()
    return _time.struct_time((
        tt.tm_year, tt.tm_mon, tt.tm_mday, tt.tm_hour, tt.tm_min, tt.tm_sec, tt.tm_wday,
        tt.tm_yday, 1 if dst else 0, dt.tzname() or "",
        int(off.total_seconds()) if off is not None else 0,
    ))


def time_module(clock: ScriptClock) -> types.ModuleType:
    """A `time` module for a script: the real one, or a view on `clock`.

    Example:
        >>> t = time_module(ScriptClock(now=lambda: 0.0, tz="Europe/Moscow"))
        >>> t.localtime().tm_hour, t.strftime("%H:%M")
        (3, '03:00')
    """
    if clock.is_real:
        return _time
    mod = types.ModuleType("time", _time.__doc__)
    for name in dir(_time):
        if not name.startswith("__"):
            setattr(mod, name, getattr(_time, name))
    now = clock.now
    zone: Any = ZoneInfo(clock.tz) if clock.tz else None

    def localtime(secs: float | None = None) -> _time.struct_time:
        s = now() if secs is None else secs
        return _time.localtime(s) if zone is None else _struct(s, zone)

    def gmtime(secs: float | None = None) -> _time.struct_time:
        return _time.gmtime(now() if secs is None else secs)

    def mktime(t: Any) -> float:
        if zone is None:
            return _time.mktime(t)
        dt = datetime(t[0], t[1], t[2], t[3], t[4], t[5], tzinfo=zone)
        return dt.timestamp()

    def strftime(fmt: str, t: Any = None) -> str:
        return _time.strftime(fmt, localtime() if t is None else t)

    def asctime(t: Any = None) -> str:
        return _time.asctime(localtime() if t is None else t)

    def ctime(secs: float | None = None) -> str:
        return _time.asctime(localtime(secs))

    mod.time = now  # type: ignore[attr-defined]
    mod.time_ns = lambda: int(now() * 1e9)  # type: ignore[attr-defined]
    mod.localtime = localtime  # type: ignore[attr-defined]
    mod.gmtime = gmtime  # type: ignore[attr-defined]
    mod.mktime = mktime  # type: ignore[attr-defined]
    mod.strftime = strftime  # type: ignore[attr-defined]
    mod.asctime = asctime  # type: ignore[attr-defined]
    mod.ctime = ctime  # type: ignore[attr-defined]
    return mod
