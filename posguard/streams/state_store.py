"""The worker tables' local store: Faust's in-memory store that never moves a key back.

Faust applies changelog records to a table's store while it recovers a partition, and keeps
reading the changelog into the store for a while after the agents resumed (records already
fetched, standby partitions). On this worker that can be the agent's own records coming back:
the store then holds a key's state of an earlier batch, the next batch folds its events into
that older state and the events in between are lost from it (seen in
tests/integration/scale: receipts never published after a rebalance).

Every value here is a `table_values.KeyedValue`, whose `version` counts the writes of its
key (state_cache.StateCache.write_back), so a changelog record of a lower version than the
stored value is older than what the store has, and is skipped. Tombstones (the end markers
of pipeline._changelogs_sent) delete as before.

Selected per table with the store URL `STATE_STORE` (scheme `posguard`: entry point
`faust.stores` in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from faust.stores import memory
from faust.types import EventT

from posguard.streams.table_values import unpack

__all__ = ["ForwardOnlyStore", "STATE_STORE", "is_older"]

# With a host part: Faust reads a table's `store=` as a URL and ignores an empty one
# ('posguard://' is falsy once parsed), silently falling back to the app's default store.
STATE_STORE = "posguard://local"


def is_older(incoming: bytes, stored: bytes | None) -> bool:
    """True when the packed KeyedValue `incoming` was written before `stored`."""
    if not stored or not incoming:
        return False
    try:
        return unpack(incoming).version < unpack(stored).version
    except msgspec.DecodeError:  # not a KeyedValue: nothing to compare, apply it
        return False


class ForwardOnlyStore(memory.Store):
    """faust.stores.memory.Store whose changelog replay never replaces a newer state."""

    def apply_changelog_batch(self, batch: Iterable[EventT], to_key: Callable[[Any], Any],
                              to_value: Callable[[Any], Any]) -> None:
        data, key_partition = self.data, self._key_partition
        for event in batch:
            key = to_key(event.key)
            key_partition[key] = event.message.partition
            if event.message.value is None:
                data.pop(key, None)
                key_partition.pop(key, None)
                continue
            value = to_value(event.value)
            if not is_older(value, data.get(key)):
                data[key] = value
