"""Search latency: the search_pos_events filters over 10M and 30M (opt-in 100M) stored events.

Events are generated straight into a fresh chDB store (bench/search_data.py: 1,000
terminals, 3,000 cashiers, receipts of 15 events, a 2,000-name product vocabulary, 30 days).
Each filter of the scripting reference's Table 12 is then run `queries` times with varying
values through `posguard.store.search.search_events` (the code path of search_pos_events,
the console and the API: same SQL, LIMIT 500, oldest first, rows decoded into PosEvents)
over the whole period. Values are taken from the stored data, so every query finds rows.

Baseline, same run, same data, same number of runs: `count_events` over the same range with
no filter (`SELECT count() ... WHERE ts_received BETWEEN`), the least any search over that
range could cost. p50/p95 are nearest-rank over the runs.

On the largest size two comparisons are measured too, in this benchmark's own database:
the search SQL as it was before fix 1 (`ORDER BY ts_received` without the sort key's hour
bucket in front: same rows, but ClickHouse cannot read in key order and stop at LIMIT), run
query by query alternately with the current SQL, whose p50 in that same interleaved run is
the row's baseline (ratio = current / former: below 1 when the current SQL is faster); and
the current SQL with a minmax skip index on ts_received added (fix 2, proposed, not in the
migrations).

Sizes: POSGUARD_BENCH_SEARCH_EVENTS_SMALL (default 10,000,000) and
POSGUARD_BENCH_SEARCH_EVENTS (default 30,000,000; 0 skips a size). 100M is not in the
default run: generating it took 4 to 14 minutes (load ~1.5 to 5-8) on this machine's 2
shared cores, 2.6 GB on disk, and the module took 6 minutes in all at load 0.5-5; run it
with POSGUARD_BENCH_SEARCH_EVENTS=100000000. POSGUARD_BENCH_SEARCH_QUERIES: queries per
filter (20).

    python -m bench.bench_search [n_events ...]
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import engine, fresh_store, size
from bench.search_data import Layout, generate_events, sample_values
from bench.table import print_table, row
from posguard.model.events import PosEvent
from posguard.model.filters import EventFilter, SearchFlags, StringFilter
from posguard.store.backends.base import Backend
from posguard.store.schema import EVENT_COLUMNS
from posguard.store.search import (
    DEFAULT_LIMIT,
    build_event_search,
    count_events,
    search_events,
)

__all__ = ["run", "main", "measure", "percentile", "FILTERS", "time_queries", "time_pairs",
           "former_order", "add_ts_minmax", "has_ts_minmax"]

TARGET_MS = 300.0
TARGET_AT = 100_000_000
DEFAULT_LARGE = 30_000_000  # 100M takes 4-14 min to generate here: opt-in (module docstring)
# Event-type filters of varying selectivity: rare (cancels, deletes) to common (payments).
_TYPE_SETS: tuple[tuple[str, ...], ...] = (
    ("POS_POSITION_DELETE",), ("POS_RECEIPT_CANCEL",), ("POS_POSITION_DELETE",
                                                         "POS_RECEIPT_CANCEL"),
    ("POS_DISCOUNT_CARD",), ("POS_POSITION_PRICE_CHANGE",), ("POS_RECEIPT_RETURN",
                                                             "POS_RECEIPT_RETURN_CLOSE"),
    ("POS_PAYMENT_CASH",), ("POS_DISCOUNT_POSITION", "POS_DISCOUNT_RECEIPT"),
)


def _type_filter(values: dict[str, list[str]], i: int) -> EventFilter:
    return EventFilter(events=_TYPE_SETS[i % len(_TYPE_SETS)])


def _starts_with(values: dict[str, list[str]], i: int) -> EventFilter:
    # what an operator types: the first word of a product name, in lower case
    word = values["text"][i].split(" ")[0].lower()
    return EventFilter(text=(StringFilter(word, SearchFlags.STARTS_WITH),))


# name -> how the i-th query's filter is built from the sampled values
FILTERS: dict[str, Callable[[dict[str, list[str]], int], EventFilter]] = {
    "receipt number": lambda v, i: EventFilter(receipt_number=(v["op_id"][i],)),
    "cashier": lambda v, i: EventFilter(cashiers=(v["cashier_name"][i],)),
    "text starts-with": _starts_with,
    "event types": _type_filter,
    "terminal": lambda v, i: EventFilter(terminals=(v["pos_terminal"][i],)),
    "no filter": lambda v, i: EventFilter(),
}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in (0, 100]) of a non-empty sample.

    Example:
        >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50), percentile(range(1, 21), 95)
        (3.0, 19)
    """
    if not values:
        raise ValueError("percentile of no values")
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def time_queries(fn: Callable[[int], int], n: int) -> tuple[list[float], list[int]]:
    """Run `fn(i)` for i in range(n); milliseconds per call and what each call returned."""
    times, results = [], []
    for i in range(n):
        t = time.perf_counter()
        results.append(fn(i))
        times.append((time.perf_counter() - t) * 1000)
    return times, results


def time_pairs(a: Callable[[int], int], b: Callable[[int], int],
               n: int) -> tuple[list[float], list[float]]:
    """Run `a(i)` and `b(i)` for i in range(n), alternating which goes first (so cache state
    and machine noise fall on both alike); milliseconds per call of each."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(n):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            t = time.perf_counter()
            (a, b)[k](i)
            times[k].append((time.perf_counter() - t) * 1000)
    return times


Runner = Callable[[int], int]


def _search(backend: Backend, layout: Layout, values: dict[str, list[str]],
            make: Callable[[dict[str, list[str]], int], EventFilter]) -> Runner:
    """The i-th query through search_events: the product's code path."""
    def one(i: int) -> int:
        return len(search_events(backend, layout.t0, layout.t1, make(values, i), DEFAULT_LIMIT))

    return one


_ORDER_BUCKET_FIRST = f"ORDER BY intDiv(ts_received, {3_600_000_000}) ASC, ts_received ASC, "
_ORDER = "ORDER BY ts_received ASC, "


def former_order(sql: str) -> str | None:
    """The search SQL as it was before fix 1: ordered by ts_received without the sort key's
    hour bucket in front (the same rows in the same order, but not read in key order); None
    when the SQL does not have the ORDER BY this rewrites.

    Example:
        >>> former_order("SELECT x FROM e ORDER BY intDiv(ts_received, 3600000000) ASC, "
        ...              "ts_received ASC, event_id LIMIT 5")
        'SELECT x FROM e ORDER BY ts_received ASC, event_id LIMIT 5'
    """
    return sql.replace(_ORDER_BUCKET_FIRST, _ORDER) if sql.count(_ORDER_BUCKET_FIRST) == 1 \
        else None


def _search_former_order(backend: Backend, layout: Layout, values: dict[str, list[str]],
                         make: Callable[[dict[str, list[str]], int], EventFilter]) -> Runner:
    """The i-th query with `former_order` SQL, rows decoded as search_events decodes them."""
    def one(i: int) -> int:
        q = build_event_search(backend.database, layout.t0, layout.t1, make(values, i))
        sql = former_order(q.sql)
        assert sql is not None
        rows = backend.query(sql, q.params).rows
        return len([PosEvent(**dict(zip(EVENT_COLUMNS, r, strict=False))) for r in rows])

    return one


def has_ts_minmax(backend: Backend) -> bool:
    """Whether the events table already has a minmax skip index on ts_received."""
    return bool(backend.query(
        "SELECT count() FROM system.data_skipping_indices WHERE database = {db:String} "
        "AND table = 'events' AND type = 'minmax' AND expr = 'ts_received'",
        {"db": backend.database}).scalar())


def add_ts_minmax(backend: Backend) -> float:
    """Prototype (this benchmark's own database only): a minmax index on ts_received, built
    for the stored parts; seconds taken. ClickHouse >= 25.x uses it to skip granules for
    `ORDER BY ts_received LIMIT n` (use_skip_indexes_for_top_k)."""
    t = time.perf_counter()
    db = backend.database
    backend.command(f"ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS bench_idx_ts "
                    "ts_received TYPE minmax GRANULARITY 1")
    backend.command(f"ALTER TABLE {db}.events MATERIALIZE INDEX bench_idx_ts",
                    settings={"mutations_sync": 2})
    return time.perf_counter() - t


def _filter_rows(label: str, how: str, runner: Callable[[str], Runner], queries: int,
                 base: float, target: str, with_p95: bool = True) -> list[dict[str, Any]]:
    out = []
    for name in FILTERS:
        ms, found = time_queries(runner(name), queries)
        p50, p95 = percentile(ms, 50), percentile(ms, 95)
        extra = {"p95": round(p95, 1), "max_ms": round(max(ms), 1), "queries": queries,
                 "rows_returned_mean": round(sum(found) / len(found), 1)}
        tgt = target if name != "no filter" else ""
        out.append(row(f"search {name}, {label}{how}: p50", p50, "ms", base,
                       "count() over the range", tgt, higher_is_better=False, **extra))
        if with_p95:
            out.append(row(f"search {name}, {label}{how}: p95", p95, "ms", base,
                           "count() over the range", "", higher_is_better=False, **extra))
    return out


def measure(backend: Backend, layout: Layout, queries: int,
            comparisons: bool = False) -> list[dict[str, Any]]:
    """Rows for one data set: the baseline, then p50 and p95 of each filter over the whole
    period; with `comparisons`, p50 again with the former order and with the proposed index
    (see module docstring)."""
    n = layout.n_events
    label = f"{n / 1e6:g}M events, {layout.days} days"
    values = sample_values(backend, queries)
    if len(values["op_id"]) < queries:
        raise RuntimeError(f"only {len(values['op_id'])} item events stored, need {queries}")
    count_events(backend, layout.t0, layout.t1)  # warm-up: marks and headers in the cache
    base_ms, counts = time_queries(lambda i: count_events(backend, layout.t0, layout.t1),
                                   queries)
    if counts[0] != n:
        raise RuntimeError(f"{counts[0]} events in range, {n} generated")
    base = percentile(base_ms, 50)
    target = f"< {TARGET_MS:g} ms at 100M" if n >= TARGET_AT else ""
    out = [row(f"search baseline, {label}: count() over the range, p50", base, "ms",
               higher_is_better=False, p95=percentile(base_ms, 95))]
    out += _filter_rows(label, "", lambda f: _search(backend, layout, values, FILTERS[f]),
                        queries, base, target)
    if not comparisons:
        return out
    probe = build_event_search(backend.database, 0, 1, EventFilter()).sql
    if former_order(probe) is not None:
        for name, make in FILTERS.items():  # interleaved with the current SQL, query by query
            now_ms, old_ms = time_pairs(_search(backend, layout, values, make),
                                        _search_former_order(backend, layout, values, make),
                                        queries)
            out.append(row(f"search {name}, {label}, former ORDER BY ts_received (before fix 1)"
                           ": p50", percentile(old_ms, 50), "ms", percentile(now_ms, 50),
                           "current SQL, interleaved", higher_is_better=False,
                           p95=round(percentile(old_ms, 95), 1),
                           current_p95=round(percentile(now_ms, 95), 1), queries=queries))
    if not has_ts_minmax(backend):
        secs = add_ts_minmax(backend)
        out.append(row(f"search {label}: build proposed minmax(ts_received) index", secs * 1000,
                       "ms", higher_is_better=False))
        out += _filter_rows(label, ", proposed minmax(ts_received) index",
                            lambda f: _search(backend, layout, values, FILTERS[f]),
                            queries, base, target, with_p95=False)
    return out


def _progress(rows: int, seconds: float) -> None:
    print(f"   generated {rows:,} events in {seconds:.0f} s", flush=True)


def run_size(n_events: int, queries: int, comparisons: bool = False) -> list[dict[str, Any]]:
    """Generate `n_events` into a fresh store, measure, drop the database."""
    backend = fresh_store()
    layout = Layout(n_events)
    try:
        free_before = shutil.disk_usage(engine().path).free
        stats = generate_events(backend, layout, progress=_progress)
        used = free_before - shutil.disk_usage(engine().path).free
        out = [row(f"search data: generate {n_events / 1e6:g}M events into chDB", stats.seconds,
                   "s", higher_is_better=False, events_per_s=round(stats.rows / stats.seconds),
                   rows=stats.rows, bytes_on_disk=stats.bytes_on_disk,
                   disk_used_bytes=used, parts=stats.parts),
               row(f"search data: {n_events / 1e6:g}M events on disk (compressed)",
                   stats.bytes_on_disk / 1e9, "GB", bytes_per_event=round(
                       stats.bytes_on_disk / stats.rows, 1))]
        return out + measure(backend, layout, queries, comparisons)
    finally:
        backend.command(f"DROP DATABASE IF EXISTS {backend.database} SYNC")


def run(sizes: Sequence[int] | None = None, queries: int | None = None) -> list[dict[str, Any]]:
    """Measure every filter at each size (default 10M and 30M events).

    Returns:
        Rows (bench.table.row): milliseconds, lower is better; ratio = baseline / value.
    """
    sizes = [s for s in (sizes or (size("search_events_small", 10_000_000),
                                   size("search_events", DEFAULT_LARGE))) if s > 0]
    q = queries or size("search_queries", 20)
    out: list[dict[str, Any]] = []
    for n in sizes:
        out += run_size(n, q, comparisons=n == max(sizes))
    if sizes and max(sizes) < TARGET_AT:
        out.append(row("search: the 100M target size is opt-in (POSGUARD_BENCH_SEARCH_EVENTS="
                       "100000000); largest size this run", max(sizes), "events",
                       target="100M: 4-14 min to generate here"))
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a table."""
    args = sys.argv[1:] if argv is None else argv
    print_table(run([int(a) for a in args] or None))


if __name__ == "__main__":
    main()
