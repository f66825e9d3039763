"""Worker faults: SIGKILL + restart three times during traffic (scenario 1), two workers
sharing the partitions with one killed (scenario 5)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.faults.harness import (
    SUMMARY,
    PublisherTraffic,
    Stack,
    chain_events,
    reconcile,
    settle,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]


def _ready(stack: Stack, *procs: Any) -> None:
    wait_until(lambda: all(stack.sink_assigned(p) and stack.agents_running(p) for p in procs),
               90, "workers ready", procs)


def _caught_up(stack: Stack, n: int, procs: Any) -> float:
    """Seconds until the store holds at least `n` rows."""
    return wait_until(lambda: stack.stored_count() >= n, 120, f"{n} rows stored", procs)


def test_worker_sigkilled_three_times(make_stack: Any) -> None:
    stack: Stack = make_stack("worker-kill")
    w = stack.worker("w1").start()
    _ready(stack, w)
    events = chain_events(3000, seed=101)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=100).start()
    recover = []
    for k in range(3):
        wait_until(lambda k=k: traffic.progress() >= (k + 1) / 4, 120, "traffic progress")
        t_kill = time.monotonic()
        w.kill()
        acked_at_kill = len(traffic.acked)
        w.start()
        _caught_up(stack, acked_at_kill, [w])
        recover.append(time.monotonic() - t_kill)
    traffic.join()
    settle(stack, len(traffic.acked), procs=[w])
    out = reconcile(stack, events, traffic.acked)
    out.recover_seconds = max(recover)
    SUMMARY.add("1 worker SIGKILL x3", out)
    assert out.clean, out.explain()


def test_baseline_without_faults(make_stack: Any) -> None:
    """The same traffic with nothing broken: the reconciliation itself must come out clean."""
    stack: Stack = make_stack("baseline")
    w = stack.worker("w1").start()
    _ready(stack, w)
    events = chain_events(1500, seed=100)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=300).start()
    traffic.join()
    took = settle(stack, len(traffic.acked), procs=[w])
    out = reconcile(stack, events, traffic.acked)
    out.recover_seconds = took
    SUMMARY.add("0 baseline (no fault)", out)
    assert out.clean, out.explain()
