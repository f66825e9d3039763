"""FraudRecord: an alarm a script raised with pos_fraud (the columns of the frauds table)."""

from __future__ import annotations

import msgspec

__all__ = ["FraudRecord"]


class FraudRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One pos_fraud alarm. The receipt also gets a POS_FRAUD event with the same event_id."""

    event_id: str
    pos_terminal: str
    op_id: str
    text: str
    script: str
    ts_in_receipt: int
    ts_received: int
