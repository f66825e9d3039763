"""What a posguard Faust table stores per key: the state and how far into its sources the
state has got.

Agents send a batch's outputs (receipts, incidents, routed events) and wait for the broker to
confirm them before they write the states that produced them. A worker killed in between
replays those events: a key whose stored offset already covers an event skips it (its
outputs went out), one that does not folds it in again and sends the same outputs again,
which carry deterministic ids the store keeps once. Either way nothing is lost or applied
twice.
"""

from __future__ import annotations

import msgspec

__all__ = ["KeyedValue", "pack", "unpack", "is_new"]


class KeyedValue(msgspec.Struct, array_like=True):
    """offset: the last source offset folded in (keys of a topic read directly); state: the
    encoded state; applied: for keys fed through a repartition topic, the last pos.events
    offset folded in per pos.events partition (a restarted router forwards events again
    under new repartition offsets; their pos.events position tells the copies apart);
    version: how many times the key's state was written (streams/state_store.py keeps the
    highest when it replays the changelog)."""

    offset: int
    state: bytes
    applied: dict[int, int] = msgspec.field(default_factory=dict)
    version: int = 0


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(KeyedValue)


def pack(value: KeyedValue) -> bytes:
    return _enc.encode(value)


def unpack(raw: bytes) -> KeyedValue:
    return _dec.decode(raw)


def is_new(value: KeyedValue, partition: int, offset: int) -> bool:
    """True when the pos.events record (partition, offset) is not folded in yet; records
    it as folded in. One terminal's events come from one partition in offset order."""
    if offset <= value.applied.get(partition, -1):
        return False
    value.applied[partition] = offset
    return True
