"""Rule 6: a price set by hand, or a unit price well below the article's usual price.

The usual price of an article (by article, else barcode) comes from `reference_prices`, else,
with `learn` on, from what this terminal charged for it recently (the last price that did not
fire, learnt for `learn_hours`, at most `max_learned` articles kept, the longest-learnt
forgotten first). Learning is off by default: it keeps about 17 bytes per article in the
terminal's state, which a worker writes to its table after every event.

Parameters (`PriceOverrideParams`), defaults in brackets:
    manual_change: fire on every POS_POSITION_PRICE_CHANGE (price typed in by hand) [True].
    min_drop_percent: fire when price_per_unit is at least this percent below the usual
        price; 0 = off [20].
    reference_prices: article or barcode -> usual price per unit (kopecks) [{}].
    learn: learn usual prices from this terminal's sales [False].
    learn_hours: a learnt price older than this is replaced by the next one seen [24].
    max_learned: the most articles remembered per terminal [2000].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> p = PriceOverrideParams(reference_prices={"A1": 100_00})  # or learn=True
    >>> evs = receipt("T1").item("Cognac", 50_00, article="A1").close().events()
    >>> run_detector(PriceOverride("PGD00006", p), evs)[0].custom_columns["usual"]
    '10000'
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

import msgspec

from posguard.detectors.base import (
    NO_INCIDENTS,
    Detector,
    DetectorState,
    Params,
    cashier_of,
    money,
)
from posguard.detectors.localtime import MINUTE
from posguard.model.event_types import POSITION_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["PriceOverride", "PriceOverrideParams", "PriceOverrideState"]

_MINUTES = (1 << 32) - 1


class PriceOverrideParams(Params, frozen=True):
    """Parameters of PriceOverride (see the module docstring)."""

    manual_change: bool = True
    min_drop_percent: int = 20
    reference_prices: dict[str, int] = msgspec.field(default_factory=dict)
    learn: bool = False
    learn_hours: int = 24
    max_learned: int = 2000

    def __post_init__(self) -> None:
        if not 0 <= self.min_drop_percent <= 100:
            raise ValueError("min_drop_percent: must be 0..100")
        if self.learn_hours < 1 or self.max_learned < 1:
            raise ValueError("learn_hours/max_learned: must be at least 1")
        if any(v < 0 for v in self.reference_prices.values()):
            raise ValueError("reference_prices: prices must not be negative")


class PriceOverrideState(DetectorState):
    """Learnt usual prices, longest-learnt first: article -> price << 32 | minute.

    The value packs the unit price (kopecks) and the minute it was learnt (minutes since the
    epoch) into one int: a terminal may remember thousands, and one int is a third of the
    memory and cache traffic of a pair.
    """

    usual: dict[str, int] = msgspec.field(default_factory=dict)


class PriceOverride(Detector[PriceOverrideParams, PriceOverrideState]):
    """Raises incidents on hand-set prices and on prices far below the usual one."""

    type_name = "price_override"
    title = "Price override"
    summary = "A price was set by hand, or is well below the article's usual price."
    params_type = PriceOverrideParams
    state_type = PriceOverrideState

    def setup(self) -> None:
        """Learning horizon in minutes, the price list."""
        self._horizon = self.params.learn_hours * 60  # minutes
        self._refs = self.params.reference_prices

    def event_types(self) -> frozenset[str]:
        """Positions and price changes."""
        p = self.params
        types = {"POS_POSITION_PRICE_CHANGE"} if p.manual_change else set()
        if p.learn or (p.min_drop_percent and p.reference_prices):
            types |= POSITION_TYPES
        return frozenset(types)

    def step(
        self, state: PriceOverrideState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[PriceOverrideState, Sequence[Incident]]:
        """Fire on a manual price change or a price below the usual one; learn otherwise."""
        if ev.type == "POS_POSITION_PRICE_CHANGE":
            return state, [
                self.incident(
                    ev,
                    cashier=cashier_of(ev, ctx),
                    details=f"price of position {ev.position} set by hand to "
                    f"{money(ev.price_per_unit or ev.price)}",
                    columns={"reason": "manual"},
                )
            ]
        item = ev.article or ev.barcode
        unit = ev.price_per_unit or (ev.price if ev.quantity <= 1 and not ev.weight else 0)
        if not item or unit <= 0:
            return state, NO_INCIDENTS
        minute = ev.ts_in_receipt // MINUTE
        learnt = state.usual.get(item)  # empty unless learning
        # A learnt price is one int: unit price << 32 | minute it was learnt (see the state).
        if learnt is None:
            fresh, learnt_price = False, 0
        else:
            fresh = 0 <= minute - (learnt & _MINUTES) <= self._horizon
            learnt_price = learnt >> 32
        if fresh and learnt_price == unit and not self._refs:
            return state, NO_INCIDENTS  # the hot path: sold at its usual price
        p = self.params
        usual = self._refs.get(item) if self._refs else None
        if usual is None and fresh:
            usual = learnt_price
        drop = p.min_drop_percent
        if usual and drop and unit * 100 <= usual * (100 - drop):
            pct = (usual - unit) * 100 // usual
            return state, [
                self.incident(
                    ev,
                    cashier=cashier_of(ev, ctx),
                    details=f"{ev.text or item} at {money(unit)}, usual {money(usual)} "
                    f"(-{pct}%)",
                    columns={"reason": "below_usual", "usual": str(usual), "price": str(unit)},
                )
            ]
        if p.learn and (not fresh or learnt_price != unit):
            learned = state.usual
            if learnt is not None:
                del learned[item]  # re-inserted last: the dict stays in order of learning
            learned[item] = unit << 32 | minute
            if len(learned) > p.max_learned:
                # Forget the longest-learnt eighth at once, rebuilding the dict: deleting its
                # first entry one at a time makes next(iter(d)) walk over the holes.
                drop = len(learned) - p.max_learned + p.max_learned // 8
                state.usual = dict(islice(learned.items(), drop, None))
        return state, NO_INCIDENTS
