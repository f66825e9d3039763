"""Reports from scripts: example 9 verbatim writes an ODS file that odfpy opens."""

from __future__ import annotations

import zipfile

import pytest
from odf.opendocument import load
from odf.table import Table

from posguard.model.incidents import Incident
from posguard.store.writer import insert_incidents

pytestmark = pytest.mark.integration

NOW = 1_796_000_000.0
US = 1_000_000


def test_example_9_writes_the_violations_report_to_a_text_mode_file(make_host, store, tmp_path,
                                                                    notes, h) -> None:
    ts = int((NOW - 86400) * US)
    insert_incidents(store, [
        Incident(id=f"i{n}", detector="PGD00002", type_name="Position deleted without an "
                 "administrator", type_id="PGI00002", terminal_guid="T1RuoVF7",
                 terminal_name="Till 1", cashier_name="Ivanov I", ts_created=ts + n * US,
                 related_ts=[ts], related_events=[f"e{n}"], custom_columns={"n": str(n)},
                 status=n % 3, expert_estimate=1000 * n)
        for n in range(5)])
    host = make_host(now=lambda: NOW)
    script = host.add(h.scripts / "ex9_generate_pos_report.py")
    assert host.wait_ready(60) and host.wait_idle(60)
    assert script.stats()["errors"] == 0, script.errors
    # A valid OpenDocument spreadsheet (opened with "w", written as the bytes it is) ...
    with zipfile.ZipFile(tmp_path / "pos_report.ods") as z:
        assert z.testzip() is None
        assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        content = z.read("content.xml").decode("utf-8")
    # ... of the incidents of the last 10 days.
    assert "Ivanov I" in content and "Till 1" in content
    doc = load(str(tmp_path / "pos_report.ods"))
    assert doc.spreadsheet.getElementsByType(Table)
