"""Worker faults, publisher-driven traffic (the adapters' producer, acks=all):
0. baseline: nothing broken (the reconciliation itself comes out clean);
1. one worker SIGKILLed and restarted three times during traffic;
5. two workers sharing the partitions, one SIGKILLed: the other takes over.

Each scenario runs once per module (a fixture); one test checks the events (every
acknowledged event stored once, in order per terminal), another the incidents."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.faults.harness import (
    FAUST_STATE_REASON,
    SUMMARY,
    Diagnosed,
    Outcome,
    PublisherTraffic,
    Stack,
    chain_events,
    diagnosed,
    faust_changelogs_raw,
    ready,
    reconcile,
    recovered,
    repartition_duplicates,
    settle,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]
faust_state = pytest.mark.xfail(condition=not faust_changelogs_raw(), strict=True,
                                raises=Diagnosed, reason=FAUST_STATE_REASON)


@pytest.fixture(scope="module")
def baseline(make_stack: Any) -> Outcome:
    stack: Stack = make_stack("baseline")
    w = stack.worker("w1").start()
    ready(stack, w)
    events = chain_events(1500, seed=100)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=300).start()
    traffic.join()
    took = settle(stack, len(traffic.acked), procs=[w])
    out = reconcile(stack, events, traffic.acked)
    out.recover_seconds = took
    SUMMARY.add("0 baseline (no fault)", out)
    return out


def test_baseline_events(baseline: Outcome) -> None:
    assert baseline.events_clean, baseline.explain()


def test_baseline_incidents(baseline: Outcome) -> None:
    assert baseline.incidents_expected > 10, "the traffic must exercise the detectors"
    assert baseline.incidents_clean, baseline.explain()


@pytest.fixture(scope="module")
def killed_thrice(make_stack: Any) -> Outcome:
    stack: Stack = make_stack("worker-kill")
    w = stack.worker("w1").start()
    ready(stack, w)
    events = chain_events(3000, seed=101)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=100).start()
    recover, kills = [], []
    for k in range(3):
        wait_until(lambda k=k: traffic.progress() >= (k + 1) / 4, 120, "traffic progress")
        t_kill = time.monotonic()
        w.kill()
        kills.append(len(traffic.acked))
        w.start()
        recovered(stack, traffic, t_kill, [w])
        ready(stack, w)  # the agents too (they come up after the sink)
        recover.append(time.monotonic() - t_kill)
    traffic.join()
    settle(stack, len(traffic.acked), procs=[w])
    out = reconcile(stack, events, traffic.acked)
    out.recover_seconds = max(recover)
    out.notes.append(f"killed after {kills} events")
    out.repartition_doubles = repartition_duplicates(stack)
    out.notes.append(f"{out.repartition_doubles} events twice on the repartition topics")
    SUMMARY.add("1 worker SIGKILL x3", out,
                f"incidents {out.incidents_rows}/{out.incidents_expected} missing "
                f"{len(out.incidents_missing)} extra {len(out.incidents_extra)}; "
                f"{out.repartition_doubles} events twice on repartition topics")
    return out


def test_worker_sigkill_x3_events(killed_thrice: Outcome) -> None:
    assert killed_thrice.events_clean, killed_thrice.explain()


@faust_state
def test_worker_sigkill_x3_incidents(killed_thrice: Outcome) -> None:
    # A restarted router may forward an event to pos.detect.<scope> twice (at least once,
    # counted in the summary); detect_<scope> skips the copy by event id (finding 4, fixed).
    diagnosed(killed_thrice.incidents_clean, killed_thrice.explain())


@pytest.fixture(scope="module")
def takeover(make_stack: Any) -> Outcome:
    stack: Stack = make_stack("takeover")
    w1, w2 = stack.worker("w1").start(), stack.worker("w2").start()
    ready(stack, w1, w2)
    events = chain_events(2400, seed=105)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=120).start()
    wait_until(lambda: traffic.progress() >= 0.4, 120, "traffic progress")
    before = stack.recoveries(w1)
    t_kill = time.monotonic()
    w2.kill()
    recovered(stack, traffic, t_kill, [w1])
    wait_until(lambda: stack.agents_running(w1, before), 90, "w1 takes over", [w1])
    recover = time.monotonic() - t_kill
    traffic.join()
    settle(stack, len(traffic.acked), procs=[w1])
    out = reconcile(stack, events, traffic.acked)
    out.recover_seconds = recover
    SUMMARY.add("5 two workers, one SIGKILL", out)
    return out


def test_takeover_events(takeover: Outcome) -> None:
    assert takeover.events_clean, takeover.explain()


@faust_state
def test_takeover_incidents(takeover: Outcome) -> None:
    diagnosed(takeover.incidents_clean, takeover.explain())
