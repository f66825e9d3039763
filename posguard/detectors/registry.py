"""The standard detectors by type name, in the order of issue 4's list."""

from __future__ import annotations

from typing import Any

from posguard.detectors.base import Detector, DetectorState, NoState
from posguard.detectors.cashier_voids import CashierVoids
from posguard.detectors.delete_without_admin import DeleteWithoutAdmin
from posguard.detectors.discount_card_overuse import DiscountCardOveruse
from posguard.detectors.drawer_outside_receipt import DrawerOutsideReceipt
from posguard.detectors.events_filter import EventsFilter
from posguard.detectors.keyed_entry_rate import KeyedEntryRate
from posguard.detectors.large_discount import LargeDiscount
from posguard.detectors.low_total_receipts import LowTotalReceipts
from posguard.detectors.price_override import PriceOverride
from posguard.detectors.receipt_cancelled import ReceiptCancelled
from posguard.detectors.receipt_open_too_long import ReceiptOpenTooLong
from posguard.detectors.restricted_goods_hours import RestrictedGoodsHours
from posguard.detectors.suspicious_refund import SuspiciousRefund

__all__ = ["STANDARD_DETECTORS", "STATE_TYPES", "detector_class"]

STANDARD_DETECTORS: dict[str, type[Detector[Any, Any]]] = {
    cls.type_name: cls
    for cls in (
        EventsFilter,
        DeleteWithoutAdmin,
        ReceiptCancelled,
        SuspiciousRefund,
        LargeDiscount,
        PriceOverride,
        DrawerOutsideReceipt,
        RestrictedGoodsHours,
        CashierVoids,
        DiscountCardOveruse,
        LowTotalReceipts,
        KeyedEntryRate,
        ReceiptOpenTooLong,
    )
}

# Every state a scope state may hold: the members of the tagged union the codec decodes.
STATE_TYPES: tuple[type[DetectorState], ...] = tuple(
    dict.fromkeys([NoState, *(c.state_type for c in STANDARD_DETECTORS.values())])
)


def detector_class(type_name: str) -> type[Detector[Any, Any]]:
    """The class of a standard detector type; KeyError with the known names otherwise."""
    try:
        return STANDARD_DETECTORS[type_name]
    except KeyError:
        raise KeyError(
            f"unknown detector type {type_name!r}; known: {sorted(STANDARD_DETECTORS)}"
        ) from None
