"""The provisioned Grafana dashboards' SQL runs on the real schema, read-only, with results.

Grafana's macros are replaced the way the ClickHouse plugin expands them; each panel's query
then goes through posguard's read-only SQL runner on a store holding simulated traffic.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from posguard.ingest.simulator import ChainSimulator
from posguard.model.incidents import Incident
from posguard.store.sql_access import run_sql
from posguard.store.writer import insert_events, insert_incidents

pytestmark = pytest.mark.integration

GRAFANA = Path(__file__).resolve().parents[3] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def expand(sql: str, t0: int, t1: int, db: str) -> str:
    """Grafana ClickHouse plugin macros -> SQL, and the posguard database -> the test's."""
    sql = sql.replace("$__fromTime", f"toDateTime({t0})").replace("$__toTime", f"toDateTime({t1})")
    sql = sql.replace("$__interval_s", "60")
    assert "$" not in sql, sql
    return re.sub(r"\bposguard\.", f"{db}.", sql)


def test_datasource_uid_matches_the_dashboards() -> None:
    ds = (GRAFANA / "provisioning" / "datasources" / "posguard-clickhouse.yaml").read_text()
    uid = re.search(r"^\s+uid:\s*(\S+)", ds, re.M)
    assert uid and "type: grafana-clickhouse-datasource" in ds
    assert DASHBOARDS
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for t in panel["targets"]:
                assert t["datasource"]["uid"] == uid.group(1), (path.name, panel["title"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_query_runs_and_returns_rows(store: Any, path: Path) -> None:
    now = int(time.time())
    t0 = (now // 3600 - 6) * 3600  # six whole hours back
    sim = ChainSimulator(stores=2, terminals=2, seed=2, fraud_rate=0.3)
    events = list(sim.events(3000, t0 * 1_000_000, 5_000_000))
    insert_events(store, events)
    insert_incidents(store, [Incident(id=f"i{k}", detector="D", type_name="Void", type_id="X",
                                      terminal_guid=sim.terminals[0].guid, store="store-1",
                                      ts_created=events[k * 100].ts_received)
                             for k in range(20)])
    panels = json.loads(path.read_text())["panels"]
    assert len(panels) >= 4
    for panel in panels:
        for t in panel["targets"]:
            sql = expand(t["rawSql"], t0, now, store.database)
            out = json.loads(run_sql(store, sql, "json"))
            assert out["rows"] > 0, (panel["title"], sql)
