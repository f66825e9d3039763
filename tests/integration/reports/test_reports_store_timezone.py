"""A report for one store is shown in that store's timezone from the terminal registry
(`posguard report` straight to ClickHouse, and GET /api/reports/{type}); --tz still wins."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from reports_dataset import T0, T1, make_dataset

from posguard.console.cli import main
from posguard.console.settings import Settings
from posguard.console.state import NodeState
from posguard.ingest.files import save_registry
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.reports import read_ods
from posguard.store.writer import insert_events, insert_receipts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for its httpx fork; plain httpx works
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

TOKEN = "report-tz-token"
ZONES = {"store-1": "Europe/Moscow", "store-2": "Asia/Yekaterinburg"}


@pytest.fixture
def node_data(store: Any, tmp_path: Path) -> Path:
    """The store filled, and a node data folder whose registry puts store-1 in Moscow."""
    ds = make_dataset(n=600, seed=9)
    insert_events(store, ds.events)
    insert_receipts(store, ds.receipts)
    terminals = sorted({(e.store, e.pos_terminal) for e in ds.events if e.store in ZONES})
    data = tmp_path / "data"
    data.mkdir()
    save_registry(data / "posguard.toml", TerminalRegistry(
        Terminal(guid=guid, store=s, port=9100 + i, timezone=ZONES[s])
        for i, (s, guid) in enumerate(terminals)))
    return data


def local(ts: int, tz: str) -> datetime:
    return datetime.fromtimestamp(ts / 1_000_000, ZoneInfo(tz)).replace(tzinfo=None)


def title_block(data: bytes) -> dict[str, Any]:
    rows = read_ods(data)["Report"]
    return {r[0]: r[1] for r in rows[2:] if len(r) >= 2 and r[0]} if rows else {}


def test_cli_report_for_a_store_shows_the_period_in_its_local_time(
        node_data: Path, store: Any, clickhouse_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    def report(out: Path, *extra: str) -> dict[str, Any]:
        assert main(["report", "violations", "--from", str(T0), "--to", str(T1), "--store",
                     "store-1", *extra, "--clickhouse", clickhouse_url,
                     "--database", store.database, "--data", str(node_data),
                     "-o", str(out)]) == 0, capsys.readouterr().err
        return title_block(out.read_bytes())

    block = report(tmp_path / "moscow.ods")
    assert block["Timezone"] == "Europe/Moscow"
    assert block["Timezone note"] == "the timezone of store store-1's terminals"
    assert block["Period from"] == local(T0, "Europe/Moscow") != local(T0, "UTC")
    assert block["Period to (exclusive)"] == local(T1, "Europe/Moscow")
    assert block["Store"] == "store-1"
    assert "timezone Europe/Moscow: the timezone of store store-1's terminals" in \
        capsys.readouterr().err
    sheet = read_ods((tmp_path / "moscow.ods").read_bytes())["By type"]
    period = f"{local(T0, 'Europe/Moscow'):%Y-%m-%d %H:%M} – "
    assert sheet[1][0].startswith(period) and "(Europe/Moscow), store store-1" in sheet[1][0]

    # an explicit --tz wins, and then there is no note
    block = report(tmp_path / "utc.ods", "--tz", "UTC")
    assert block["Timezone"] == "UTC" and "Timezone note" not in block
    assert block["Period from"] == local(T0, "UTC")


def test_api_report_for_a_store_uses_its_timezone_unless_one_is_given(
        node_data: Path, store: Any) -> None:
    from posguard.console.api import create_api

    state = NodeState(settings=Settings(data=node_data), backend=store, api_token=TOKEN)
    with TestClient(create_api(state)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"

        def block(**params: str) -> dict[str, Any]:
            r = c.get("/api/reports/average-receipt",
                      params={"from": str(T0), "to": str(T1), **params})
            assert r.status_code == 200, r.text
            return title_block(r.content)

        got = block(store="store-2")
        assert got["Timezone"] == "Asia/Yekaterinburg"
        assert got["Period from"] == local(T0, "Asia/Yekaterinburg")
        got = block(store="store-3")  # not in the registry
        assert got["Timezone"] == "UTC" and got["Period from"] == local(T0, "UTC")
        assert got["Timezone note"] == "UTC: store store-3 has no terminals in the terminal " \
                                       "registry"
        got = block()  # all stores, two timezones
        assert got["Timezone"] == "UTC" and "different timezones" in got["Timezone note"]
        got = block(store="store-1", tz="Asia/Omsk")
        assert got["Timezone"] == "Asia/Omsk" and "Timezone note" not in got
