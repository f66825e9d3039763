"""The worker's Faust transport: Faust's aiokafka transport with a short fetch wait.

Faust builds its aiokafka consumer with a fixed 1.5 s `fetch_max_wait_ms`; a broker that
answers a fetch only when that wait ends (Tansu does) then adds up to 1.5 s to an event's
way through each agent of the worker.

(Tried and left out: a fetch loop delivering each fetched batch in one task instead of
Faust's two tasks per message. A bare Faust agent ran ~3x faster with it, but changelog
recovery then stalled after rebalances in tests/integration/scale; bench/README.md.)

Selected with the broker URL scheme `posguard://` (entry point `faust.transports` in
pyproject.toml).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

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
    """Faust's aiokafka consumer with a short fetch wait."""

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with `ShortFetchWaitConsumer`."""

    Consumer = ShortFetchWaitConsumer
