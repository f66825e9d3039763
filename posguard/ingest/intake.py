"""Where the listeners hand what they parsed: events to the publisher, rejects to
pos.deadletter, both counted per terminal; rejects logged once per burst.

When the publisher's spool is full (the broker has been away long enough to fill it) the
publisher refuses new input with SpoolFull: `take` counts what it could not hand over as
refused (per terminal, logged once per burst) and raises SpoolFull, so the listener can tell
the sender. Nothing is dead-lettered then: pos.deadletter sits behind the same full spool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

from posguard.ingest.counters import BurstLog, IngestCounters
from posguard.ingest.errors import SpoolFull
from posguard.ingest.publisher import Publisher
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

__all__ = ["Intake"]

log = logging.getLogger("posguard.ingest.rejects")
refusals = logging.getLogger("posguard.ingest.refused")


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
        self.refusal_burst = BurstLog(refusals, burst_window)

    @property
    def full(self) -> bool:
        """True while the publisher refuses new input (its spool is full)."""
        return self.publisher.full

    def take(self, results: Sequence[PosEvent | Rejected], port_key: str) -> tuple[int, int]:
        """Publish the events, dead-letter the rejects; returns (accepted, rejected).

        Raises:
            SpoolFull: the spool is full; what was not handed over is counted as refused.
        """
        if not results:
            return 0, 0
        events = [r for r in results if type(r) is PosEvent]
        if len(events) != len(results):
            rejects = [r for r in results if type(r) is Rejected]
            try:
                self.reject(rejects, port_key)
            except SpoolFull:
                self.refuse((ev.pos_terminal for ev in events), "events")
                raise
            if events:
                self.accept(events)
            return len(events), len(rejects)
        self.accept(events)
        return len(events), 0

    def accept(self, events: Sequence[PosEvent]) -> None:
        """Publish events (in order) and count them per terminal.

        Raises:
            SpoolFull: none of the events was taken (they are counted as refused).
        """
        try:
            self.publisher.publish_many(events)
        except SpoolFull:
            self.refuse((ev.pos_terminal for ev in events), "events")
            raise
        self.counters.accepted.update(ev.pos_terminal for ev in events)

    def reject(self, rejects: Sequence[Rejected], port_key: str) -> None:
        """Send rejects to pos.deadletter, count them, log the first of each burst.

        Raises:
            SpoolFull: the rejects from the one that could not be sent on are counted as
                refused (and as rejected: they were refused for their own fault too).
        """
        now = self.clock()
        for i, r in enumerate(rejects):
            key = r.terminal or port_key
            self.counters.count_rejects(key, r.code)
            self.burst.warning(key, now, "rejected input from %s (%s, %s): %s", key, r.source,
                               r.code, r.reason)
            try:
                self.publisher.publish_deadletter(r)
            except SpoolFull:
                for rest in rejects[i + 1:]:
                    self.counters.count_rejects(rest.terminal or port_key, rest.code)
                self.refuse((x.terminal or port_key for x in rejects[i:]), "rejected pieces")
                raise

    def refuse(self, keys: Iterable[str], what: str) -> None:
        """Count pieces turned away because the spool is full (per terminal or port)."""
        counted = self.counters.refused
        n = 0
        for key in keys:
            counted[key] += 1
            n += 1
        if n:
            self.refusal_burst.warning(
                "spool", self.clock(), "spool full (Kafka unreachable): refused %d %s; input "
                "is refused until the spool drains", n, what)
