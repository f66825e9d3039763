"""BatchFeed: a high-volume topic's records handed to its agent a fetch at a time.

Faust hands each message to an agent through its conductor, a channel queue and the stream
iterator: two tasks, several awaits and a message object per record. A Faust agent that did
nothing with its events reached ~12.6k events/s here that way, and the worker could not pass
it (bench/README.md). For the worker's high-volume topics (pos.events and the repartition
topics) the transport (streams/transport.py) puts each fetch's records of a partition into
the topic's feed as one list instead, and the agent takes them in batches of `Record`s.
Everything else stays Faust's: the consumer, its group and rebalances, the committed offsets
(the agent acknowledges a batch's offsets into Faust's own bookkeeping, `acknowledge`), the
tables and their changelog recovery, the other topics' agents.

Rebalances: the feed is a `FlowControlQueue` of the app's flow control, which Faust clears
when a rebalance starts, as it clears its channels. A batch the agent has taken counts as one
of Faust's unacknowledged messages until the agent asks for the next one (as a stream's
event does until it is acknowledged), so a rebalance waits until the agent is done with it,
and not for records cleared unread.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any

import faust
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify
from mode.utils.queues import FlowControlQueue

from posguard.streams.steps import Record

__all__ = ["BatchFeed", "feeds_of", "FEED_MAX_RECORDS"]

# records a feed holds before the fetch loop waits for the agent: a few batches, so that a
# batch is as big as the agent can take (a bound on fetched lists would cap the batches:
# lists are a partition's share of one fetch, often a few dozen records)
FEED_MAX_RECORDS = 20_000

_feeds: weakref.WeakKeyDictionary[Any, dict[str, BatchFeed]] = weakref.WeakKeyDictionary()


def feeds_of(app: faust.App) -> dict[str, BatchFeed]:
    """The app's feeds by topic name (empty: every topic takes Faust's own path)."""
    return _feeds.setdefault(app, {})


class _BatchInHand:
    """Stands for a taken batch among Faust's unacknowledged messages (which a rebalance
    and a stopping worker wait for): one entry per batch instead of one per record."""

    __slots__ = ("acked", "refcount", "__weakref__")

    def __init__(self) -> None:
        self.acked = False
        self.refcount = 1  # Faust's wait_empty logs it


class _FetchQueue(FlowControlQueue):  # type: ignore[type-arg]
    """The feed's queue: Faust's flow control clears it at a rebalance; the feed then
    forgets the records it counted."""

    def __init__(self, feed: BatchFeed, flow_control: Any):
        self.feed = feed
        super().__init__(flow_control=flow_control, clear_on_resume=True)

    def clear(self) -> None:
        super().clear()
        self.feed._taken(self.feed.pending)


class BatchFeed:
    """The fetched records of one topic: lists of one partition's records, in offset order."""

    def __init__(self, app: faust.App, topic: str, max_records: int = FEED_MAX_RECORDS):
        self.app = app
        self.topic = topic
        self.max_records = max_records
        self.pending = 0  # records in the queue
        self._room = asyncio.Event()
        self._room.set()
        self.queue: FlowControlQueue[list[Record]] = _FetchQueue(self, app.flow_control)
        feeds_of(app)[topic] = self

    def full(self) -> bool:
        return self.pending >= self.max_records

    async def room(self) -> None:
        """Wait until the feed holds fewer than `max_records` records."""
        await self._room.wait()

    def put(self, records: list[Record]) -> None:
        """Add one partition's share of a fetch (the fetch loop waits for `room` first)."""
        self.queue.put_nowait(records)
        self.pending += len(records)
        if self.full():
            self._room.clear()

    def _taken(self, n: int) -> None:
        self.pending -= n
        if not self.full():
            self._room.set()

    def _counted(self, records: list[Record]) -> list[Record]:
        """A list just taken from the queue (a copy: the batch grows)."""
        self._taken(len(records))
        return list(records)

    async def batches(self, max_records: int, within: float) -> AsyncIterator[list[Record]]:
        """Batches of at most about `max_records` records (whole fetches), each given out
        as soon as it is full or `within` seconds after its first fetch arrived. A batch is
        in hand until the next one is asked for."""
        queue = self.queue
        while True:
            batch = self._counted(await queue.get())
            deadline = time.monotonic() + within
            while len(batch) < max_records:
                if queue.empty():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        batch += self._counted(await asyncio.wait_for(queue.get(), left))
                    except TimeoutError:
                        break
                else:
                    batch += self._counted(queue.get_nowait())
            unacked = self.app.consumer._unacked_messages
            in_hand = _BatchInHand()
            unacked.add(in_hand)
            try:
                yield batch
            finally:
                in_hand.acked = True
                unacked.discard(in_hand)
                notify(self.app.consumer._waiting_for_ack)

    def acknowledge(self, records: Iterable[Record]) -> None:
        """Mark processed records' offsets acknowledged, as Faust's `Consumer.ack` does for
        each message it delivered: its commits then move up to them."""
        by_partition: dict[int, list[int]] = {}
        for r in records:
            by_partition.setdefault(r[0], []).append(r[1])
        consumer = self.app.consumer
        with ack_lock:
            for partition, offsets in by_partition.items():
                tp = TP(self.topic, partition)
                committed = consumer._committed_offset[tp]
                index = consumer._acked_index[tp]
                new = [o for o in offsets
                       if (committed is None or o >= committed) and o not in index]
                index.update(new)
                consumer._acked[tp].extend(new)
                consumer._n_acked += len(new)
            notify(consumer._waiting_for_ack)
