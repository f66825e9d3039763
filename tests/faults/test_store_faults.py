"""Scenario 4: ClickHouse unavailable for a while under traffic.

The worker writes through `--clickhouse` to a ClickHouse-HTTP endpoint this test serves from
its own chDB (`ChdbHttpServer` on a fixed port); the endpoint is stopped for
`POSGUARD_FAULTS_STORE_OUTAGE` seconds (default 15; the issue's figure is 30) and started
again on the same port. The sink must pause, back off (0.5 s doubling to 30 s), lose nothing,
write nothing twice, and not spin: its retries are counted from its log."""

from __future__ import annotations

import math
import os
import time
from typing import Any

import pytest

from posguard.store.chdb_http import ChdbHttpServer
from posguard.streams.broker import free_port
from tests.faults.harness import (
    SUMMARY,
    Outcome,
    PublisherTraffic,
    Stack,
    chain_events,
    ready,
    reconcile,
    recovered,
    settle,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]
OUTAGE = float(os.environ.get("POSGUARD_FAULTS_STORE_OUTAGE", "15"))
RETRY_LINE = "insert into ClickHouse failed"


@pytest.fixture(scope="module")
def store_outage(make_stack: Any, chdb_engine: Any) -> tuple[Outcome, int]:
    port = free_port()
    server = ChdbHttpServer(chdb_engine.session, port=port, lock=chdb_engine.lock).start()
    try:
        stack: Stack = make_stack("store-outage", url=server.url)
        w = stack.worker("w1").start()
        ready(stack, w)
        events = chain_events(2400, seed=104)
        traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=100).start()
        wait_until(lambda: traffic.progress() >= 0.2, 60, "traffic progress")
        server.stop()
        time.sleep(OUTAGE)
        stored_during = stack.stored_count()
        server = ChdbHttpServer(chdb_engine.session, port=port, lock=chdb_engine.lock).start()
        t_up = time.monotonic()
        recover = recovered(stack, traffic, t_up, [w])
        traffic.join()
        settle(stack, len(traffic.acked), procs=[w])
        out = reconcile(stack, events, traffic.acked)
        out.recover_seconds = recover
        retries = w.log().count(RETRY_LINE)
        out.notes.append(f"retries {retries}, rows stored at the end of the outage "
                         f"{stored_during}")
        SUMMARY.add(f"4 ClickHouse down {OUTAGE:.0f}s", out,
                    f"sink retries {retries}; incidents {out.incidents_rows}/"
                    f"{out.incidents_expected}")
        return out, retries
    finally:
        server.stop()


def test_store_outage_loses_and_doubles_nothing(store_outage: tuple[Outcome, int]) -> None:
    out, _ = store_outage
    assert out.events_clean, out.explain()
    assert out.incidents_clean, out.explain()


def test_store_outage_backs_off_instead_of_spinning(store_outage: tuple[Outcome, int]) -> None:
    out, retries = store_outage
    # 0.5 s doubling: an outage of T seconds takes about log2(T / 0.5) + 1 retries per
    # blocked insert; allow a second blocked batch and the assignment look-up besides.
    bound = 2 * (math.ceil(math.log2(OUTAGE / 0.5)) + 2)
    assert 1 <= retries <= bound, out.explain()
