"""What the terminal agent forwards to a cross-terminal scope (pos.detect.cashier/card).

One record per key and batch, not one per event: a `Routed` bundle carries the key's events
of one pos.events partition with their pos.events offsets (which tell a re-forwarded copy
from a new event), as the raw bytes the ingest adapters published.
"""

from __future__ import annotations

import msgspec

__all__ = ["Routed", "encode_routed", "decode_routed"]


class Routed(msgspec.Struct, array_like=True):
    """partition: the pos.events partition; events: (pos.events offset, event bytes)."""

    partition: int
    events: list[tuple[int, bytes]]


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Routed)


def encode_routed(r: Routed) -> bytes:
    return _enc.encode(r)


def decode_routed(raw: bytes) -> Routed:
    return _dec.decode(raw)
