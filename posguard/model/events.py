"""PosEvent: one receipt event from a terminal, with the fields of the scripting reference.

Units as in Table 11 of the scripting reference: money (price, price_per_unit, discount) in
kopecks, weight in grams, quantity in items, timestamps in integer microseconds since the epoch.
"""

from __future__ import annotations

import msgspec

__all__ = ["PosEvent"]


class PosEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One event of a terminal.

    The first block of fields is Table 11 of the scripting reference, same names and units;
    the second block is what the system adds.

    Example:
        >>> PosEvent(type="POS_POSITION_ADD", pos_terminal="T1RuoVF7", price=10398,
        ...          ts_in_receipt=1_700_000_000_000_000, ts_received=1_700_000_000_100_000,
        ...          event_id="e1").price / 100
        103.98
    """

    type: str
    pos_terminal: str
    ts_in_receipt: int
    ts_received: int
    pos_terminal_name: str = ""
    associated_channel: str = ""
    location: str = ""
    op_id: str = ""
    cashier_name: str = ""
    position: int = 0
    text: str = ""
    article: str = ""
    barcode: str = ""
    price: int = 0
    price_per_unit: int = 0
    quantity: int = 0
    weight: int = 0
    discount: int = 0
    discount_card: str = ""
    flags: int = 0
    # posguard's own fields
    event_id: str = ""
    store: str = ""
    volume: int = 0  # fuel, millilitres
