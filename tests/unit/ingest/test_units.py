"""Decimal text -> minor units and local date/time -> UTC microseconds."""

from __future__ import annotations

import pytest

from posguard.ingest.errors import FieldError
from posguard.ingest.units import decimal_to_int, local_to_micros, whole_number


@pytest.mark.parametrize(("text", "scale", "sep", "expected"), [
    ("51.99", 2, "auto", 5199),
    ("51,99", 2, "auto", 5199),
    ("103.98", 2, "auto", 10398),
    ("185.4", 2, "auto", 18540),
    ("103", 2, "auto", 10300),
    ("-5.00", 2, "auto", -500),
    ("+5", 2, "auto", 500),
    (" 0.5 ", 3, "auto", 500),
    ("1.234", 3, "auto", 1234),
    ("1,5", 3, "auto", 1500),
    (".5", 2, "auto", 50),
    ("5.", 2, "auto", 500),
    ("1.005", 2, "auto", 101),  # half away from zero
    ("-1.005", 2, "auto", -101),
    ("1.004", 2, "auto", 100),
    ("1 234,56", 2, "auto", 123456),
    ("1\u00a0234,56", 2, "auto", 123456),
    ("1.234,56", 2, "auto", 123456),
    ("1,234.56", 2, "auto", 123456),
    ("1.234.567", 2, "auto", 123456700),
    ("1,234", 2, ".", 123400),  # '.' configured: ',' groups thousands
    ("1.234", 2, ",", 123400),  # ',' configured: '.' groups thousands
    ("0.1", 2, "auto", 10),  # exact: no float error
    ("0.29", 2, "auto", 29),
    ("1.15", 2, "auto", 115),
])
def test_decimal_to_int(text: str, scale: int, sep: str, expected: int) -> None:
    assert decimal_to_int(text, scale, sep) == expected


@pytest.mark.parametrize("text", ["", " ", ".", "-", "+", "abc", "1.2.3", "12,34,5", "1e5",
                                  "١٢", "1,234.5,6", "1.2,345", "0x10", "--1", "1-", "9" * 41,
                                  "99999999999999999999999"])
def test_decimal_to_int_refuses(text: str) -> None:
    with pytest.raises(FieldError):
        decimal_to_int(text, 2)


@pytest.mark.parametrize(("text", "expected"), [("2", 2), ("2.000", 2), ("2,0", 2), ("-1", -1)])
def test_whole_number(text: str, expected: int) -> None:
    assert whole_number(text) == expected


def test_whole_number_refuses_a_fraction() -> None:
    with pytest.raises(FieldError, match="whole"):
        whole_number("1.5")


def test_local_time_of_the_documented_example() -> None:
    # 11/01/2017 16:40:15 in Moscow (UTC+3) is 13:40:15 UTC.
    assert local_to_micros("11/01/2017", "16:40:15", "%d/%m/%Y", "Europe/Moscow") == \
        1484142015_000000


def test_date_order_is_the_terminals() -> None:
    dmy = local_to_micros("11/01/2017", "00:00:00", "%d/%m/%Y", "UTC")
    mdy = local_to_micros("01/11/2017", "00:00:00", "%m/%d/%Y", "UTC")
    assert dmy == mdy


def test_fractions_and_short_times() -> None:
    base = local_to_micros("2017-01-11", "16:40", "%Y-%m-%d", "UTC")
    assert local_to_micros("2017-01-11", "16:40:00.25", "%Y-%m-%d", "UTC") == base + 250_000
    assert local_to_micros("2017-01-11", "16:40:01,000001", "%Y-%m-%d", "UTC") == \
        base + 1_000_001


def test_daylight_saving_time() -> None:
    # Berlin: UTC+1 in winter, UTC+2 in summer.
    winter = local_to_micros("15.01.2024", "12:00:00", "%d.%m.%Y", "Europe/Berlin")
    summer = local_to_micros("15.07.2024", "12:00:00", "%d.%m.%Y", "Europe/Berlin")
    assert winter == 1705316400_000000
    assert summer == 1721037600_000000


@pytest.mark.parametrize(("date", "time"), [("32/01/2017", "10:00:00"), ("11/01/2017", "24:00"),
                                            ("11/01/2017", "10:60"), ("11/01/2017", "noon"),
                                            ("2017-01-11", "10:00")])
def test_bad_dates_and_times(date: str, time: str) -> None:
    with pytest.raises(FieldError):
        local_to_micros(date, time, "%d/%m/%Y", "UTC")
