"""The order cross-terminal scopes see events in, for the archive and live.

A cashier's or a card's events come from several terminals. The archive merges the
terminals' streams by (ts_received, terminal GUID), each terminal keeping its own order:
`archive_order`. Server reception time, not the terminals' clocks, because live events arrive
in about that order whatever a terminal's clock says; a terminal whose clock is minutes off
would otherwise always look late.

Live, a stream repartitioned by cashier or card interleaves the terminals as the routing
agents happen to forward them, which is reception order give or take consumer lag. An
`OrderBuffer` in the cashier/card agent restores `archive_order` exactly, provided no event
arrives more than `lateness` behind the newest one seen: it holds each event until the
newest reception time is `lateness` past it. Pure: no clock; the agent decides when to
`flush` (say, when the stream has been idle for longer than the lateness).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable

from posguard.model.events import PosEvent

__all__ = ["archive_order", "OrderBuffer"]


def archive_order(events: Iterable[PosEvent]) -> list[PosEvent]:
    """The order cross-terminal scopes (cashier, card) see events in.

    Each terminal's events keep their order; terminals are merged by (ts_received,
    terminal GUID).

    Example:
        >>> from posguard.detectors.testing import pos_event
        >>> evs = [pos_event("T2", "POS_FRAUD", at=5), pos_event("T1", "POS_FRAUD", at=3)]
        >>> [e.pos_terminal for e in archive_order(evs)]
        ['T1', 'T2']
    """
    per_terminal: dict[str, list[PosEvent]] = {}
    for ev in events:
        per_terminal.setdefault(ev.pos_terminal, []).append(ev)
    return list(
        heapq.merge(*per_terminal.values(), key=lambda e: (e.ts_received, e.pos_terminal))
    )


class OrderBuffer:
    """Holds a live cross-terminal stream back by `lateness` to release it in archive order.

    Args:
        lateness: microseconds of reception time an event may arrive behind the newest event
            seen and still be put in its place.

    Example:
        >>> from posguard.detectors.testing import pos_event
        >>> buf = OrderBuffer(lateness=10)
        >>> buf.push(pos_event("T2", "POS_FRAUD", at=5, ts_received=5))
        []
        >>> buf.push(pos_event("T1", "POS_FRAUD", at=3, ts_received=3))  # late, put first
        []
        >>> [e.pos_terminal for e in buf.push(pos_event("T3", "POS_FRAUD", ts_received=14))]
        ['T1']
        >>> [e.pos_terminal for e in buf.flush()]
        ['T2', 'T3']
    """

    def __init__(self, lateness: int) -> None:
        if lateness < 0:
            raise ValueError("lateness must not be negative")
        self.lateness = lateness
        self._queues: dict[str, deque[PosEvent]] = {}
        self._heads: list[tuple[int, str]] = []  # (ts_received, terminal) of each queue head
        self._newest = 0
        self._held = 0

    def __len__(self) -> int:
        """How many events are held."""
        return self._held

    def push(self, ev: PosEvent) -> list[PosEvent]:
        """Take one event; return the events now due, in archive order."""
        q = self._queues.get(ev.pos_terminal)
        if q is None:
            q = self._queues[ev.pos_terminal] = deque()
        if not q:
            heapq.heappush(self._heads, (ev.ts_received, ev.pos_terminal))
        q.append(ev)
        self._held += 1
        if ev.ts_received > self._newest:
            self._newest = ev.ts_received
        return self._release(self._newest - self.lateness)

    def flush(self) -> list[PosEvent]:
        """Release every held event, in archive order."""
        return self._release(None)

    def _release(self, upto: int | None) -> list[PosEvent]:
        out: list[PosEvent] = []
        heads = self._heads
        while heads and (upto is None or heads[0][0] <= upto):
            _, terminal = heapq.heappop(heads)
            q = self._queues[terminal]
            out.append(q.popleft())
            if q:
                heapq.heappush(heads, (q[0].ts_received, terminal))
            else:
                del self._queues[terminal]
        self._held -= len(out)
        return out
