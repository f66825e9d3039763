"""Incidents over HTTP: the Table 14 filters, one incident with its receipt, the review
lifecycle with versions, history rows and review_duration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import T0, Env, env_for, fill

from posguard.model.incident_filters import IncidentFlag
from posguard.store.incidents import get_incident, incident_history

pytestmark = pytest.mark.integration


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


def ids(env: Env, **params: Any) -> list[str]:
    r = env.client("viewer").get("/api/incidents", params=params)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["incidents"]]


def test_table14_filters(env: Env) -> None:
    fill(env.state.backend)
    assert ids(env) == ["i4", "i3", "i2", "i1"]  # newest first
    assert ids(env, cashiers=["Petrova A"]) == ["i2"]
    assert ids(env, terminals=["T1"]) == ["i4", "i3", "i1"]
    assert ids(env, detectors_names=["LARGEDSC"]) == ["i2"]  # detector GUID
    assert ids(env, detectors_names=["Delete without admin"]) == ["i4", "i3", "i1"]  # type name
    assert ids(env, experts=["ann", "bob"]) == ["i4", "i3"]
    assert ids(env, incidents_ids=["i1", "i4"]) == ["i4", "i1"]
    assert ids(env, incidents_ids=["PGI00002"]) == ["i2"]  # a type GUID
    assert ids(env, flags=int(IncidentFlag.FILTER_NEW)) == ["i2", "i1"]
    assert ids(env, flags=int(IncidentFlag.FILTER_CONFIRMED)) == ["i3"]
    assert ids(env, flags=int(IncidentFlag.FILTER_DECLINED)) == ["i4"]
    assert ids(env, flags=int(IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_DECLINED)) == [
        "i4", "i3"]
    assert ids(env, flags=int(IncidentFlag.FILTER_CONFIRMED
                              | IncidentFlag.FILTER_NONEMPTY_ESTIMATE)) == ["i3"]
    assert ids(env, flags=int(IncidentFlag.FILTER_NONEMPTY_ESTIMATE)) == ["i3"]
    assert ids(env, limit=2) == ["i4", "i3"]
    assert ids(env, limit=2, offset=2) == ["i2", "i1"]
    assert ids(env, limit=-1) == ["i4", "i3", "i2", "i1"]
    assert ids(env, **{"from": str(T0 + 25_000_000)}) == ["i4", "i3"]
    assert ids(env, to=str((T0 + 25_000_000) / 1e6)) == ["i2", "i1"]  # seconds work too
    assert ids(env, terminals=["T1"], flags=int(IncidentFlag.FILTER_NEW)) == ["i1"]
    total = env.client("viewer").get("/api/incidents", params={"limit": 1}).json()["total"]
    assert total == 4
    assert env.client("viewer").get("/api/incidents", params={"flags": 16}).status_code == 422


def test_one_incident_has_its_receipt_with_triggering_lines(env: Env) -> None:
    fill(env.state.backend)
    r = env.client("viewer").get("/api/incidents/i1")
    assert r.status_code == 200
    body = r.json()
    assert body["incident"]["id"] == "i1" and body["incident"]["version"] == 0
    types = [e["type"] for e in body["events"]]
    assert types == ["POS_RECEIPT_OPEN", "POS_POSITION_ADD", "POS_POSITION_ADD",
                     "POS_POSITION_DELETE", "POS_PAYMENT_CASH", "POS_RECEIPT_CLOSE"]
    assert [e["triggering"] for e in body["events"]] == [False, False, False, True, False, False]
    assert body["video"] == {"channel": "cam1", "ts_received": T0 + 3_000_100}
    assert body["served_at"] == env.console.now_us()
    assert env.client("viewer").get("/api/incidents/nope").status_code == 404


def review(env: Env, body: dict[str, Any], role: str = "operator") -> Any:
    r = env.client(role).post("/api/incidents/i1/review", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_lifecycle_new_confirmed_rejected_new(env: Env) -> None:
    fill(env.state.backend)
    backend = env.state.backend
    env.client("operator")
    opened = env.console.now_us()
    env.clock.t += 30  # the reviewer looks at it for 30 s
    out = review(env, {"status": "confirmed", "expert_estimate": 12_345, "comment": "seen on video",
                       "review_started": opened, "version": 0})
    inc = out["incident"]
    assert inc["status"] == 1 and inc["expert"] == "u_operator"
    assert inc["expert_estimate"] == 12_345 and inc["comment"] == "seen on video"
    assert inc["review_ts"] == env.console.now_us()
    assert inc["review_duration"] == 30_000_000
    v1 = inc["version"]
    assert v1 > 0

    # someone else (admin) reviews from a stale page: refused
    stale = env.client("admin").post("/api/incidents/i1/review",
                                     json={"status": "rejected", "version": 0})
    assert stale.status_code == 409

    opened = env.console.now_us()
    env.clock.t += 10
    inc = review(env, {"status": "rejected", "review_started": opened, "version": v1},
                 role="admin")["incident"]
    assert inc["status"] == 2 and inc["expert"] == "u_admin"
    assert inc["expert_estimate"] == 12_345  # kept when not sent
    assert inc["review_duration"] == 40_000_000  # time spent adds up
    v2 = inc["version"]
    assert v2 > v1

    env.clock.t += 5
    inc = review(env, {"status": "new"})["incident"]
    assert inc["status"] == 0 and inc["expert"] == "" and inc["review_ts"] == 0
    assert inc["review_duration"] == 40_000_000

    stored, version = get_incident(backend, "i1")  # type: ignore[misc]
    assert stored.status == 0 and version == inc["version"] > v2
    hist = incident_history(backend, "i1")
    assert [(h.action, h.user, h.status) for h in hist] == [
        ("confirm", "u_operator", 1), ("reject", "u_admin", 2), ("reopen", "u_operator", 0)]
    assert [h.version for h in hist] == [v1, v2, version]
    assert hist[0].expert_estimate == 12_345 and hist[0].comment == "seen on video"
    api_hist = env.client("viewer").get("/api/incidents/i1/history").json()
    assert [h["action"] for h in api_hist] == ["confirm", "reject", "reopen"]
    # the list shows the newest version only, and the filters see it
    assert ids(env, flags=int(IncidentFlag.FILTER_NEW)) == ["i2", "i1"]
    assert ids(env, experts=["u_admin"]) == []
    # a stale review start (a tab left open for days) is clamped to one day
    # (sessions end after 8 idle hours, so this one comes with the node token)
    env.clock.t += 3 * 86400
    inc = review(env, {"status": "confirmed", "review_started": 1}, role="token")["incident"]
    assert inc["expert"] == "api-token"
    assert inc["review_duration"] == 40_000_000 + 86400 * 1_000_000


def test_review_refuses_bad_values(env: Env) -> None:
    fill(env.state.backend)
    c = env.client("operator")
    assert c.post("/api/incidents/i1/review", json={"expert_estimate": -1}).status_code == 422
    assert c.post("/api/incidents/i1/review", json={"status": "maybe"}).status_code == 422
    assert c.post("/api/incidents/i1/review", json={"comment": "x" * 4001}).status_code == 422
    assert c.post("/api/incidents/zzz/review", json={"status": "confirmed"}).status_code == 404
    assert incident_history(env.state.backend, "i1") == []


def test_review_of_an_incident_without_related_events(env: Env) -> None:
    from console_testkit import incident

    from posguard.store.writer import insert_incidents

    insert_incidents(env.state.backend, [incident("bare", related_events=[], related_ts=[])])
    r = env.client("operator").post("/api/incidents/bare/review", json={"status": "rejected"})
    assert r.status_code == 200
