"""Adapter and broker faults, with terminals sending over TCP through `posguard ingest`
(half DSSL XML, half NDJSON) and a `posguard worker` storing into the test's chDB.

2. The adapter is SIGKILLed mid-stream and restarted: every event it acknowledged (held for
   ACK_WINDOW, see harness) is stored once, in order per terminal.
3. The broker (Tansu, in memory) is stopped for `POSGUARD_FAULTS_BROKER_OUTAGE` seconds
   (default 10; the issue's figure is 30) and started again empty on the same port; the adapter
   is SIGKILLed and restarted during the outage. What is guaranteed: everything the adapter
   accepted while the broker was away reaches the store once, in order (the spool survives a
   SIGKILL); everything stored before stays stored once (the sink resumes per topic
   incarnation); and the events the broker had acknowledged but no sink had stored yet, gone
   with its memory, come back from the adapter's journal when it sees the topic id change
   (shown deterministically: the worker is stopped 2 s before the broker, so those 2 s live
   only in Kafka).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from posguard.streams.broker import EmbeddedBroker, free_port
from tests.faults.harness import (
    SUMMARY,
    Outcome,
    Stack,
    TerminalTraffic,
    chain_events,
    ready,
    reconcile,
    recovered,
    settle,
    wait_port,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]
BROKER_OUTAGE = float(os.environ.get("POSGUARD_FAULTS_BROKER_OUTAGE", "10"))


def start_adapter(stack: Stack, traffic: TerminalTraffic) -> Any:
    a = stack.adapter("adapter", traffic.terminals()).start()
    for port in traffic.ports.values():
        wait_port(port)
    return a


@pytest.fixture(scope="module")
def adapter_killed(make_stack: Any) -> Outcome:
    stack: Stack = make_stack("adapter-kill")
    w = stack.worker("w1").start()
    events = chain_events(2400, seed=102)
    traffic = TerminalTraffic(events, {"dssl-xml": free_port(), "json": free_port()},
                              rate=150)
    a = start_adapter(stack, traffic)
    ready(stack, w)
    traffic.start()
    wait_until(lambda: traffic.progress() >= 0.4, 60, "traffic progress", [a, w])
    traffic.kill_at = time.monotonic()
    a.kill()
    traffic.generation = traffic.restarted_generation
    a = start_adapter(stack, traffic)
    recover = recovered(stack, traffic, traffic.kill_at, [a, w])
    traffic.join()
    acked = traffic.acknowledged()
    settle(stack, len(acked), procs=[a, w])
    out = reconcile(stack, events, acked)
    out.recover_seconds = recover
    window = len(traffic.sent) - len(acked)
    out.notes.append(f"{window} sent within {1.0}s before the kill or into the dead "
                     f"connection (not acknowledged); {len(traffic.sent)} sent in all")
    SUMMARY.add("2 adapter SIGKILL", out, f"{window} unacknowledged at the kill; incidents "
                f"{out.incidents_rows}/{out.incidents_expected}")
    return out


def test_adapter_kill_loses_no_acknowledged_event(adapter_killed: Outcome) -> None:
    assert adapter_killed.events_clean, adapter_killed.explain()


def test_adapter_kill_incidents(adapter_killed: Outcome) -> None:
    assert adapter_killed.incidents_clean, adapter_killed.explain()


class BrokerOutage:
    """What scenario 3 leaves for its checks."""

    def __init__(self, out: Outcome, spooled: list[str], before: list[str],
                 broker_only: list[str]):
        self.out, self.spooled, self.before, self.broker_only = out, spooled, before, \
            broker_only


@pytest.fixture(scope="module")
def broker_outage(make_stack: Any) -> BrokerOutage:
    broker = EmbeddedBroker(port=free_port()).start()
    try:
        stack: Stack = make_stack("broker-outage", bootstrap=broker.bootstrap)
        w = stack.worker("w1").start()
        events = chain_events(3000, seed=103)
        traffic = TerminalTraffic(events, {"dssl-xml": free_port(), "json": free_port()},
                                  rate=120)
        a = start_adapter(stack, traffic)
        ready(stack, w)
        traffic.start()
        wait_until(lambda: traffic.progress() >= 0.25, 60, "traffic progress", [a, w])
        t_worker_stop = time.monotonic()
        w.stop()  # the sink stops here: what follows lives only in the broker ...
        time.sleep(2.0)
        # ... and is gone with its memory. Tansu takes seconds to exit on SIGTERM and keeps
        # acknowledging produce requests meanwhile: the outage starts when it is gone.
        broker.stop()
        t_down, t_down_wall = time.monotonic(), int(time.time() * 1e6)
        time.sleep(BROKER_OUTAGE / 2)
        traffic.kill_at = time.monotonic()
        a.kill()  # the spool must survive a SIGKILL
        traffic.generation = traffic.restarted_generation
        a = start_adapter(stack, traffic)
        time.sleep(BROKER_OUTAGE / 2)
        broker.start()
        stack.create_topics()  # what `posguard up` / `worker` do at start
        t_up = time.monotonic()
        w.start()  # Faust's changelog and repartition topics are gone too: a fresh start

        def caught_up() -> bool:  # everything acknowledged since the outage began is stored
            now = time.monotonic()
            want = traffic.acked_before(now - 1.0) - traffic.acked_before(t_down)
            got = stack.backend.query(
                f"SELECT count() FROM {stack.db}.events WHERE ts_received >= {{t:Int64}}",
                {"t": t_down_wall}).scalar()
            return now > t_up + 1.5 and int(got) >= want

        recover = wait_until(caught_up, 60, "the spool to be stored", [a, w], 0.1,
                             soft=True) + (t_up - t_down)
        ready(stack, w)
        traffic.join()
        acked = traffic.acknowledged()
        sent_at = {ev.event_id: when for ev, when, _ in traffic.sent}
        before = [e.event_id for e in acked if sent_at[e.event_id] < t_worker_stop - 1.0]
        broker_only = [e.event_id for e in acked
                       if t_worker_stop - 1.0 <= sent_at[e.event_id] < t_down]
        spooled = [e.event_id for e in acked if sent_at[e.event_id] >= t_down]
        settle(stack, len(before) + len(spooled), procs=[a, w])
        out = reconcile(stack, events, acked)
        out.recover_seconds = recover
        lost = set(out.lost)
        SUMMARY.add(f"3 broker down {BROKER_OUTAGE:.0f}s", out,
                    f"spooled {len(spooled)} lost {len(lost & set(spooled))}; in broker only "
                    f"{len(broker_only)} lost {len(lost & set(broker_only))}; incidents "
                    f"{out.incidents_rows}/{out.incidents_expected}")
        return BrokerOutage(out, spooled, before, broker_only)
    finally:
        broker.stop()


def test_broker_outage_spool_delivers_everything_once(broker_outage: BrokerOutage) -> None:
    out = broker_outage.out
    lost = set(out.lost)
    assert broker_outage.spooled and not lost & set(broker_outage.spooled), out.explain()
    assert not lost & set(broker_outage.before), out.explain()
    assert not out.doubled and not out.unexpected and not out.out_of_order, out.explain()


def test_broker_outage_incidents_stored_once(broker_outage: BrokerOutage) -> None:
    """Incidents are stored once each and only from stored events. Whether they equal an
    archive run is not asked: the Faust changelogs lived in the broker's memory too, so the
    restarted worker's detectors start from empty state (the summary shows the difference)."""
    out = broker_outage.out
    assert not out.incidents_doubled, out.explain()
    assert out.incidents_rows > 0, out.explain()


def test_broker_outage_keeps_what_the_broker_acknowledged(broker_outage: BrokerOutage) -> None:
    """Events the in-memory broker acknowledged but no sink had stored are gone with its
    memory; the adapter's journal (ingest/journal.py) sends them again when it sees the
    topic id of pos.events change, and the sink stores each once (raw rows)."""
    out = broker_outage.out
    lost = set(out.lost)
    assert broker_outage.broker_only, "the scenario must leave events only in the broker"
    assert not lost & set(broker_outage.broker_only), out.explain()
    assert not out.doubled and not out.out_of_order, out.explain()
