"""The event-type vocabulary.

Names follow the scripting reference (`POS_POSITION_ADD`); terminals send the same names with a
`POSNG_` prefix, which `normalize_event_type` maps to ours. Where the public manuals name an
operation but not its identifier (deletes, discounts, payments, drawer), the name here is ours,
in the same style, and listed in docs/architecture.md.
"""

from __future__ import annotations

__all__ = [
    "EVENT_TYPES",
    "RECEIPT_START_TYPES",
    "RECEIPT_END_TYPES",
    "POSITION_TYPES",
    "PAYMENT_TYPES",
    "FRAUD",
    "normalize_event_type",
    "is_known_event_type",
]

_SHIFT = ["SHIFT_START", "SHIFT_END", "SHIFT_RESTORE", "SHIFT_OVER_24H"]
_SIGN_IN = [
    f"{who}_{what}"
    for who in ("CASHIER", "ADMIN", "TAX_OFFICER")
    for what in ("LOGIN_BEGIN", "LOGIN_FAIL", "LOGIN", "LOGOUT")
]
_RECEIPT = [
    "RECEIPT_OPEN", "RECEIPT_SELL_CLOSE", "RECEIPT_RETURN", "RECEIPT_RETURN_CLOSE",
    "RECEIPT_ANNULMENT", "RECEIPT_EXCHANGE", "RECEIPT_EXCHANGE_CLOSE", "RECEIPT_PAYOUT",
    "RECEIPT_PAYOUT_CLOSE", "RECEIPT_REPAYMENT", "RECEIPT_CLOSE", "RECEIPT_CANCEL_BEGIN",
    "RECEIPT_CANCEL_FAIL", "RECEIPT_CANCEL", "RECEIPT_CANCEL_WITH_WRITE_OFF", "RECEIPT_DELAY",
    "RECEIPT_DELAYED_RESTORE", "RECEIPT_SOFT_REQUEST", "RECEIPT_NUMBER", "RECEIPT_CHANGE",
    "RECEIPT_INCOMPLETE",  # ours: closed by a timeout with no end line (printer capture)
]
_POSITION = [
    "POSITION_ADD", "POSITION_ADD_BY_SCANNER", "POSITION_DELETE", "POSITION_QUANTITY_CHANGE",
    "POSITION_PRICE_CHANGE", "POSITION_RETURN",
]
_MONEY = [
    "DISCOUNT_POSITION", "DISCOUNT_RECEIPT", "DISCOUNT_CARD", "GIFT", "SUBTOTAL",
    "PAYMENT_CASH", "PAYMENT_CARD", "PAYMENT_CERTIFICATE", "PAYMENT_BONUS", "CHANGE",
    "DRAWER_OPEN", "DRAWER_CLOSE", "MONEY_IN", "MONEY_OUT", "REPORT_X", "REPORT_Z",
]
FRAUD = "POS_FRAUD"  # an alarm raised by a script (pos_fraud), recorded on the receipt

EVENT_TYPES: frozenset[str] = frozenset(
    ["POS_" + n for n in _SHIFT + _SIGN_IN + _RECEIPT + _POSITION + _MONEY] + [FRAUD]
)
RECEIPT_START_TYPES = frozenset(
    {"POS_RECEIPT_OPEN", "POS_RECEIPT_RETURN", "POS_RECEIPT_EXCHANGE", "POS_RECEIPT_PAYOUT"}
)
RECEIPT_END_TYPES = frozenset(
    {
        "POS_RECEIPT_CLOSE", "POS_RECEIPT_SELL_CLOSE", "POS_RECEIPT_RETURN_CLOSE",
        "POS_RECEIPT_EXCHANGE_CLOSE", "POS_RECEIPT_PAYOUT_CLOSE", "POS_RECEIPT_CANCEL",
        "POS_RECEIPT_CANCEL_WITH_WRITE_OFF", "POS_RECEIPT_ANNULMENT", "POS_RECEIPT_INCOMPLETE",
    }
)
POSITION_TYPES = frozenset({"POS_POSITION_ADD", "POS_POSITION_ADD_BY_SCANNER"})
PAYMENT_TYPES = frozenset(
    {"POS_PAYMENT_CASH", "POS_PAYMENT_CARD", "POS_PAYMENT_CERTIFICATE", "POS_PAYMENT_BONUS"}
)


def normalize_event_type(name: str) -> str:
    """Map a terminal's event-type name to ours.

    Args:
        name: `POSNG_POSITION_ADD`, `POS_POSITION_ADD` or bare `POSITION_ADD`, any case.

    Returns:
        The canonical `POS_…` name. Unknown names are returned canonicalised too; use
        `is_known_event_type` to decide whether to accept them.

    Example:
        >>> normalize_event_type("POSNG_POSITION_ADD")
        'POS_POSITION_ADD'
    """
    n = name.strip().upper()
    if n.startswith("POSNG_"):
        n = n[6:]
    elif n.startswith("POS_"):
        n = n[4:]
    return "POS_" + n


def is_known_event_type(name: str) -> bool:
    """True when `name` (canonical form) is in the vocabulary."""
    return name in EVENT_TYPES
