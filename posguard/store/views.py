"""Analyst views: DDL of migration 2 (docs/schema.md describes every column).

Plain ClickHouse SQL with `{db}` placeholders, so store/cluster.py can rewrite it for a cluster.

Why plain (non-materialized) views over `events FINAL`: the events table is a
ReplacingMergeTree keyed by event id, so FINAL shows a replayed event once, and every view
built on it is correct under replays by construction. A materialized view fed by inserts would
see the replayed block a second time and double its sums (only uniqExact-style states could
be made idempotent, not sums of prices). Measured figures are in docs/schema.md.

Local time: terminals' timezones live in `terminal_timezones` (written by
`set_terminal_timezones` from the terminal registry); a terminal missing there is UTC.
ClickHouse's date functions want a constant zone, but `formatDateTime(dt, fmt, tz)` and
`toString(dt, tz)` accept a per-row zone, so local values are computed through them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from posguard.store.backends.base import Backend

__all__ = ["VIEW_STATEMENTS", "RANGE_VIEW_STATEMENTS", "VIEW_NAMES", "set_terminal_timezones", "terminal_timezones"]

VIEW_NAMES = ("receipt_summary", "receipt_summary_between", "incidents_current", "cashier_day",
              "terminal_hour")

_START = "('POS_RECEIPT_OPEN', 'POS_RECEIPT_RETURN', 'POS_RECEIPT_EXCHANGE', 'POS_RECEIPT_PAYOUT')"
_END = ("('POS_RECEIPT_CLOSE', 'POS_RECEIPT_SELL_CLOSE', 'POS_RECEIPT_RETURN_CLOSE', "
        "'POS_RECEIPT_EXCHANGE_CLOSE', 'POS_RECEIPT_PAYOUT_CLOSE', 'POS_RECEIPT_CANCEL', "
        "'POS_RECEIPT_CANCEL_WITH_WRITE_OFF', 'POS_RECEIPT_ANNULMENT', 'POS_RECEIPT_INCOMPLETE')")
_CANCEL = "('POS_RECEIPT_CANCEL', 'POS_RECEIPT_CANCEL_WITH_WRITE_OFF', 'POS_RECEIPT_ANNULMENT')"
_ADD = "('POS_POSITION_ADD', 'POS_POSITION_ADD_BY_SCANNER')"
_CHANGE = "('POS_POSITION_QUANTITY_CHANGE', 'POS_POSITION_PRICE_CHANGE')"
_PAY = "('POS_PAYMENT_CASH', 'POS_PAYMENT_CARD', 'POS_PAYMENT_CERTIFICATE', 'POS_PAYMENT_BONUS')"
_DISC = "('POS_DISCOUNT_POSITION', 'POS_DISCOUNT_RECEIPT')"
_GONE = "toInt64(-9223372036854775808)"  # tombstone of a deleted line inside the fold

# Terminal GUID -> IANA zone, read once per query (a scalar subquery).
_ZONES = ("(SELECT CAST((groupArray(pos_terminal), groupArray(timezone)), "
          "'Map(String, String)') FROM {db}.terminal_timezones FINAL WHERE timezone != '')")


def _zone(terminal: str) -> str:
    return f"if(_zones[{terminal}] = '', 'UTC', _zones[{terminal}])"


TERMINAL_TIMEZONES = """CREATE TABLE IF NOT EXISTS {db}.terminal_timezones (
    pos_terminal String,
    store LowCardinality(String),
    timezone LowCardinality(String),
    updated Int64
) ENGINE = ReplacingMergeTree(updated)
ORDER BY pos_terminal"""

# One row per receipt (terminal, op_id), folded from the deduplicated events. The line fold
# mirrors model.receipts.assemble: an add sets a position's price, a delete removes it, a
# quantity/price change updates a live position; total is the closing event's price when it
# carries one, else the sum of live lines; a cancelled receipt totals 0.
_RECEIPT_SUMMARY = f"""CREATE VIEW IF NOT EXISTS {{db}}.@NAME@ AS
WITH {_ZONES} AS _zones
SELECT
    pos_terminal, op_id, store, pos_terminal_name, cashier_name, kind, status,
    status IN ('incomplete', 'open') AS incomplete,
    ts_open, ts_close, ts_received_last,
    fromUnixTimestamp64Micro(ts_open, 'UTC') AS opened_utc,
    fromUnixTimestamp64Micro(ts_close, 'UTC') AS closed_utc,
    {_zone('pos_terminal')} AS timezone,
    toDateTime64(toString(opened_utc, timezone), 6, 'UTC') AS opened_local,
    toDateTime64(toString(closed_utc, timezone), 6, 'UTC') AS closed_local,
    toDate(closed_local) AS local_day,
    (ts_close - ts_open) / 1e6 AS duration_s,
    if(status = 'cancelled', 0, if(close_price != 0, close_price,
       arraySum(arrayFilter(v -> v != {_GONE}, mapValues(_lines))))) AS total,
    length(arrayFilter(v -> v != {_GONE}, mapValues(_lines))) AS positions,
    discount, deletes, returns, keyed_positions, change, discount_card, payment_types,
    drawer_opens, frauds, fraud_texts, events
FROM (
    SELECT
        pos_terminal, op_id,
        any(store) AS store,
        any(pos_terminal_name) AS pos_terminal_name,
        argMinIf(cashier_name, ts_in_receipt, cashier_name != '') AS cashier_name,
        multiIf(_start = 'POS_RECEIPT_RETURN', 'return', _start = 'POS_RECEIPT_EXCHANGE',
                'exchange', _start = 'POS_RECEIPT_PAYOUT', 'payout', 'sale') AS kind,
        argMinIf(type, (ts_in_receipt, ts_received), type IN {_START}) AS _start,
        argMaxIf(type, (ts_in_receipt, ts_received), type IN {_END}) AS _end,
        multiIf(_end = '', 'open', _end IN {_CANCEL}, 'cancelled',
                _end = 'POS_RECEIPT_INCOMPLETE', 'incomplete', 'closed') AS status,
        if(countIf(type IN {_START}) > 0, minIf(ts_in_receipt, type IN {_START}),
           min(ts_in_receipt)) AS ts_open,
        if(_end != '', maxIf(ts_in_receipt, type IN {_END}), max(ts_in_receipt)) AS ts_close,
        max(ts_received) AS ts_received_last,
        argMaxIf(price, (ts_in_receipt, ts_received), type = 'POS_RECEIPT_CLOSE') AS close_price,
        arrayFold((acc, l) -> multiIf(
            l.3 IN {_ADD}, mapUpdate(acc, map(l.4, l.5)),
            l.3 = 'POS_POSITION_DELETE', mapUpdate(acc, map(l.4, {_GONE})),
            l.3 IN {_CHANGE} AND mapContains(acc, l.4) AND acc[l.4] != {_GONE},
                mapUpdate(acc, map(l.4, l.5)),
            acc),
            arraySort(groupArrayIf(
                (ts_in_receipt, ts_received, type, position, price),
                type IN {_ADD} OR type = 'POS_POSITION_DELETE' OR type IN {_CHANGE})),
            CAST(map(), 'Map(Int32, Int64)')) AS _lines,
        sumIf(if(discount != 0, discount, price), type IN {_DISC}) AS discount,
        countIf(type = 'POS_POSITION_DELETE') AS deletes,
        countIf(type = 'POS_POSITION_RETURN') AS returns,
        countIf(type = 'POS_POSITION_ADD') AS keyed_positions,
        sumIf(price, type = 'POS_CHANGE') AS change,
        argMaxIf(if(discount_card != '', discount_card, text), (ts_in_receipt, ts_received),
                 type = 'POS_DISCOUNT_CARD') AS discount_card,
        arraySort(groupUniqArrayIf(type, type IN {_PAY})) AS payment_types,
        countIf(type = 'POS_DRAWER_OPEN') AS drawer_opens,
        countIf(type = 'POS_FRAUD') AS frauds,
        groupArrayIf(text, type = 'POS_FRAUD') AS fraud_texts,
        count() AS events
    FROM {{db}}.events FINAL
    WHERE op_id != ''@RANGE@
    GROUP BY pos_terminal, op_id
)"""
RECEIPT_SUMMARY = _RECEIPT_SUMMARY.replace("@NAME@", "receipt_summary").replace("@RANGE@", "")
# The same over the events that arrived in [t0, t1) (µs): a parameterized view, used as
# `receipt_summary_between(t0=..., t1=...)`. The range is on ts_received, the events table's
# sort key, so only those granules are read; receipts straddling a bound come out partial.
RECEIPT_SUMMARY_BETWEEN = _RECEIPT_SUMMARY.replace("@NAME@", "receipt_summary_between").replace(
    "@RANGE@", "\n      AND ts_received >= {t0:Int64} AND ts_received < {t1:Int64}")

INCIDENTS_CURRENT = """CREATE VIEW IF NOT EXISTS {db}.incidents_current AS
SELECT
    *,
    multiIf(status = 0, 'new', status = 1, 'confirmed', status = 2, 'rejected',
            toString(status)) AS status_name,
    fromUnixTimestamp64Micro(ts_created, 'UTC') AS created_utc
FROM {db}.incidents FINAL"""

# Per cashier, store and local day. Receipts count on the day they closed.
CASHIER_DAY = f"""CREATE VIEW IF NOT EXISTS {{db}}.cashier_day AS
WITH {_ZONES} AS _zones
SELECT
    store, cashier_name, day,
    sum(_receipts) AS receipts,
    sum(_sales) AS sales,
    sum(_cancelled) AS cancelled_receipts,
    sum(_positions) AS positions,
    sum(_voids) AS voids,
    sum(_refunds) AS refunds,
    sum(_refund_amount) AS refund_amount,
    sum(_discounts) AS discounts,
    sum(_drawer_opens) AS drawer_opens,
    sum(_no_sale_drawer_opens) AS no_sale_drawer_opens,
    sum(_incidents) AS incidents,
    if(sum(_positions) + sum(_voids) = 0, 0,
       sum(_voids) / (sum(_positions) + sum(_voids))) AS void_rate
FROM (
    SELECT store, cashier_name, local_day AS day,
        toUInt64(status = 'closed') AS _receipts,
        if(status = 'closed' AND kind = 'sale', total, 0) AS _sales,
        toUInt64(status = 'cancelled') AS _cancelled,
        toUInt64(deletes) AS _voids,
        toUInt64(status = 'closed' AND kind = 'return') AS _refunds,
        if(status = 'closed' AND kind = 'return', total, 0) AS _refund_amount,
        discount AS _discounts,
        toUInt64(positions) AS _positions,
        toUInt64(0) AS _drawer_opens, toUInt64(0) AS _no_sale_drawer_opens,
        toUInt64(0) AS _incidents
    FROM {{db}}.receipt_summary
    UNION ALL
    SELECT store, cashier_name,
        toDate(formatDateTime(fromUnixTimestamp64Micro(ts_in_receipt, 'UTC'), '%F',
                              {_zone('pos_terminal')})) AS day,
        0, 0, 0, 0, 0, 0, 0, 0,
        toUInt64(1), toUInt64(op_id = ''), 0
    FROM {{db}}.events FINAL
    WHERE type = 'POS_DRAWER_OPEN'
    UNION ALL
    SELECT store, cashier_name,
        toDate(formatDateTime(fromUnixTimestamp64Micro(ts_created, 'UTC'), '%F',
                              {_zone('terminal_guid')})) AS day,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, toUInt64(1)
    FROM {{db}}.incidents FINAL
)
GROUP BY store, cashier_name, day"""

# Per terminal and hour of arrival (ts_received): the hour bucket is the events table's first
# sort-key column, so a filter on hour_utc prunes granules.
TERMINAL_HOUR = f"""CREATE VIEW IF NOT EXISTS {{db}}.terminal_hour AS
WITH {_ZONES} AS _zones
SELECT
    pos_terminal, hour_bucket,
    toDateTime(hour_bucket * 3600, 'UTC') AS hour_utc,
    any(store) AS store,
    any(pos_terminal_name) AS pos_terminal_name,
    toDateTime(formatDateTime(hour_utc, '%F %T', {_zone('pos_terminal')}), 'UTC') AS hour_local,
    count() AS events,
    countIf(type IN {_START}) AS receipts_opened,
    countIf(type IN {_END} AND type NOT IN {_CANCEL}) AS receipts_closed,
    countIf(type IN {_CANCEL}) AS receipts_cancelled,
    sumIf(price, type = 'POS_RECEIPT_CLOSE') AS sales,
    countIf(type IN {_ADD}) AS positions,
    countIf(type = 'POS_POSITION_DELETE') AS deletes,
    countIf(type = 'POS_DRAWER_OPEN') AS drawer_opens,
    countIf(type = 'POS_FRAUD') AS frauds,
    avg(ts_received - ts_in_receipt) / 1000 AS avg_delay_ms,
    max(ts_received - ts_in_receipt) / 1000 AS max_delay_ms,
    max(ts_received) AS last_received
FROM {{db}}.events FINAL
GROUP BY pos_terminal, intDiv(ts_received, 3600000000) AS hour_bucket"""

VIEW_STATEMENTS: tuple[str, ...] = (
    TERMINAL_TIMEZONES, RECEIPT_SUMMARY, INCIDENTS_CURRENT, CASHIER_DAY, TERMINAL_HOUR,
)
RANGE_VIEW_STATEMENTS: tuple[str, ...] = (RECEIPT_SUMMARY_BETWEEN,)


def set_terminal_timezones(backend: Backend, zones: Mapping[str, str],
                           stores: Mapping[str, str] | None = None) -> None:
    """Record each terminal's IANA timezone, read by the views for local times.

    Args:
        backend: the store.
        zones: terminal GUID -> IANA zone name ("Europe/Moscow"); the registry's values.
        stores: terminal GUID -> store name, for documentation in the table (optional).

    Later calls win (ReplacingMergeTree on `updated`).
    """
    if not zones:
        return
    from posguard.model.times import zone

    for tz in zones.values():
        zone(tz)  # refuse unknown names here, not inside every analyst query
    guids = list(zones)
    now = time.time_ns() // 1000
    backend.insert(f"{backend.database}.terminal_timezones",
                   ("pos_terminal", "store", "timezone", "updated"),
                   [guids, [(stores or {}).get(g, "") for g in guids],
                    [zones[g] for g in guids], [now] * len(guids)])


def terminal_timezones(backend: Backend) -> dict[str, str]:
    """Terminal GUID -> timezone as the views see it (terminals not listed are UTC)."""
    rows = backend.query(f"SELECT pos_terminal, timezone FROM {backend.database}."
                         "terminal_timezones FINAL")
    return {str(r[0]): str(r[1]) for r in rows.rows}
