"""BatchFeed: whole fetches into batches, a taken batch held among Faust's unacknowledged
messages until the next is asked for, acknowledgements in Faust's own bookkeeping."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import faust
from faust.types import TP

from posguard.streams.batch_feed import BatchFeed, feeds_of

TOPIC = "pos.events"


def in_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test in a fresh event loop."""
    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())
    return run


def feed() -> BatchFeed:
    # never started: the consumer is built, not connected
    app = faust.App("test-batch-feed", broker="posguard://127.0.0.1:9", store="memory://")
    app.flow_control.resume()
    return BatchFeed(app, TOPIC, max_records=8)


def fetch(partition: int, first: int, n: int) -> list[tuple[int, int, bytes, bytes]]:
    return [(partition, o, b"k", b"v%d" % o) for o in range(first, first + n)]


def test_a_feed_is_found_by_its_topic() -> None:
    f = feed()
    assert feeds_of(f.app)[TOPIC] is f


@in_loop
async def test_whole_fetches_make_a_batch_up_to_the_size() -> None:
    f = feed()
    for first in (0, 3, 6):
        f.put(fetch(0, first, 3))
    batches = f.batches(5, within=0.01)
    first = await batches.__anext__()
    assert [r[1] for r in first] == [0, 1, 2, 3, 4, 5]  # fetches are never split
    second = await batches.__anext__()
    assert [r[1] for r in second] == [6, 7, 8]  # given out when `within` passed
    await batches.aclose()


@in_loop
async def test_a_batch_waits_within_for_more_fetches() -> None:
    f = feed()
    f.put(fetch(1, 0, 2))

    async def later() -> None:
        await asyncio.sleep(0.02)
        f.put(fetch(1, 2, 2))

    task = asyncio.ensure_future(later())
    batches = f.batches(10, within=0.5)
    batch = await batches.__anext__()
    await task
    assert [r[1] for r in batch] == [0, 1, 2, 3]
    await batches.aclose()


@in_loop
async def test_a_taken_batch_is_in_hand_until_the_next_is_asked_for() -> None:
    f = feed()
    unacked = f.app.consumer._unacked_messages
    f.put(fetch(0, 0, 2))
    batches = f.batches(10, within=0.0)
    await batches.__anext__()
    assert len(unacked) == 1  # a rebalance or a stopping worker waits for it
    (in_hand,) = unacked
    f.put(fetch(0, 2, 1))
    await batches.__anext__()
    assert in_hand.acked and in_hand not in unacked
    await batches.aclose()
    assert not unacked


@in_loop
async def test_a_rebalance_clears_what_was_fetched_but_not_taken() -> None:
    f = feed()
    f.put(fetch(0, 0, 2))
    f.app.flow_control.suspend()
    f.app.flow_control.clear()  # what Faust does when partitions are revoked
    assert f.queue.empty() and f.pending == 0


@in_loop
async def test_the_fetch_loop_waits_while_the_feed_is_full() -> None:
    f = feed()
    f.put(fetch(0, 0, 5))
    assert not f.full()
    f.put(fetch(0, 5, 5))
    assert f.full()  # 10 records held, 8 allowed
    room = asyncio.ensure_future(f.room())
    await asyncio.sleep(0)
    assert not room.done()
    batches = f.batches(6, within=0.0)
    await batches.__anext__()  # takes both lists: the fetch loop may go on
    await asyncio.wait_for(room, 1)
    assert f.pending == 0
    await batches.aclose()


def test_acknowledged_offsets_are_what_faust_commits() -> None:
    f = feed()
    consumer = f.app.consumer
    tp0, tp1 = TP(TOPIC, 0), TP(TOPIC, 1)
    consumer._committed_offset[tp0] = 10
    f.acknowledge([(0, 8, b"", b""), (0, 10, b"", b""), (0, 11, b"", b""), (1, 0, b"", b"")])
    f.acknowledge([(0, 11, b"", b""), (0, 12, b"", b"")])  # 11 again: counted once
    assert sorted(consumer._acked[tp0]) == [10, 11, 12]  # 8 was committed already
    assert consumer._n_acked == 4
    assert consumer._new_offset(tp0) == 13
    assert consumer._new_offset(tp1) == 1


def test_a_gap_in_the_acknowledged_offsets_stops_the_commit_before_it() -> None:
    f = feed()
    consumer = f.app.consumer
    f.acknowledge([(0, 0, b"", b""), (0, 1, b"", b""), (0, 3, b"", b"")])
    assert consumer._new_offset(TP(TOPIC, 0)) == 2
