"""What a posguard Faust table stores per key: the state, the offset it has seen, and what
it recently sent.

A worker killed after a table write but before its output (a receipt, an incident) was
delivered restarts with the state already advanced: the replayed event is skipped (its
offset is not newer), and the output it had produced is sent again from `sent`, so output is
at least once; receipts and incidents have deterministic ids, so the store keeps one copy.
"""

from __future__ import annotations

import msgspec

__all__ = ["KeyedValue", "pack", "unpack", "remember", "resend_for", "already_seen"]

RECENT_OUTPUTS = 32  # outputs remembered per key: far more than one commit interval holds
RECENT_IDS = 256  # event ids remembered per key of a repartitioned scope


class KeyedValue(msgspec.Struct, array_like=True):
    """offset: the last source offset folded in; state: the encoded state; sent: recent
    (source offset, [encoded outputs]) pairs, oldest first; seen: the ids of the key's most
    recent events (a repartition topic can carry an event twice when the router that
    forwarded it was restarted: its copy has a new offset, so only the id tells)."""

    offset: int
    state: bytes
    sent: list[tuple[int, list[bytes]]] = msgspec.field(default_factory=list)
    seen: list[str] = msgspec.field(default_factory=list)


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(KeyedValue)


def pack(value: KeyedValue) -> bytes:
    return _enc.encode(value)


def unpack(raw: bytes) -> KeyedValue:
    return _dec.decode(raw)


def remember(value: KeyedValue, offset: int, outputs: list[bytes]) -> None:
    """Record what the event at `offset` sent (only events that sent something)."""
    if outputs:
        value.sent.append((offset, outputs))
        del value.sent[:-RECENT_OUTPUTS]


def resend_for(value: KeyedValue, offset: int) -> list[bytes]:
    """What the event at `offset` sent, when a replay skips it."""
    return [o for off, outs in value.sent if off == offset for o in outs]


def already_seen(value: KeyedValue, event_id: str) -> bool:
    """True when `event_id` was folded in already; otherwise remember it (bounded)."""
    if not event_id:
        return False
    if event_id in value.seen:
        return True
    value.seen.append(event_id)
    del value.seen[:-RECENT_IDS]
    return False
