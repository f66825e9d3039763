"""Live stream and notifications: SSE framing, replay window, late rows, no duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import T0, Env, env_for, ev, fill, incident

from posguard.console.routes.live import LiveCursor, _poll
from posguard.console.routes.notifications import hub_of, notify
from posguard.store.writer import insert_events, insert_incidents

pytestmark = pytest.mark.integration


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


def sse(text: str) -> list[tuple[str, Any, str]]:
    """(event, data, id) of each message of a text/event-stream body."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            k, v = line.split(": ", 1)
            fields[k] = v
        if "data" in fields:
            out.append((fields.get("event", "message"), json.loads(fields["data"]),
                        fields.get("id", "")))
    return out


def test_live_stream_sends_events_and_incidents_of_the_store(env: Env) -> None:
    fill(env.state.backend)
    r = env.client("viewer").get("/api/live/stream", params={
        "store": "S1", "since_seconds": 3600, "max_seconds": 0.6})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    msgs = sse(r.text)
    events = [d for k, d, _ in msgs if k == "event"]
    assert [e["type"] for e in events][:2] == ["POS_RECEIPT_OPEN", "POS_POSITION_ADD"]
    assert {e["store"] for e in events} == {"S1"} and len(events) == 6
    incidents = [d for k, d, _ in msgs if k == "incident"]
    assert sorted(i["id"] for i in incidents) == ["i1", "i3", "i4"]
    assert all(i["store"] == "S1" for i in incidents)


def test_live_stream_replays_only_the_window(env: Env) -> None:
    fill(env.state.backend)
    r = env.client("viewer").get("/api/live/stream", params={"since_seconds": 0,
                                                              "max_seconds": 0.3})
    assert sse(r.text) == []


def test_poll_picks_up_late_rows_once(env: Env) -> None:
    backend = env.state.backend
    insert_events(backend, [ev("POS_RECEIPT_OPEN", "T1", "1", 0),
                            ev("POS_POSITION_ADD", "T1", "1", 20_000_000)])
    events, incs = LiveCursor(T0), LiveCursor(T0)
    first = _poll(backend, events, incs, ())
    assert len(first) == 2
    assert _poll(backend, events, incs, ()) == []  # nothing new: nothing sent twice
    # a row that lands late (received 5 s before the newest one seen) still comes through
    insert_events(backend, [ev("POS_POSITION_ADD", "T1", "1", 15_000_000)])
    insert_incidents(backend, [incident("late", ts_created=T0 + 1)])
    late = _poll(backend, events, incs, ())
    assert len(late) == 2 and f'"ts_in_receipt": {T0 + 15_000_000}' in late[0]
    assert '"id": "late"' in late[1]
    # a new version of the incident is sent again (the page shows its new status)
    insert_incidents(backend, [incident("late", ts_created=T0 + 1, status=1)], version=5)
    again = _poll(backend, events, incs, ())
    assert len(again) == 1 and '"status": 1' in again[0]
    assert _poll(backend, events, incs, ()) == []


def test_live_cursor_forgets_old_keys() -> None:
    c = LiveCursor(0, lookback=10)
    assert c.admit("a", 5) and not c.admit("a", 5)
    assert c.admit("b", 100)
    c.prune()
    assert set(c.seen) == {"b"} and c.query_from() == 90
    assert not c.admit("old", 50) or c.query_from() == 90  # below the edge is not re-read


def test_live_terminals(env: Env) -> None:
    fill(env.state.backend)
    c = env.client("viewer")
    assert c.get("/api/live/terminals", params={"minutes": 10}).json() == []  # 1 h old
    got = c.get("/api/live/terminals", params={"minutes": 120}).json()
    assert [(t["store"], t["terminal"], t["associated_channel"]) for t in got] == [
        ("S1", "T1", "cam1"), ("S2", "T2", "cam1")]
    assert got[0]["last_ts"] == T0 + 5_000_100


def test_notifications_list_stream_and_resume(env: Env) -> None:
    state = env.state
    n1 = notify(state, "alert", "Alcohol after 11pm on T1", "night.py")
    n2 = notify(state, "error", "script crashed", "night.py")
    c = env.client("viewer")
    listed = c.get("/api/notifications").json()
    assert [(n["level"], n["text"], n["source"]) for n in listed] == [
        ("alert", "Alcohol after 11pm on T1", "night.py"), ("error", "script crashed", "night.py")]
    assert listed[0]["ts"] == env.console.now_us()
    assert c.get("/api/notifications", params={"after": n1.id}).json()[0]["id"] == n2.id
    r = c.get("/api/notifications/stream", params={"after": 0, "max_seconds": 0.3})
    assert [(k, d["text"], i) for k, d, i in sse(r.text)] == [
        ("notification", "Alcohol after 11pm on T1", str(n1.id)),
        ("notification", "script crashed", str(n2.id))]
    # EventSource reconnects with Last-Event-ID: only what came after
    r = c.get("/api/notifications/stream", params={"max_seconds": 0.3},
              headers={"Last-Event-ID": str(n1.id)})
    assert [d["id"] for _, d, _ in sse(r.text)] == [n2.id]
    # without after / Last-Event-ID a stream starts with what comes next
    r = c.get("/api/notifications/stream", params={"max_seconds": 0.3})
    assert sse(r.text) == []
    # the script host of a cluster posts with the node token
    t = env.client("token").post("/api/notifications", json={"level": "message", "text": "hi",
                                                             "source": "s.py"})
    assert t.status_code == 201 and t.json()["id"] == n2.id + 1
    with pytest.raises(ValueError):
        notify(state, "shout", "x")


def test_notification_buffer_is_bounded(env: Env) -> None:
    hub = hub_of(env.state)
    for i in range(600):
        hub.add("message", f"m{i}")
    got = hub.after(0)
    assert len(got) == 500 and got[0].text == "m100" and hub.last_id == 600


def test_console_notifier_for_the_script_host(env: Env) -> None:
    from posguard.console.web_setup import console_notifier

    send = console_notifier(env.state)
    send("alert", "from a script", "s.py")
    send("shout", "odd level", "s.py")
    got = [(n.level, n.text) for n in hub_of(env.state).after(0)]
    assert got == [("alert", "from a script"), ("message", "odd level")]
