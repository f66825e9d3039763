"""The worker's Faust transport: Faust's aiokafka transport with a leaner fetch loop.

Faust's consumer hands every fetched message to the agents through `wait_first(deliver,
flow suspended)`, which makes two asyncio tasks per message; that alone capped a Faust agent
at about a third of what it reaches without them (bench/README.md). Here the tasks are made
once per fetched batch instead: the batch is delivered message by message in one task, and
if a rebalance suspends the flow meanwhile, that task is cancelled, so the rest of the batch
is not delivered, exactly as Faust's own loop abandons a delivery. Offsets, gaps, acks and
commits are Faust's.

Selected with the broker URL scheme `posguard://` (entry point `faust.transports` in
pyproject.toml).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["Transport", "BatchDeliveryConsumer"]

YIELD_EVERY = 100  # messages between yields to the event loop within a batch


class BatchDeliveryConsumer(faust_aiokafka.Consumer):
    """aiokafka consumer of Faust, delivering each fetched batch in one task."""

    async def _drain_messages(self, fetcher: Any) -> None:
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                if not self.flow_active:
                    await self.wait(self.can_resume_flow)
                    continue
                delivery = asyncio.ensure_future(self._deliver_batch())
                suspended = asyncio.ensure_future(self.suspend_flow.wait())
                try:
                    await asyncio.wait((delivery, suspended),
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (delivery, suspended):
                        if not task.done():
                            task.cancel()
                if delivery.done() and not delivery.cancelled():
                    delivery.result()  # an error of the delivery stops the fetcher
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

    async def _deliver_batch(self) -> None:
        """Fetch one batch and deliver its messages in order."""
        callback = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        self.diag.set_flag(CONSUMER_FETCHING)
        await asyncio.sleep(0)  # getmany may not give the loop a turn between batches
        n = 0
        async for tp, message in self.getmany(timeout=1.0):
            n += 1
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            offset = message.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue  # already delivered (a re-fetch after a seek)
            if last and offset - last > 1 and acks_enabled_for(message.topic):
                # offsets missing (compaction, transaction markers): commits must skip them
                await self._add_gap(tp, last + 1, offset)
            if commit_every is not None and self._n_acked >= commit_every:
                self._n_acked = 0
                await self.commit()
            await callback(message)
            read_offset[tp] = offset
        self.diag.unset_flag(CONSUMER_FETCHING)


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with `BatchDeliveryConsumer`."""

    Consumer = BatchDeliveryConsumer
