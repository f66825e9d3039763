"""`posguard report` (straight to ClickHouse over HTTP) and GET /api/reports/{type}."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from reports_dataset import T0, T1, make_dataset, sheet_rows

from posguard.console.cli import main
from posguard.console.settings import Settings
from posguard.console.state import NodeState
from posguard.reports import MEDIA_TYPE, ReportType, read_ods
from posguard.store.writer import insert_events, insert_receipts

with warnings.catch_warnings():
    # starlette asks for its httpx fork; plain httpx works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

TOKEN = "report-test-token"


@pytest.fixture
def filled(store: Any) -> Any:
    ds = make_dataset(n=600, seed=9)
    insert_events(store, ds.events)
    insert_receipts(store, ds.receipts)
    return store


def cli(url: str, store: Any, tmp_path: Path, *args: str) -> int:
    return main(["report", *args, "--from", str(T0 - 10**12), "--to", str(T1),
                 "--clickhouse", url, "--database", store.database,
                 "--data", str(tmp_path / "data")])


def test_cli_writes_report_and_refuses_overwrite(filled: Any, clickhouse_url: str,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "avg.ods"
    assert cli(clickhouse_url, filled, tmp_path, "average-receipt", "-o", str(out)) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "1/5 receipts by store" in captured.err and "wrote" in captured.err
    first = out.read_bytes()
    rows, totals = sheet_rows(read_ods(first), "By store")
    assert rows and totals is not None and totals["Receipts"] > 0
    # refuses to overwrite without --force, and leaves the file alone
    assert cli(clickhouse_url, filled, tmp_path, "AVERAGE_RECEIPT_REPORT", "-o", str(out)) == 1
    assert "exists; use --force" in capsys.readouterr().err
    assert out.read_bytes() == first
    out.chmod(0o600)
    assert cli(clickhouse_url, filled, tmp_path, "average_receipt", "-o", str(out),
               "--force", "--quiet") == 0
    assert capsys.readouterr().err == ""
    assert out.read_bytes() != first and read_ods(out.read_bytes())
    assert out.stat().st_mode & 0o777 == 0o600  # --force kept the file's permissions


def test_cli_bad_paths_are_clear_errors(filled: Any, clickhouse_url: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (str(tmp_path / "missing" / "r.ods"), "does not exist"),
        (str(tmp_path / "nofolder") + "/", "does not exist"),
    ]
    if Path("/dev/null").exists():
        cases.append(("/dev/null", "not a regular file"))
    for path, message in cases:
        assert cli(clickhouse_url, filled, tmp_path, "violations", "-o", path) == 1
        err = capsys.readouterr().err
        assert err.startswith("posguard: error:") and message in err, err
    assert cli(clickhouse_url, filled, tmp_path, "no-such-report", "-o",
               str(tmp_path / "x.ods")) == 1
    assert "unknown report type" in capsys.readouterr().err
    assert not (tmp_path / "x.ods").exists()


def test_cli_folder_gets_a_safe_generated_name(filled: Any, clickhouse_url: str,
                                               tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    assert cli(clickhouse_url, filled, tmp_path, "discounts", "--store", "../../store-1",
               "-o", str(folder)) == 0
    files = list(folder.iterdir())
    assert len(files) == 1 and files[0].name.startswith("discounts_store-1_")
    assert files[0].suffix == ".ods" and files[0].parent == folder
    assert list(tmp_path.glob("*.ods")) == []


@pytest.fixture
def client(filled: Any, tmp_path: Path) -> Any:
    from posguard.console.api import create_api

    state = NodeState(settings=Settings(data=tmp_path), backend=filled, api_token=TOKEN)
    with TestClient(create_api(state)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


def test_api_lists_types(client: Any) -> None:
    r = client.get("/api/reports")
    assert r.status_code == 200
    assert [t["name"] for t in r.json()] == [rt.name for rt in ReportType]


def test_api_download(client: Any) -> None:
    r = client.get("/api/reports/terminal-summary",
                   params={"from": T0 - 10**12, "to": T1, "tz": "Europe/Moscow"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    cd = r.headers["content-disposition"]
    assert cd.startswith('attachment; filename="terminal-summary_') and ".ods" in cd
    sheets = read_ods(r.content)
    assert sheet_rows(sheets, "Terminals")[0]
    assert {r[0]: r[1] for r in sheets["Report"][2:8]}["Timezone"] == "Europe/Moscow"
    # a store name cannot reach the file name as a path
    r = client.get("/api/reports/violations", params={"store": '../"x\r\nSet-Cookie: a=b'})
    assert r.status_code == 200
    assert "set-cookie" not in r.headers
    assert '..' not in r.headers["content-disposition"].split("filename=")[1].split(";")[0]


def test_api_errors(client: Any) -> None:
    assert client.get("/api/reports/..%2F..%2Fetc").status_code == 404
    assert client.get("/api/reports/nope").status_code == 404
    r = client.get("/api/reports/violations", params={"from": T1, "to": T0})
    assert r.status_code == 400 and "ends before" in r.json()["detail"]
    r = client.get("/api/reports/violations", params={"tz": "Nowhere/City"})
    assert r.status_code == 400
    client.headers.pop("Authorization")
    assert client.get("/api/reports").status_code == 401
    assert client.get("/api/reports/violations").status_code == 401


def test_cli_through_the_node_api(filled: Any, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import time

    from posguard.console.api import ApiServer, create_api

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "api-token").write_text(TOKEN + "\n")
    state = NodeState(settings=Settings(data=tmp_path), backend=filled, api_token=TOKEN)
    server = ApiServer(create_api(state), "127.0.0.1", port)
    server.start()
    try:
        deadline = time.monotonic() + 10
        while not server.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        out = tmp_path / "via-api.ods"
        assert main(["report", "discounts", "--from", str(T0 - 10**12), "--to", str(T1),
                     "--api", f"http://127.0.0.1:{port}", "--data", str(tmp_path),
                     "-o", str(out)]) == 0
        assert "asking the node" in capsys.readouterr().err
        rows, totals = sheet_rows(read_ods(out.read_bytes()), "By store")
        assert rows and totals is not None and totals["Receipts"] > 0
        assert main(["report", "nope", "--api", f"http://127.0.0.1:{port}", "--data",
                     str(tmp_path), "-o", str(tmp_path / "n.ods")]) == 1
    finally:
        server.stop()
