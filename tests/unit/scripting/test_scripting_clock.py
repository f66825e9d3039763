"""The `time` view scripts get: injected clock, configured timezone."""

from __future__ import annotations

import time

from posguard.scripting.clock import ScriptClock, time_module

# 2026-11-30 20:30:00 UTC = 23:30 in Moscow (UTC+3).
T = 1_796_070_600.0


def test_real_clock_is_the_real_module() -> None:
    assert time_module(ScriptClock()) is time


def test_view_uses_the_injected_clock_and_zone() -> None:
    t = time_module(ScriptClock(now=lambda: T, tz="Europe/Moscow"))
    assert t.time() == T and t.time_ns() == int(T * 1e9)
    lt = t.localtime()
    assert (lt.tm_year, lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min) == (2026, 11, 30, 23, 30)
    assert lt.tm_zone == "MSK" and lt.tm_gmtoff == 3 * 3600
    assert t.localtime(0).tm_hour == 3 and t.gmtime().tm_hour == 20
    assert t.strftime("%H:%M:%S %d.%m.%Y") == "23:30:00 30.11.2026"
    assert t.strftime("%H:%M", t.localtime(T + 3600)) == "00:30"
    assert t.mktime(lt) == T and t.ctime() == "Mon Nov 30 23:30:00 2026"
    assert t.sleep is time.sleep and t.monotonic is time.monotonic


def test_view_handles_daylight_saving() -> None:
    t = time_module(ScriptClock(now=lambda: 0.0, tz="Europe/Berlin"))
    summer = t.localtime(1_782_000_000)  # June 2026
    winter = t.localtime(1_796_000_000)  # November 2026
    assert (summer.tm_isdst, summer.tm_gmtoff) == (1, 7200)
    assert (winter.tm_isdst, winter.tm_gmtoff) == (0, 3600)
