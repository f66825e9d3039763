"""Field conversions shared by the parsers: decimal text to integer minor units, local
date and time text to UTC microseconds. Exact (no float) and pure.

Decimal text: an optional sign, digits, at most one decimal separator. With separator
"auto" (the default), '.' and ',' are both accepted: when both occur, the rightmost is the
decimal separator and the other groups thousands; one kind occurring several times groups
thousands (then every group after the first has three digits). Spaces (incl. no-break) and
apostrophes are ignored. Digits beyond the scale are rounded
half away from zero: "1.005" kopecks-scale -> 101.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from posguard.ingest.errors import FieldError
from posguard.model.times import zone

__all__ = ["decimal_to_int", "whole_number", "local_to_micros", "SEPARATORS"]

SEPARATORS = ("auto", ".", ",")
_POW10: list[int] = [10**i for i in range(24)]
_MAX_ABS = 2**63 - 1
_GROUP_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")


def _split(s: str, separator: str) -> tuple[str, str]:
    dot, comma = s.count("."), s.count(",")
    if separator == ".":
        dec, group = ".", ","
    elif separator == ",":
        dec, group = ",", "."
    elif dot and comma:
        dec = "." if s.rfind(".") > s.rfind(",") else ","
        group = "," if dec == "." else "."
    elif dot == 1:
        dec, group = ".", ","
    elif comma == 1:
        dec, group = ",", "."
    else:  # none, or one kind several times: thousands grouping only
        dec, group = "\0", "." if dot else ","
    if s.count(dec) > 1:
        raise FieldError("more than one decimal separator")
    whole, _, frac = s.partition(dec)
    if group in frac:
        raise FieldError("thousands separator after the decimal separator")
    groups = whole.split(group)
    if len(groups) > 1 and (not groups[0] or any(len(g) != 3 for g in groups[1:])):
        raise FieldError(f"bad thousands grouping in {whole!r}")
    return "".join(groups), frac


def decimal_to_int(text: str, scale: int, separator: str = "auto") -> int:
    """Exact decimal text -> integer of 10**-scale units ("51.99", 2 -> 5199).

    Args:
        text: the number as sent ("51.99", "51,99", "1 234,5", "-3").
        scale: decimal places of the unit (2 for kopecks, 3 for grams from kg).
        separator: "auto", "." or "," (see the module docstring).

    Raises:
        FieldError: not a decimal number, or out of the 64-bit range.

    Example:
        >>> decimal_to_int("51.99", 2), decimal_to_int("1,234", 3), decimal_to_int("185.4", 2)
        (5199, 1234, 18540)
    """
    if separator != ",":
        whole, dot, frac = text.partition(".")
        if whole.isdigit() and whole.isascii() and len(whole) < 19 and (
                not dot or (frac.isdigit() and frac.isascii() and len(frac) <= scale)):
            # the common case: plain digits with a point and few decimals
            return int(whole) * _POW10[scale] + (int(frac) * _POW10[scale - len(frac)]
                                                 if frac else 0)
    s = text.strip().translate(_GROUP_SPACES)
    if len(s) > 40:
        raise FieldError(f"number {text[:40]!r}... is too long")
    neg = s[:1] == "-"
    if s[:1] in "+-" and s:
        s = s[1:]
    whole, frac = _split(s, separator)
    if not (whole or frac) or not (whole.isascii() and frac.isascii()) \
            or (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        raise FieldError(f"{text!r} is not a decimal number")
    padded = frac.ljust(scale, "0")
    value = int((whole or "0") + padded[:scale])
    if padded[scale:scale + 1] >= "5":
        value += 1
    if value > _MAX_ABS:
        raise FieldError(f"{text!r} is out of range")
    return -value if neg else value


def whole_number(text: str, separator: str = "auto") -> int:
    """An integer field that may be sent with a zero fraction ("2", "2.000", "2,0").

    Raises:
        FieldError: not a number, or a fraction that is not zero.
    """
    milli = decimal_to_int(text, 3, separator)
    if milli % 1000:
        raise FieldError(f"{text!r} is not a whole number")
    return milli // 1000


_TIME = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?\s*")


@lru_cache(maxsize=4096)
def _date(date_text: str, date_format: str) -> tuple[int, int, int]:
    try:
        d = datetime.strptime(date_text.strip(), date_format)
    except ValueError:
        raise FieldError(f"date {date_text!r} does not match {date_format!r}") from None
    return d.year, d.month, d.day


@lru_cache(maxsize=65536)
def _minute(tz: str, y: int, mo: int, d: int, h: int, mi: int) -> int:
    # One zone lookup per local minute: within a minute the UTC offset cannot change.
    return int(datetime(y, mo, d, h, mi, tzinfo=zone(tz)).timestamp()) * 1_000_000


@lru_cache(maxsize=65536)
def _minute_text(date_text: str, hhmm: str, date_format: str, tz: str) -> int:
    if len(hhmm) != 5 or hhmm[2] != ":" or not (hhmm[:2].isdigit() and hhmm[3:].isdigit()):
        raise FieldError(f"time {hhmm!r}... is not HH:MM[:SS[.ffffff]]")
    h, mi = int(hhmm[:2]), int(hhmm[3:])
    if h > 23 or mi > 59:
        raise FieldError(f"time {hhmm!r}... is out of range")
    y, mo, d = _date(date_text, date_format)
    try:
        return _minute(tz, y, mo, d, h, mi)
    except (ValueError, OverflowError) as e:
        raise FieldError(f"date/time {date_text} {hhmm}: {e}") from None


def local_to_micros(date_text: str, time_text: str, date_format: str, tz: str) -> int:
    """Local date + time text of a terminal -> UTC microseconds since the epoch.

    Args:
        date_text: e.g. "11/01/2017" (order given by `date_format`).
        time_text: "HH:MM", "HH:MM:SS" or "HH:MM:SS.ffffff" ('.' or ',').
        date_format: strptime format of the date, e.g. "%d/%m/%Y".
        tz: IANA timezone of the terminal. Ambiguous local times (the repeated hour when
            clocks go back) are read as the first of the two.

    Raises:
        FieldError: a date or time that does not parse.

    Example:
        >>> local_to_micros("11/01/2017", "16:40:15", "%d/%m/%Y", "Europe/Moscow")
        1484142015000000
    """
    if len(time_text) == 8 and time_text[5] == ":" and time_text[6:].isdigit() \
            and time_text.isascii() and time_text[6] < "6":
        # "HH:MM:SS": one cached look-up per local minute
        return _minute_text(date_text, time_text[:5], date_format, tz) \
            + int(time_text[6:]) * 1_000_000
    m = _TIME.fullmatch(time_text)
    if m is None:
        raise FieldError(f"time {time_text!r} is not HH:MM[:SS[.ffffff]]")
    h, mi = int(m.group(1)), int(m.group(2))
    sec = int(m.group(3) or 0)
    frac = int((m.group(4) or "").ljust(6, "0"))
    if h > 23 or mi > 59 or sec > 60:
        raise FieldError(f"time {time_text!r} is out of range")
    y, mo, d = _date(date_text, date_format)
    try:
        base = _minute(tz, y, mo, d, h, mi)
    except (ValueError, OverflowError) as e:
        raise FieldError(f"date/time {date_text} {time_text}: {e}") from None
    return base + min(sec, 59) * 1_000_000 + frac
