"""GET /api/charts/{name}.svg on simulated data: each chart draws marks from the views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import Env, env_for
from lxml import etree, html

from posguard.console.routes import charts
from posguard.ingest.simulator import ChainSimulator
from posguard.model.incidents import Incident
from posguard.store.writer import insert_events, insert_incidents

pytestmark = pytest.mark.integration

T0 = 1_796_000_400_000_000  # on an hour boundary
NS = {"s": "http://www.w3.org/2000/svg"}
SVG_TYPE = "image/svg+xml"


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


def load(store: Any) -> None:
    sim = ChainSimulator(stores=2, terminals=2, seed=4, fraud_rate=0.3)
    insert_events(store, list(sim.events(4000, T0, 2_000_000)))
    insert_incidents(store, [
        Incident(id=f"i{k}", detector="D", type_name=("Large discount", "Void")[k % 2],
                 type_id="X", terminal_guid=sim.terminals[0].guid, store="store-1",
                 ts_created=T0 + k * 1_000_000, status=k % 3) for k in range(9)])


def svg(env: Env, name: str, **params: Any) -> etree._Element:
    r = env.client("viewer").get(f"/api/charts/{name}.svg",
                                 params={"from": T0, "to": T0 + 3 * 3_600_000_000, **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    return etree.fromstring(r.content, etree.XMLParser(resolve_entities=False, no_network=True))


def test_each_chart_draws_the_data(env: Env) -> None:
    load(env.state.backend)
    assert set(env.client("viewer").get("/api/charts").json()) == {
        "incidents_by_type", "top_void_cashiers", "receipts_per_hour", "pipeline_lag"}
    doc = svg(env, "incidents_by_type")
    marks = [r.find("s:title", NS).text for r in doc.iterfind("s:rect", NS)
             if r.find("s:title", NS) is not None]
    # 9 incidents: types alternate, statuses cycle 0,1,2 -> every type/status pair occurs
    assert sorted(marks) == sorted(f"{t} / {s}: {n}" for t, s, n in [
        ("Large discount", "confirmed", 1), ("Large discount", "new", 2),
        ("Large discount", "rejected", 2), ("Void", "confirmed", 2), ("Void", "new", 1),
        ("Void", "rejected", 1)])
    doc = svg(env, "receipts_per_hour")
    assert [len(p.get("points").split()) for p in doc.iterfind("s:polyline", NS)] == [3, 3]
    doc = svg(env, "pipeline_lag", store="store-1")
    assert len(doc.findall("s:polyline", NS)) == 1
    doc = svg(env, "top_void_cashiers")
    assert "no data" not in etree.tostring(doc).decode()


def test_unknown_chart_and_bad_range(env: Env) -> None:
    c = env.client("viewer")
    assert c.get("/api/charts/nope.svg").status_code == 404
    assert c.get("/api/charts/pipeline_lag.svg", params={"from": T0, "to": T0 - 1}).status_code == 400
    assert "no data" in c.get("/api/charts/pipeline_lag.svg",
                              params={"from": T0, "to": T0 + 1}).text
    assert env.client("anonymous").get("/api/charts/pipeline_lag.svg").status_code == 401


def chart_images(env: Env, role: str) -> list[str]:
    r = env.client(role).get("/reports")
    assert r.status_code == 200, r.text
    return [str(src) for src in html.fromstring(r.text).xpath("//section[@id='charts']//img/@src")]


def test_reports_page_shows_the_charts(env: Env) -> None:
    for role in ("viewer", "operator", "analyst", "admin"):
        srcs = chart_images(env, role)
        assert srcs == [f"/api/charts/{name}.svg" for name in charts.CHARTS], role
        for src in srcs:  # each one loads for the same session
            r = env.client(role).get(src)
            assert r.status_code == 200 and r.headers["content-type"].startswith(SVG_TYPE), src


def test_reports_page_hides_charts_from_roles_that_may_not_see_them(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "ROLE", "admin")  # as if the charts were for admins only
    assert chart_images(env, "viewer") == []
    assert len(chart_images(env, "admin")) == len(charts.CHARTS)
