"""PartitionCursor: records are admitted per partition only in sequence, whatever the
delivery does (gaps, re-deliveries), so per-key offset skipping never loses one."""

from __future__ import annotations

import random

from posguard.streams.delivery import PartitionCursor


def where(r: tuple[int, int]) -> tuple[int, int]:
    return r


def no_commit(_: int) -> None:
    return None


def test_in_sequence_batches_pass_whole() -> None:
    c = PartitionCursor()
    c.start(1, no_commit)
    batch = [(0, 5), (1, 0), (0, 6), (1, 1)]
    assert c.admit(batch, where) == (batch, [], {})
    assert c.admit([(0, 7), (1, 2)], where) == ([(0, 7), (1, 2)], [], {})


def test_a_gap_holds_back_the_rest_of_its_partition() -> None:
    c = PartitionCursor()
    c.start(1, no_commit)
    c.admit([(0, 10), (0, 11)], where)
    admitted, held, seeks = c.admit([(0, 12), (1, 0), (0, 20), (0, 21), (1, 1)], where)
    assert admitted == [(0, 12), (1, 0), (1, 1)]
    assert held == [(0, 20), (0, 21)]
    assert seeks == {0: 13}
    # what was missing, read from the broker, then the records held back
    filled = [(0, o) for o in range(13, 20)]
    assert c.admit(filled + held, where) == (filled + held, [], {})


def test_gaps_that_cannot_be_filled_can_be_accepted() -> None:
    c = PartitionCursor()
    c.start(1, no_commit)
    c.admit([(0, 1)], where)
    assert c.admit([(0, 5), (0, 6)], where, accept_gaps=True) == ([(0, 5), (0, 6)], [], {})
    assert c.admit([(0, 7)], where) == ([(0, 7)], [], {})


def test_replays_below_the_expected_offset_pass() -> None:
    c = PartitionCursor()
    c.start(1, no_commit)
    c.admit([(0, 0), (0, 1), (0, 2)], where)
    assert c.admit([(0, 1), (0, 2), (0, 3)], where) == ([(0, 1), (0, 2), (0, 3)], [], {})


def test_the_committed_offset_is_where_a_generation_starts() -> None:
    c = PartitionCursor()
    c.start(1, {0: 40}.get)
    admitted, held, seeks = c.admit([(0, 45)], where)
    assert (admitted, held, seeks) == ([], [(0, 45)], {0: 40})
    assert c.admit([(0, 39), (0, 40)], where)[0] == [(0, 39), (0, 40)]


def test_a_new_generation_forgets_what_was_expected() -> None:
    c = PartitionCursor()
    c.start(1, no_commit)
    c.admit([(0, 10)], where)
    c.start(2, no_commit)  # a rebalance: another worker may have read on meanwhile
    assert c.admit([(0, 50)], where) == ([(0, 50)], [], {})
    c.start(2, no_commit)  # same generation: nothing forgotten
    assert c.admit([(0, 60)], where)[2] == {0: 51}


def test_any_delivery_folds_every_record_once_per_key() -> None:
    """A consumer that drops random stretches and delivers others twice: with the cursor in
    front and its gaps read from the log, folding with per-key offsets gives exactly the
    in-order result."""
    rng = random.Random(7)
    log = {p: [(p, o, rng.randrange(4)) for o in range(300)] for p in range(3)}  # (p, off, key)
    for trial in range(30):
        c = PartitionCursor()
        c.start(1, lambda _: 0)  # the group's committed offsets: the start of the log
        position = {p: 0 for p in log}
        folded: dict[tuple[int, int], list[int]] = {}
        last: dict[tuple[int, int], int] = {}
        for _ in range(2000):
            if all(position[p] >= len(log[p]) for p in log):
                break
            batch = []
            for p in log:
                n = rng.randrange(0, 12)
                if rng.random() < 0.2:  # a stretch fetched and lost (a gap shows only
                    # when a later record comes: the log's last record is never lost)
                    position[p] = min(position[p] + rng.randrange(1, 15), len(log[p]) - 1)
                if rng.random() < 0.1:  # a stretch delivered again
                    position[p] = max(0, position[p] - rng.randrange(1, 15))
                batch += log[p][position[p]:position[p] + n]
                position[p] += n
            rng.shuffle(batch)  # partitions interleave; each stays in offset order below
            batch.sort(key=lambda r: (r[0], r[1]))
            admitted, held, gaps = c.admit(batch, lambda r: (r[0], r[1]))
            if gaps:  # the agent reads what is missing and admits it before the rest
                first = {}
                for p, o, _ in held:
                    first.setdefault(p, o)
                filled = [r for p, want in gaps.items() for r in log[p][want:first[p]]]
                more, held, gaps = c.admit(sorted(filled + held), lambda r: (r[0], r[1]))
                assert not held and not gaps
                admitted += more
            for p, o, k in admitted:
                if o > last.get((p, k), -1):
                    last[(p, k)] = o
                    folded.setdefault((p, k), []).append(o)
        want: dict[tuple[int, int], list[int]] = {}
        for p in log:
            for _, o, k in log[p]:
                want.setdefault((p, k), []).append(o)
        assert folded == want, f"trial {trial}"
