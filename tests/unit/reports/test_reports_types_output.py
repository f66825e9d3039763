"""Report type names, safe file names, and saving a report file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posguard.reports.errors import ReportOutputError, UnknownReportType
from posguard.reports.output import report_filename, resolve_output, save_report
from posguard.reports.types import REPORT_TITLES, ReportType, parse_report_type

T0 = 1_796_000_000_000_000


def test_names_scripts_use() -> None:
    assert ReportType.VIOLATIONS_REPORT.value == "violations"
    assert set(REPORT_TITLES) == set(ReportType)
    assert {rt.name for rt in ReportType} >= {
        "VIOLATIONS_REPORT", "CANCELLED_POSITIONS_REPORT", "DISCOUNTS_REPORT",
        "AVERAGE_RECEIPT_REPORT", "CASHIER_ACTIVITY_REPORT", "TERMINAL_SUMMARY_REPORT"}


@pytest.mark.parametrize("text", ["cashier-activity", "CASHIER_ACTIVITY_REPORT",
                                  "cashier_activity", " Cashier-Activity-Report ",
                                  ReportType.CASHIER_ACTIVITY_REPORT])
def test_parse_report_type(text: str) -> None:
    assert parse_report_type(text) is ReportType.CASHIER_ACTIVITY_REPORT


@pytest.mark.parametrize("text", ["", "report", "../violations", "violations/../x", "x" * 500])
def test_unknown_report_type(text: str) -> None:
    with pytest.raises(UnknownReportType) as e:
        parse_report_type(text)
    assert "known: violations" in str(e.value) and len(str(e.value)) < 400


@pytest.mark.parametrize("store", ["../../etc", "/etc/passwd", "..", ".hidden", "a/b\\c",
                                   'x"\r\nSet-Cookie: 1', "Магазин 1", "\x00"])
def test_filename_is_never_a_path(store: str) -> None:
    name = report_filename(ReportType.DISCOUNTS_REPORT, T0, T0 + 3600 * 10**6, store, "UTC")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".") and name.endswith(".ods")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert name.startswith("discounts_")


def test_filename_uses_local_time() -> None:
    assert report_filename("violations", T0, T0 + 86_400_000_000, tz="Asia/Tokyo") == (
        "violations_20261130-0953_20261201-0953.ods")


def test_resolve_and_save(tmp_path: Path) -> None:
    target = tmp_path / "r.ods"
    assert resolve_output(target, "x.ods", force=False) == target
    assert save_report(b"one", target, force=False) == target
    with pytest.raises(ReportOutputError, match="--force"):
        resolve_output(target, "x.ods", force=False)
    with pytest.raises(ReportOutputError, match="--force"):
        save_report(b"two", target, force=False)  # exclusive create, even past the check
    assert target.read_bytes() == b"one"
    assert save_report(b"two", target, force=True) == target
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["r.ods"]  # no temporary file left
    assert resolve_output(tmp_path, "gen.ods", force=False) == tmp_path / "gen.ods"
    with pytest.raises(ReportOutputError, match="does not exist"):
        resolve_output(tmp_path / "no" / "r.ods", "x.ods", force=True)
    with pytest.raises(ReportOutputError, match="does not exist"):
        resolve_output(str(tmp_path / "nodir") + os.sep, "x.ods", force=True)
    (tmp_path / "sub").mkdir()
    with pytest.raises(ReportOutputError, match="exists"):
        save_report(b"x", tmp_path / "sub", force=False)


def test_symlink_is_not_followed_without_force(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "link.ods"
    link.symlink_to(victim)
    with pytest.raises(ReportOutputError):
        resolve_output(link, "x.ods", force=False)
    with pytest.raises(ReportOutputError):
        save_report(b"x", link, force=False)
    assert victim.read_bytes() == b"keep"
