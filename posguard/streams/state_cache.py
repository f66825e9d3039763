"""Decoded per-key states of one table for the batch in progress, written back once.

Decoding a state from the table and encoding it back for every event costs more than the
detectors themselves; an agent that processes events in batches decodes each key's state
once per batch here and writes it back once: into the table's local store and, as a record
on the table's changelog topic (the key's partition), through `changelog`, so the agent can
wait for those records like for its other outputs (Faust's own changelog producer sends one
request per record on the embedded broker). Nothing is kept between batches: a rebalance
between two batches may have given a partition away and back, and the table (recovered
from its changelog) is then the truth.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Generic, TypeVar

from posguard.streams.table_values import KeyedValue, pack, unpack

__all__ = ["Keyed", "StateCache"]

S = TypeVar("S")


class Keyed(Generic[S]):
    """One key's table value and its decoded state."""

    __slots__ = ("value", "state", "partition")

    def __init__(self, value: KeyedValue, state: S, partition: int = -1):
        self.value = value
        self.state = state
        self.partition = partition


class StateCache(Generic[S]):
    """Decoded states over a bytes -> bytes table (a Faust table, or a dict in tests).

    Args:
        table: the table's local store (values are `table_values.pack`ed KeyedValues).
        decode: state bytes -> state.
        encode: state -> state bytes.
        initial: a fresh state for a key the table does not have.
        changelog: (partition, key, value) -> None: send one changelog record.
    """

    def __init__(self, table: MutableMapping[bytes, bytes], decode: Callable[[bytes], S],
                 encode: Callable[[S], bytes], initial: Callable[[], S],
                 changelog: Callable[[int, bytes, bytes], None]):
        self.table = table
        self._decode, self._encode, self._initial = decode, encode, initial
        self._changelog = changelog
        self._cache: dict[bytes, Keyed[S]] = {}
        self._dirty: dict[bytes, Keyed[S]] = {}

    def get(self, key: bytes, partition: int) -> Keyed[S]:
        """The key's entry (from the cache, else the table, else fresh), marked changed:
        `write_back` stores it. `partition`: the key's partition of the source topic, which
        is its changelog partition too."""
        entry = self._cache.get(key)
        if entry is None:
            raw = self.table.get(key)
            if raw:
                value = unpack(raw)
                entry = Keyed(value, self._decode(value.state), partition)
            else:
                entry = Keyed(KeyedValue(offset=-1, state=b""), self._initial(), partition)
            self._cache[key] = entry
        entry.partition = partition
        self._dirty[key] = entry
        return entry

    def write_back(self, owned: Callable[[int], bool] = lambda _: True) -> set[int]:
        """Write the batch's changed keys to the table and end the batch; returns the
        partitions written.

        Args:
            owned: whether the worker still owns a partition. Keys of a partition given
                away during the batch are not written: the new owner replays the batch's
                events from its own state, and a late write here would land in the
                changelog after the new owner's and win at the next recovery.
        """
        table, changelog = self.table, self._changelog
        partitions = set()
        for key, entry in self._dirty.items():
            if not owned(entry.partition):
                continue
            entry.value.state = self._encode(entry.state)
            entry.value.version += 1
            raw = table[key] = pack(entry.value)
            changelog(entry.partition, key, raw)
            partitions.add(entry.partition)
        self._dirty.clear()
        self._cache.clear()
        return partitions

    def clear(self) -> None:
        """Drop the batch in progress without writing it."""
        self._cache.clear()
        self._dirty.clear()

    def __len__(self) -> int:
        return len(self._cache)
