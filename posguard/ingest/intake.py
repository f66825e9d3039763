"""Where the listeners hand what they parsed: events to the publisher, rejects to
pos.deadletter, both counted per terminal; rejects logged once per burst."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from posguard.ingest.counters import BurstLog, IngestCounters
from posguard.ingest.publisher import Publisher
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

__all__ = ["Intake"]

log = logging.getLogger("posguard.ingest.rejects")


class Intake:
    """Accepted events -> publisher; Rejected -> deadletter + counters + burst log.

    Args:
        publisher: EventPublisher or DurablePublisher (anything with publish_many and
            publish_deadletter).
        counters: the adapters' counters.
        burst_window: seconds between two log lines about one terminal's rejects.
        clock: monotonic seconds (for the burst log).
    """

    def __init__(self, publisher: Publisher, counters: IngestCounters,
                 burst_window: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.publisher, self.counters, self.clock = publisher, counters, clock
        self.burst = BurstLog(log, burst_window)

    def take(self, results: Sequence[PosEvent | Rejected], port_key: str) -> tuple[int, int]:
        """Publish the events, dead-letter the rejects; returns (accepted, rejected)."""
        if not results:
            return 0, 0
        events = [r for r in results if type(r) is PosEvent]
        if len(events) != len(results):
            rejects = [r for r in results if type(r) is Rejected]
            self.reject(rejects, port_key)
            if events:
                self.accept(events)
            return len(events), len(rejects)
        self.accept(events)
        return len(events), 0

    def accept(self, events: Sequence[PosEvent]) -> None:
        """Publish events (in order) and count them per terminal."""
        self.publisher.publish_many(events)
        self.counters.accepted.update(ev.pos_terminal for ev in events)

    def reject(self, rejects: Sequence[Rejected], port_key: str) -> None:
        """Send rejects to pos.deadletter, count them, log the first of each burst."""
        now = self.clock()
        for r in rejects:
            key = r.terminal or port_key
            self.counters.count_rejects(key, r.code)
            self.burst.warning(key, now, "rejected input from %s (%s, %s): %s", key, r.source,
                               r.code, r.reason)
            self.publisher.publish_deadletter(r)
