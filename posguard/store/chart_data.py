"""The figures behind the console's key charts, read from the analyst views.

Each function returns plain rows (label, series, value) for one chart; console/routes/charts.py
draws them. The same queries, in Grafana's macros, are in deploy/grafana/dashboards/.
"""

from __future__ import annotations

from posguard.store.backends.base import Backend

__all__ = ["incidents_by_type", "top_void_cashiers", "receipts_per_hour", "pipeline_lag"]


def incidents_by_type(backend: Backend, t0: int, t1: int,
                      store: str = "") -> list[tuple[str, str, int]]:
    """(type_name, status_name, count) of incidents created in [t0, t1)."""
    rows = backend.query(
        f"SELECT type_name, status_name, count() FROM {backend.database}.incidents_current "
        "WHERE ts_created >= {t0:Int64} AND ts_created < {t1:Int64} "
        "AND ({store:String} = '' OR store = {store:String}) "
        "GROUP BY type_name, status_name ORDER BY type_name, status_name",
        {"t0": t0, "t1": t1, "store": store})
    return [(str(a), str(b), int(c)) for a, b, c in rows.rows]


def top_void_cashiers(backend: Backend, day0: str, day1: str, store: str = "",
                      limit: int = 10) -> list[tuple[str, str, float, int, int]]:
    """(cashier, store, void rate, voids, positions) over local days [day0, day1], worst first.

    Cashiers with fewer than 20 lines are left out (a rate of 1 void in 2 lines says little).
    """
    rows = backend.query(
        "SELECT cashier_name, store, sum(voids) / (sum(positions) + sum(voids)) AS rate, "
        "sum(voids), sum(positions) "
        f"FROM {backend.database}.cashier_day "
        "WHERE day BETWEEN toDate({d0:String}) AND toDate({d1:String}) "
        "AND ({store:String} = '' OR store = {store:String}) "
        "GROUP BY cashier_name, store HAVING sum(positions) + sum(voids) >= 20 "
        "ORDER BY rate DESC, cashier_name LIMIT {n:UInt32}",
        {"d0": day0, "d1": day1, "store": store, "n": limit})
    return [(str(a), str(b), float(c), int(d), int(e)) for a, b, c, d, e in rows.rows]


def receipts_per_hour(backend: Backend, t0: int, t1: int,
                      store: str = "") -> list[tuple[int, str, int]]:
    """(hour start in µs UTC, store, receipts closed) for hours of arrival in [t0, t1)."""
    rows = backend.query(
        "SELECT hour_bucket * 3600000000, store, sum(receipts_closed) "
        f"FROM {backend.database}.terminal_hour "
        "WHERE hour_bucket >= intDiv({t0:Int64}, 3600000000) "
        "AND hour_bucket < intDiv({t1:Int64} + 3599999999, 3600000000) "
        "AND ({store:String} = '' OR store = {store:String}) "
        "GROUP BY hour_bucket, store ORDER BY hour_bucket, store",
        {"t0": t0, "t1": t1, "store": store})
    return [(int(a), str(b), int(c)) for a, b, c in rows.rows]


def pipeline_lag(backend: Backend, t0: int, t1: int,
                 store: str = "") -> list[tuple[int, str, float, float]]:
    """(hour start in µs UTC, store, mean and max delay in ms from terminal to server)."""
    rows = backend.query(
        "SELECT hour_bucket * 3600000000, store, "
        "sum(avg_delay_ms * events) / sum(events), max(max_delay_ms) "
        f"FROM {backend.database}.terminal_hour "
        "WHERE hour_bucket >= intDiv({t0:Int64}, 3600000000) "
        "AND hour_bucket < intDiv({t1:Int64} + 3599999999, 3600000000) "
        "AND ({store:String} = '' OR store = {store:String}) "
        "GROUP BY hour_bucket, store ORDER BY hour_bucket, store",
        {"t0": t0, "t1": t1, "store": store})
    return [(int(a), str(b), float(c), float(d)) for a, b, c, d in rows.rows]
