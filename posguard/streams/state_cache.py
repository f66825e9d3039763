"""Decoded per-key states of one table, kept between batches and written back once per
batch.

Decoding a state from the table and encoding it back for every event costs more than the
detectors themselves; an agent that processes events in batches keeps the decoded states
here and writes each changed key once per batch. The cache mirrors the table only while the
worker owns the same partitions: the agent clears it on every rebalance (the table is then
the truth again, recovered from its changelog).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, Generic, TypeVar

from posguard.streams.table_values import KeyedValue, pack, unpack

__all__ = ["Keyed", "StateCache"]

S = TypeVar("S")


class Keyed(Generic[S]):
    """One key's table value and its decoded state."""

    __slots__ = ("value", "state")

    def __init__(self, value: KeyedValue, state: S):
        self.value = value
        self.state = state


class StateCache(Generic[S]):
    """Decoded states over a bytes -> bytes table (a Faust table, or a dict in tests).

    Args:
        table: the table (values are `table_values.pack`ed KeyedValues).
        decode: state bytes -> state.
        encode: state -> state bytes.
        initial: a fresh state for a key the table does not have.
    """

    def __init__(self, table: MutableMapping[bytes, bytes], decode: Callable[[bytes], S],
                 encode: Callable[[S], bytes], initial: Callable[[], S]):
        self.table = table
        self._decode, self._encode, self._initial = decode, encode, initial
        self._cache: dict[bytes, Keyed[S]] = {}
        self._dirty: dict[bytes, Keyed[S]] = {}

    def get(self, key: bytes) -> Keyed[S]:
        """The key's entry (from the cache, else the table, else fresh), marked changed:
        `write_back` stores it."""
        entry = self._cache.get(key)
        if entry is None:
            raw = self.table.get(key)
            if raw:
                value = unpack(raw)
                entry = Keyed(value, self._decode(value.state))
            else:
                entry = Keyed(KeyedValue(offset=-1, state=b""), self._initial())
            self._cache[key] = entry
        self._dirty[key] = entry
        return entry

    def write_back(self) -> int:
        """Write the changed keys to the table; returns how many."""
        n = len(self._dirty)
        for key, entry in self._dirty.items():
            entry.value.state = self._encode(entry.state)
            self.table[key] = pack(entry.value)
        self._dirty.clear()
        return n

    def clear(self, *_: Any, **__: Any) -> None:
        """Forget the decoded states (on a rebalance). Changes of the batch in progress stay
        and are written by its `write_back`: Faust lets that batch finish before it gives
        the partitions away."""
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
