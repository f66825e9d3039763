"""Rule 1, the "Events filter": chosen event types, any one of them or all within one receipt.

Parameters (`EventsFilterParams`), defaults in brackets:
    events: event types to watch, canonical `POS_…` names [("POS_FRAUD",)].
    mode: "any" raises an incident for every matching event; "all" raises one per receipt
        once every listed type has appeared in it ["any"].
    text: optional text condition on the event's text, article or barcode; "" = none [""].
    text_match: "contains", "starts_with", "ends_with" or "exact" ["contains"].
    case_sensitive: match `text` with case [False].
    min_price: the event's price must be >= this (kopecks); 0 = no lower bound [0].
    max_price: the event's price must be <= this (kopecks); 0 = no upper bound [0].

Example:
    Incident on every receipt that has both a delete and a discount card:

    >>> d = EventsFilter("PGD00001", EventsFilterParams(
    ...     events=("POS_POSITION_DELETE", "POS_DISCOUNT_CARD"), mode="all"))
    >>> d.types == {"POS_POSITION_DELETE", "POS_DISCOUNT_CARD"}
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from posguard.detectors.base import (
    NO_INCIDENTS,
    Detector,
    DetectorState,
    Params,
    Ref,
    cashier_of,
    event_key,
    receipt_identity,
)
from posguard.model.event_types import EVENT_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["EventsFilter", "EventsFilterParams", "EventsFilterState"]

_MATCHES = ("contains", "starts_with", "ends_with", "exact")


def _same(s: str) -> str:
    return s


class EventsFilterParams(Params, frozen=True):
    """Parameters of EventsFilter (see the module docstring)."""

    events: tuple[str, ...] = ("POS_FRAUD",)
    mode: str = "any"
    text: str = ""
    text_match: str = "contains"
    case_sensitive: bool = False
    min_price: int = 0
    max_price: int = 0

    def __post_init__(self) -> None:
        if not self.events:
            raise ValueError("events: list at least one event type")
        unknown = [e for e in self.events if e not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"events: unknown event type(s) {unknown}")
        if self.mode not in ("any", "all"):
            raise ValueError(f"mode: {self.mode!r} is not 'any' or 'all'")
        if self.text_match not in _MATCHES:
            raise ValueError(f"text_match: {self.text_match!r} is not one of {list(_MATCHES)}")
        if self.min_price < 0 or self.max_price < 0:
            raise ValueError("min_price/max_price: must not be negative")


class EventsFilterState(DetectorState):
    """In mode "all": the receipt being watched and the first matching event of each type."""

    receipt: str = ""
    seen: dict[str, Ref] = msgspec.field(default_factory=dict)
    fired: bool = False


class EventsFilter(Detector[EventsFilterParams, EventsFilterState]):
    """Raises an incident on chosen event types (any of them, or all within one receipt)."""

    type_name = "events_filter"
    title = "Events filter"
    summary = "An event of a watched type (or all watched types in one receipt)."
    params_type = EventsFilterParams
    state_type = EventsFilterState

    def setup(self) -> None:
        """Fold the text condition once."""
        p = self.params
        self._fold: Callable[[str], str] = _same if p.case_sensitive else str.casefold
        self._needle = self._fold(p.text)

    def event_types(self) -> frozenset[str]:
        """The listed event types."""
        return frozenset(self.params.events)

    def _text_ok(self, ev: PosEvent) -> bool:
        needle = self._needle
        mode = self.params.text_match
        for field in (ev.text, ev.article, ev.barcode):
            v = self._fold(field)
            if mode == "contains":
                ok = needle in v
            elif mode == "starts_with":
                ok = v.startswith(needle)
            elif mode == "ends_with":
                ok = v.endswith(needle)
            else:
                ok = v == needle
            if ok:
                return True
        return False

    def _matches(self, ev: PosEvent) -> bool:
        p = self.params
        if p.min_price and ev.price < p.min_price:
            return False
        if p.max_price and ev.price > p.max_price:
            return False
        return not p.text or self._text_ok(ev)

    def step(
        self, state: EventsFilterState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[EventsFilterState, Sequence[Incident]]:
        """Fire on a matching event ("any") or on the last missing type of a receipt ("all")."""
        if not self._matches(ev):
            return state, NO_INCIDENTS
        if self.params.mode == "any":
            return state, [self.incident(ev, cashier=cashier_of(ev, ctx),
                                         details=f"event {ev.type}")]
        rid = receipt_identity(ctx, ev)
        if not rid:
            return state, NO_INCIDENTS
        if rid != state.receipt:
            state.receipt = rid
            state.seen = {}
            state.fired = False
        if state.fired or ev.type in state.seen:
            return state, NO_INCIDENTS
        state.seen[ev.type] = (event_key(ev), ev.ts_in_receipt)
        if len(state.seen) < len(self.types or ()):
            return state, NO_INCIDENTS
        state.fired = True
        related = sorted((r for t, r in state.seen.items() if t != ev.type), key=lambda r: r[1])
        inc = self.incident(
            ev,
            related=related,
            cashier=cashier_of(ev, ctx),
            details="receipt has all of " + ", ".join(self.params.events),
        )
        return state, [inc]
