"""Gapless delivery per partition, checked by the agents.

The agents fold a key's events only when their offset is above the one its state holds
(streams/table_values.py): that skips a replay, but it also means an event delivered after
a later one of its partition would be skipped as a replay, and lost. Faust does deliver such
gaps: `Consumer.getmany` drops records it fetched around a rebalance (a partition not active
yet, the flow stopped, the generation changed) while the fetch position has moved past
them; `_drain_messages` then records the missing offsets as a gap, which its commits skip
over (meant for compacted topics and transaction markers). Seen in
tests/integration/scale: a worker read offsets 337-378, then 408 onwards; another worker
later read 379-407 and skipped them for keys its recovered states had seen at 408+.

`PartitionCursor` admits a partition's records only in sequence and reports a gap where a
record is beyond the next expected offset; the agent reads the missing records from the
broker (streams/gap_reader.py) and admits them before the rest. Records at or below the
expected offset pass (replays: the per-key offsets skip what was folded in). A gap shows
only when a later record of its partition arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["PartitionCursor"]

E = TypeVar("E")


class PartitionCursor:
    """The next offset expected per partition of one topic, within one group generation."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        self._generation: object = None
        self._committed: Callable[[int], int | None] = lambda _: None

    def start(self, generation: object, committed: Callable[[int], int | None]) -> None:
        """Begin a batch. A new generation (a rebalance) forgets what was expected: the
        consumer reads on from the committed offsets, given by `committed(partition)`."""
        if generation != self._generation:
            self._generation = generation
            self._next.clear()
            self._committed = committed

    def admit(self, batch: Sequence[E], where: Callable[[E], tuple[int, int]],
              accept_gaps: bool = False) -> tuple[list[E], list[E], dict[int, int]]:
        """Split a batch (in delivery order) into records to process and records held back
        behind a gap.

        Args:
            batch: the records.
            where: record -> (partition, offset).
            accept_gaps: admit everything, moving on past gaps (records that cannot be
                had any more).

        Returns:
            (admitted, held back, gaps): gaps maps a partition to the first offset missing.
        """
        nexts = self._next
        admitted: list[E] = []
        held: list[E] = []
        gaps: dict[int, int] = {}
        for rec in batch:
            p, o = where(rec)
            if p in gaps:
                held.append(rec)
                continue
            want = nexts.get(p)
            if want is None:
                start = self._committed(p)
                want = o if start is None or start < 0 else start
            if o > want and not accept_gaps:
                gaps[p] = want
                held.append(rec)
                continue
            nexts[p] = max(want, o + 1)
            admitted.append(rec)
        return admitted, held, gaps
