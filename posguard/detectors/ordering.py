"""The order cross-terminal scopes see events in, for the archive and live.

A cashier's or a card's events come from several terminals. The archive sorts them by
(ts_received, terminal GUID), stably, so events of one terminal with the same reception time
(one DSSL packet) keep their terminal's order: `archive_order`. Server reception time, not the
terminals' clocks, because live events arrive in about that order whatever a terminal's clock
says; a terminal whose clock is minutes off would otherwise always look late.

A sort, not a merge of the terminals' streams: a key's events in archive order are then the
archive order of that key's events alone, whatever the other keys' events are, which is what
a live agent that only sees one key's events can reproduce. (A merge that keeps each
terminal's order gives the same order whenever each terminal's reception times never go
backwards, the usual case; when one does go back, the merged order of a key would depend on
events of other keys.)

Live, a stream repartitioned by cashier or card interleaves the terminals as the routing
agents happen to forward them, which is reception order give or take consumer lag. Holding
each event until the newest reception time seen is more than `lateness` past it, and
releasing held events sorted as above (`release`), restores `archive_order` exactly provided
no event arrives more than `lateness` behind the newest one seen before it. `OrderBuffer` is
that hold as an object; `posguard.detectors.ordered_scope` keeps it inside a key's
serialisable state. Pure: no clock; the caller decides when to flush.
"""

from __future__ import annotations

from collections.abc import Iterable

from posguard.model.events import PosEvent

__all__ = ["archive_order", "order_key", "release", "OrderBuffer"]


def order_key(ev: PosEvent) -> tuple[int, str]:
    """The sort key of `archive_order`: (ts_received, terminal GUID)."""
    return (ev.ts_received, ev.pos_terminal)


def archive_order(events: Iterable[PosEvent]) -> list[PosEvent]:
    """The order cross-terminal scopes (cashier, card) see events in.

    Events sorted by (ts_received, terminal GUID); the sort is stable, so ties keep the
    order they were given in (each terminal's own order).

    Example:
        >>> from posguard.detectors.testing import pos_event
        >>> evs = [pos_event("T2", "POS_FRAUD", at=5), pos_event("T1", "POS_FRAUD", at=3)]
        >>> [e.pos_terminal for e in archive_order(evs)]
        ['T1', 'T2']
    """
    return sorted(events, key=order_key)


def release(held: list[PosEvent], before: int) -> tuple[list[PosEvent], list[PosEvent]]:
    """Split held events into those received before `before` and the rest.

    Args:
        held: events in arrival order (each terminal's in its order).
        before: a reception time (microseconds); events with `ts_received < before` are due.

    Returns:
        (due, kept): the due events in `archive_order`, the others in arrival order.

    Example:
        >>> from posguard.detectors.testing import pos_event
        >>> due, kept = release([pos_event("T2", "POS_FRAUD", at=5, ts_received=5),
        ...                      pos_event("T1", "POS_FRAUD", at=3, ts_received=3),
        ...                      pos_event("T3", "POS_FRAUD", at=9, ts_received=9)], before=9)
        >>> [e.pos_terminal for e in due], [e.pos_terminal for e in kept]
        (['T1', 'T2'], ['T3'])
    """
    due: list[PosEvent] = []
    kept: list[PosEvent] = []
    for ev in held:
        (due if ev.ts_received < before else kept).append(ev)
    if len(due) > 1:
        due.sort(key=order_key)  # stable: ties keep arrival (= each terminal's) order
    return due, kept


class OrderBuffer:
    """Holds a live cross-terminal stream back by `lateness` to release it in archive order.

    An event is held until an event received more than `lateness` after it has been seen.
    Events that arrive no more than `lateness` behind the newest one seen before them come
    out exactly in `archive_order`; a later one comes out at once (never dropped), after the
    events released before it arrived.

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
        self._held: list[PosEvent] = []
        self._newest: int | None = None

    def __len__(self) -> int:
        """How many events are held."""
        return len(self._held)

    def push(self, ev: PosEvent) -> list[PosEvent]:
        """Take one event; return the events now due, in archive order."""
        self._held.append(ev)
        if self._newest is None or ev.ts_received > self._newest:
            self._newest = ev.ts_received
        due, self._held = release(self._held, self._newest - self.lateness)
        return due

    def flush(self) -> list[PosEvent]:
        """Release every held event, in archive order."""
        due, self._held = archive_order(self._held), []
        return due
