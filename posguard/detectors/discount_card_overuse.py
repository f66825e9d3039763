"""Rule 10: one discount card used in more than N receipts a day, across the whole chain.

State is keyed by card number (POS_DISCOUNT_CARD events: `discount_card`, else `text`), so
in streams/ this runs on a stream repartitioned by card. A use is one receipt (terminal and
op_id): scanning the card twice in a receipt counts once. The day is the local day of each use
(its terminal's zone, or `timezone`); the last two days are kept, so a use from just before
midnight that arrives late still counts in its day. One incident per card and day, whose id
derives from (card, day): whether and under which id it fires does not depend on how the
uses of several stores interleave (its related events may).

Parameters (`DiscountCardOveruseParams`), defaults in brackets:
    max_uses: receipts a card may be used in per day before the rule fires [3].
    timezone: IANA zone for the day boundary; "" = each use's terminal zone [""].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> evs, at = [], 1_800_000_000_000_000
    >>> for n in range(4):
    ...     b = receipt(f"T{n}", op_id=str(n), at=at).card("7777").item("Tea", 99_00).close()
    ...     evs, at = evs + b.events(), b.now
    >>> run_detector(DiscountCardOveruse("PGD00010"), evs)[0].custom_columns["uses"]
    '4'
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from posguard.detectors.base import (
    NO_INCIDENTS,
    Detector,
    DetectorState,
    Params,
    Ref,
    ref,
    scope_key,
)
from posguard.detectors.localtime import check_zone, format_day, local_day
from posguard.detectors.windows import day_slot
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = [
    "DiscountCardOveruse",
    "DiscountCardOveruseParams",
    "DiscountCardOveruseState",
    "CardDay",
]


class DiscountCardOveruseParams(Params, frozen=True):
    """Parameters of DiscountCardOveruse (see the module docstring)."""

    max_uses: int = 3
    timezone: str = ""

    def __post_init__(self) -> None:
        if self.max_uses < 1:
            raise ValueError("max_uses: must be at least 1")
        if self.timezone:
            check_zone(self.timezone, "timezone")


class CardDay(msgspec.Struct, kw_only=True):
    """One local day of a card: the receipts it was used in (at most max_uses+1)."""

    day: int
    receipts: list[str] = msgspec.field(default_factory=list)
    uses: list[Ref] = msgspec.field(default_factory=list)
    fired: bool = False


def _by_time(r: Ref) -> tuple[int, str]:
    return (r[1], r[0])


def _new_day(day: int) -> CardDay:
    return CardDay(day=day)


class DiscountCardOveruseState(DetectorState):
    """The card's last two local days (a use from before midnight may arrive late)."""

    days: list[CardDay] = msgspec.field(default_factory=list)


class DiscountCardOveruse(Detector[DiscountCardOveruseParams, DiscountCardOveruseState]):
    """Raises one incident per card and day once the card is used in too many receipts."""

    type_name = "discount_card_overuse"
    title = "Discount card overused"
    summary = "One discount card was used in too many receipts in a day across the chain."
    scope = "card"
    params_type = DiscountCardOveruseParams
    state_type = DiscountCardOveruseState

    def event_types(self) -> frozenset[str]:
        """Discount card events."""
        return frozenset({"POS_DISCOUNT_CARD"})

    def step(
        self, state: DiscountCardOveruseState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[DiscountCardOveruseState, Sequence[Incident]]:
        """Count the receipt; fire once the day's count exceeds max_uses."""
        day = local_day(ev.ts_in_receipt, self.tz(ev, self.params.timezone))
        slot = day_slot(state.days, day, _new_day)
        if slot is None or slot.fired:
            return state, NO_INCIDENTS
        rid = f"{ev.pos_terminal}|{ev.op_id}" if ev.op_id else ref(ev)[0]
        if rid in slot.receipts:
            return state, NO_INCIDENTS
        slot.receipts.append(rid)
        slot.uses.append(ref(ev))
        if len(slot.receipts) <= self.params.max_uses:
            return state, NO_INCIDENTS
        slot.fired = True
        card = scope_key("card", ev) or ""
        n = len(slot.receipts)
        terminals = sorted({r.split("|", 1)[0] for r in slot.receipts if "|" in r})
        return state, [
            self.incident(
                ev,
                # In time order, not arrival order: live, the uses of several stores may
                # arrive in another order than the archive replays them.
                related=sorted(slot.uses[:-1], key=_by_time),
                id_keys=[f"card={card}", f"day={day}"],
                details=f"card {card} used in {n} receipts on {format_day(day)}",
                columns={"discount_card": card, "uses": str(n),
                         "terminals": ",".join(terminals)},
            )
        ]
