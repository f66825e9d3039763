"""The worker's Faust transport: Faust's aiokafka transport with a short fetch wait, and
whole fetches handed to the feeds of the high-volume topics.

- Faust builds its aiokafka consumer with a fixed 1.5 s `fetch_max_wait_ms`; a broker that
  answers a fetch only when that wait ends (Tansu does) then adds up to 1.5 s to an event's
  way through each agent of the worker.
- The fetch loop (`_drain_messages`) puts the records a fetch brought for a topic with a
  `BatchFeed` (streams/batch_feed.py) into that feed, one list of (partition, offset, key,
  value) per partition, with no Faust message object per record; the records
  of every other topic (changelogs during recovery, pos.detectors) go through Faust's
  conductor one by one, as in Faust's own loop. The checks are Faust's `getmany`'s: nothing
  is handed on while the flow is stopped (a rebalance) or after the group generation
  changed during the fetch, and only records of active partitions.

(Tried before and left out: a fetch loop delivering each fetched batch message by message in
one task; changelog recovery stalled after rebalances, since that task was cancelled midway
through batches that mixed changelog and other records.)

Selected with the broker URL scheme `posguard://` (entry point `faust.transports` in
pyproject.toml).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from posguard.streams.batch_feed import feeds_of

__all__ = ["Transport", "ShortFetchWaitConsumer"]

FETCH_MAX_WAIT_MS = 50  # how long the broker may hold a fetch that has nothing to return


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes fetch_max_wait_ms=1500 with no setting to change it; aiokafka reads
        # this attribute when it starts the consumer's fetcher
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class ShortFetchWaitConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with a short fetch wait, feeding whole fetches to feeds."""

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        if not feeds_of(self.app):
            return await super()._drain_messages(fetcher)
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetch, active = await self._wait_next_records(1.0)
                await self.sleep(0)  # a fetch may return at once, again and again
                if fetch is None or self.should_stop:
                    continue
                if not self.flow_active:
                    await self._seek_back()
                    continue
                await self._hand_on(fetch, active, self.app.consumer_generation_id)
                await self._commit_if_due()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _seek_back(self) -> None:
        """What Faust's getmany does when called with the flow stopped."""
        try:
            await self.perform_seek()
        except Exception as e:  # as Faust: the next rebalance seeks again
            self.log.warning("exception performing seek when flow not active %r", e)

    def _rebalancing(self, generation: int) -> bool:
        """A rebalance began since the fetch (the new assignment reads from the commits)."""
        return not self.flow_active or self.app.consumer_generation_id != generation

    async def _hand_on(self, fetch: Any, active: set[TP] | None, generation: int) -> None:
        feeds = feeds_of(self.app)
        read_offset = self._read_offset
        for tp, fetched in fetch.items():
            if self._rebalancing(generation):
                return
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            feed = feeds.get(tp.topic)
            last = read_offset[tp]
            if feed is None:
                for record in fetched:
                    if self._rebalancing(generation):
                        return
                    await self._deliver_one(tp, record)
                continue
            # plain tuples, the shape of steps.Record, without a message object per record
            p = tp.partition
            batch = [(p, r.offset, r.key, r.value) for r in fetched
                     if last is None or r.offset >= last]
            if not batch:
                continue
            await self._note_gaps(tp, last, [r[1] for r in batch])
            if feed.full():  # the agent is behind: wait for it, unless a rebalance begins
                room = feed.room()
                waited = await self.wait_first(room, self.suspend_flow.wait())
                if room not in waited.done or not self.flow_active:
                    return
            feed.put(batch)
            read_offset[tp] = batch[-1][1]

    async def _note_gaps(self, tp: TP, last: int | None, offsets: list[int]) -> None:
        """Offsets missing between records: Faust records them as gaps, which its commits
        step over (compaction, transaction markers; for records Faust dropped around a
        rebalance the agents read them back first: streams/delivery.py)."""
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        prev = last
        for offset in offsets:
            if prev and offset - prev > 1:
                await self._add_gap(tp, prev + 1, offset)
            prev = offset

    async def _commit_if_due(self) -> None:
        """Faust's `broker_commit_every`: commit after that many acknowledgements."""
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()

    async def _deliver_one(self, tp: TP, record: Any) -> None:
        """One record through Faust's conductor, as Faust's own fetch loop does it."""
        last = self._read_offset[tp]
        message = self._to_message(tp, record)
        if last is not None and message.offset < last:
            return  # delivered already (a re-fetch after a seek)
        await self._note_gaps(tp, last, [message.offset])
        await self._commit_if_due()
        await self.wait_first(self.callback(message), self.suspend_flow.wait())
        self._read_offset[tp] = message.offset


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with `ShortFetchWaitConsumer`."""

    Consumer = ShortFetchWaitConsumer
