"""Reports at the edges: an empty period, a single event, one store, and validity of the file
(odfpy re-opens it; its XML parses; LibreOffice converts it where installed)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from reports_dataset import T0, T1, TZ, make_dataset, sheet_rows

from posguard.model.events import PosEvent
from posguard.reports import MEDIA_TYPE, ReportType, build_report, generate_report, read_ods
from posguard.reports.errors import ReportError, UnknownReportType
from posguard.store.writer import insert_events, insert_receipts

pytestmark = pytest.mark.integration

_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                        huge_tree=False)


def assert_valid_ods(data: bytes) -> None:
    """What an office suite needs first: mimetype stored uncompressed as the first entry,
    a manifest listing the parts, well-formed XML everywhere, chart objects in place."""
    z = zipfile.ZipFile(io.BytesIO(data))
    first = z.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert z.read("mimetype").decode() == MEDIA_TYPE
    for name in z.namelist():
        if name.endswith(".xml"):
            root = etree.fromstring(z.read(name), _SAFE)
            assert root is not None
    manifest = z.read("META-INF/manifest.xml").decode()
    for name in ("content.xml", "styles.xml", "settings.xml"):
        assert f'manifest:full-path="{name}"' in manifest
    for name in z.namelist():
        if name.startswith("Object ") and name.endswith("content.xml"):
            assert b"<chart:chart" in z.read(name)
    read_ods(data)  # odfpy opens it again


@pytest.mark.parametrize("rt", list(ReportType))
def test_empty_period(any_store: Any, rt: ReportType) -> None:
    built = build_report(any_store, rt, T0, T1, tz=TZ)
    assert_valid_ods(built.data)
    sheets = read_ods(built.data)
    for section in built.doc.sections:
        rows, totals = sheet_rows(sheets, section.name)
        assert rows == []
        if section.totals is not None:
            assert totals is not None
            for col in section.columns[1:]:
                v = totals[col.title]
                # sums of nothing are 0; rates of nothing are empty, never 0 or NaN
                assert v is None or v == 0, (section.name, col.title, v)
    assert not any(n.startswith("Chart") for n in sheets)  # nothing to draw


def test_one_event(store: Any) -> None:
    ev = PosEvent(type="POS_POSITION_ADD_BY_SCANNER", pos_terminal="T1", store="S1",
                  pos_terminal_name="Till 1", cashier_name="Ivanov I", op_id="1", position=1,
                  price=8990, text="Milk", ts_in_receipt=T0, ts_received=T0, event_id="e1")
    insert_events(store, [ev])
    sheets = read_ods(generate_report(store, ReportType.CASHIER_ACTIVITY_REPORT, T0, T0 + 1))
    rows, totals = sheet_rows(sheets, "Cashiers")
    assert len(rows) == 1 and rows[0]["Cashier"] == "Ivanov I"
    assert rows[0]["Positions added"] == 1 and rows[0]["Receipts"] == 0
    assert rows[0]["Void rate"] == 0.0 and rows[0]["Average receipt"] is None
    assert totals is not None and totals["Positions added"] == 1
    sheets = read_ods(generate_report(store, ReportType.TERMINAL_SUMMARY_REPORT, T0, T0 + 1))
    rows, _ = sheet_rows(sheets, "Terminals")
    first = datetime.fromtimestamp(T0 / 1_000_000, UTC).replace(tzinfo=None)
    assert [(r["Terminal"], r["Events"], r["First event"]) for r in rows] == [("T1", 1, first)]
    # the period's end is excluded
    sheets = read_ods(generate_report(store, ReportType.CASHIER_ACTIVITY_REPORT, T0 - 1, T0))
    assert sheet_rows(sheets, "Cashiers")[0] == []


def test_store_filter_and_hostile_store_name(store: Any) -> None:
    ds = make_dataset(n=800, seed=3)
    insert_events(store, ds.events)
    insert_receipts(store, ds.receipts)
    all_stores = build_report(store, ReportType.AVERAGE_RECEIPT_REPORT, T0 - 10**12, T1)
    one = build_report(store, ReportType.AVERAGE_RECEIPT_REPORT, T0 - 10**12, T1,
                       store="store-2")
    assert {r[0] for r in one.doc.sections[0].rows} == {"store-2"}
    s2 = [r for r in all_stores.doc.sections[0].rows if r[0] == "store-2"][0]
    assert one.doc.sections[0].totals is not None
    assert one.doc.sections[0].totals[1:] == s2[1:]
    for name in ("'; DROP TABLE events; --", "{store:String}", "O'Brien\\"):
        empty = build_report(store, ReportType.AVERAGE_RECEIPT_REPORT, T0, T1, store=name)
        assert empty.doc.sections[0].rows == []
    assert build_report(store, ReportType.AVERAGE_RECEIPT_REPORT, T0 - 10**12, T1
                        ).doc.sections[0].rows == all_stores.doc.sections[0].rows


def test_bad_arguments(store: Any) -> None:
    with pytest.raises(UnknownReportType, match="known: violations"):
        generate_report(store, "../../etc/passwd", T0, T1)
    with pytest.raises(ReportError, match="ends before"):
        generate_report(store, ReportType.DISCOUNTS_REPORT, T1, T0)
    from posguard.model.errors import TimeArgumentError

    with pytest.raises(TimeArgumentError):
        generate_report(store, ReportType.DISCOUNTS_REPORT, T0, T1, tz="Mars/Olympus")


@pytest.mark.parametrize("rt", list(ReportType))
def test_progress_and_timings(store: Any, rt: ReportType) -> None:
    seen: list[tuple[str, int, int]] = []
    built = build_report(store, rt, T0, T1, progress=lambda s, d, t: seen.append((s, d, t)))
    total = seen[0][2]
    # one call per query step, then "writing ODS", then "done": done counts 0..total
    assert [(d, t) for _, d, t in seen] == [(i, total) for i in range(total + 1)]
    assert seen[-2][0] == "writing ODS" and seen[-1][0] == "done"
    assert built.query_seconds > 0 and built.write_seconds > 0
    assert [s for s, _ in built.steps] == [s for s, _, _ in seen[:-2]]


def test_libreoffice_converts(store: Any, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        reason = "LibreOffice (soffice) is not installed here; the ODS is checked with odfpy/lxml"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    ds = make_dataset(n=600, seed=5)
    insert_events(store, ds.events)
    insert_receipts(store, ds.receipts)
    built = build_report(store, ReportType.AVERAGE_RECEIPT_REPORT, T0 - 10**12, T1)
    src = tmp_path / "report.ods"
    src.write_bytes(built.data)
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    subprocess.run([soffice, profile, "--headless", "--convert-to", "pdf", "--outdir",
                    str(tmp_path), str(src)], check=True, timeout=180, capture_output=True)
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    # CSV, every sheet (LibreOffice >= 7.2 writes report-<Sheet>.csv for sheet option -1)
    csv_filter = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1'
    subprocess.run([soffice, profile, "--headless", "--convert-to", csv_filter, "--outdir",
                    str(tmp_path), str(src)], check=True, timeout=180, capture_output=True)
    by_store = tmp_path / "report-By store.csv"
    if by_store.exists():
        rows = list(csv.reader(by_store.read_text(encoding="utf-8").splitlines()))
        totals = next(r for r in rows if r and r[0] == "Total")
        section = built.doc.sections[0]
        assert section.totals is not None
        assert int(totals[1].replace(" ", "").replace(",", "")) == section.totals[1]
    else:  # older LibreOffice: only the first sheet, the title block
        text = (tmp_path / "report.csv").read_text(encoding="utf-8", errors="replace")
        assert "Average receipt report" in text and "AVERAGE_RECEIPT_REPORT" in text


def test_period_out_of_range(store: Any) -> None:
    with pytest.raises(ReportError, match="between 1970 and 9999"):
        generate_report(store, ReportType.VIOLATIONS_REPORT, T0, 10**18)
    with pytest.raises(ReportError, match="between 1970 and 9999"):
        generate_report(store, ReportType.VIOLATIONS_REPORT, -5, T0)
