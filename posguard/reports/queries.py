"""Report SQL: the only SQL of the reports, aggregated in ClickHouse, over either backend.

Every report is a list of sections; every section is one parameterised query whose first
column `_total` tells the totals row (GROUPING SETS ((keys), ())) from the grouped rows, so the
totals are ClickHouse's too. Values come back as the engine computed them: money in kopecks,
shares as fractions, timestamps in microseconds; ods.py types them.

Which rows a period holds (start inclusive, end exclusive, microseconds):
- receipts by `ts_close` (the terminal's time of the closing event);
- events by `ts_in_receipt` (the terminal's time of the event);
- incidents by `ts_created`, latest review state (`FINAL` on the ReplacingMergeTree(version)).
Days and hours are in the report's timezone. A store filter applies to every table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from posguard.reports.document import Chart, Column, Kind, Label, Section
from posguard.store.backends.base import Backend

__all__ = ["Period", "DETAIL_LIMIT", "CARD_LIMIT", "REPORT_QUERIES", "Step"]

DETAIL_LIMIT = 5_000  # rows of a detail list (the totals of its summary sheets count all)
CARD_LIMIT = 500  # discount cards listed, largest discount first

Step = Callable[[str], None]

_POSITION_TYPES = "('POS_POSITION_ADD', 'POS_POSITION_ADD_BY_SCANNER')"
_CANCEL_TYPES = "('POS_RECEIPT_CANCEL', 'POS_RECEIPT_CANCEL_WITH_WRITE_OFF', 'POS_RECEIPT_ANNULMENT')"
_DISCOUNT_TYPES = "('POS_DISCOUNT_POSITION', 'POS_DISCOUNT_RECEIPT')"
_SALE = "status = 'closed' AND kind = 'sale'"
_STATUS = "multiIf(status = 0, 'new', status = 1, 'confirmed', status = 2, 'rejected', 'other')"


@dataclass(frozen=True)
class Period:
    """What a report covers: [t0_us, t1_us), one store or all (""), shown in timezone `tz`."""

    t0_us: int
    t1_us: int
    store: str = ""
    tz: str = "UTC"

    def params(self) -> dict[str, Any]:
        return {"t0": self.t0_us, "t1": self.t1_us, "tz": self.tz,
                "stores": [self.store] if self.store else []}


def _where(ts: str) -> str:
    # The store goes in as an array (empty = all stores), so one filter serves one store or,
    # later, several.
    return (f"{ts} >= {{t0:Int64}} AND {ts} < {{t1:Int64}} "
            "AND (empty({stores:Array(String)}) OR has({stores:Array(String)}, store))")


def _day(ts: str) -> str:
    return f"toDate(fromUnixTimestamp64Micro({ts}), {{tz:String}})"


def _ratio(num: str, den: str) -> str:
    return f"if(({den}) = 0, NULL, ({num}) / ({den}))"


def _grouped(backend: Backend, sql: str, params: dict[str, Any], n_keys: int,
             columns: list[Column], name: str, **kw: Any) -> Section:
    """Run a GROUPING SETS query (first column `_total`) into a Section with its totals row.

    The first `n_keys` columns name the group (keys, and per-group labels such as a
    terminal's name): the totals row reads "Total" there, then blanks.
    """
    res = backend.query(sql.replace("{db}", backend.database), params)
    rows: list[tuple[Any, ...]] = []
    totals: tuple[Any, ...] | None = None
    for r in res.rows:
        if r[0] and n_keys == 0:
            totals = tuple(r[1:])  # the caller labels it
        elif r[0]:
            keys: list[Any] = [Label("Total")] + [None] * (n_keys - 1)
            totals = (*keys, *r[1 + n_keys:])
        else:
            rows.append(tuple(r[1:]))
    return Section(name=name, columns=columns, rows=rows, totals=totals, **kw)


def _listing(backend: Backend, sql: str, params: dict[str, Any], columns: list[Column],
             name: str, total: int, what: str) -> Section:
    """A detail list capped at DETAIL_LIMIT rows; `total` is how many there are in all."""
    res = backend.query(sql.replace("{db}", backend.database),
                        {**params, "limit": DETAIL_LIMIT})
    rows = [tuple(r) for r in res.rows]
    truncated = total > len(rows)
    note = (f"first {len(rows):,} of {total:,} {what} (earliest first)" if truncated
            else f"{len(rows):,} {what}")
    return Section(name=name, columns=columns, rows=rows, note=note, truncated=truncated)


def _total_of(section: Section, title: str) -> int:
    if section.totals is None:
        return 0
    v = section.totals[section.column(title)]
    return int(v or 0)


# --------------------------------------------------------------------------- violations
_INC_METRICS = f"""
    count() AS incidents,
    countIf(status = 0) AS new,
    countIf(status = 1) AS confirmed,
    countIf(status = 2) AS rejected,
    {_ratio("countIf(status != 0)", "count()")} AS reviewed_share,
    sumIf(expert_estimate, status = 1) AS damage_confirmed,
    sum(expert_estimate) AS estimate_all,
    {_ratio("sumIf(review_duration, status != 0)", "countIf(status != 0) * 1000000")}
        AS avg_review_s"""

_INC_COLUMNS = [
    Column("Incidents", Kind.INT, "incidents raised in the period"),
    Column("New", Kind.INT, "not reviewed yet"),
    Column("Confirmed", Kind.INT, "reviewed as a violation"),
    Column("Rejected", Kind.INT, "reviewed as no violation"),
    Column("Reviewed", Kind.PERCENT, "(confirmed + rejected) / incidents"),
    Column("Damage confirmed", Kind.MONEY, "sum of expert estimates of confirmed incidents"),
    Column("Estimates, all", Kind.MONEY, "sum of expert estimates whatever the status"),
    Column("Avg review, s", Kind.NUMBER, "mean review duration of reviewed incidents"),
]


def _incidents_by(backend: Backend, p: Period, keys: Sequence[str], extra: str,
                  key_columns: list[Column], name: str, order: str,
                  chart: Chart | None = None) -> Section:
    k = ", ".join(keys)
    sql = (f"SELECT grouping({k}) AS _total, {k}{extra}, {_INC_METRICS} "
           f"FROM {{db}}.incidents FINAL WHERE {_where('ts_created')} "
           f"GROUP BY GROUPING SETS (({k}), ()) ORDER BY _total, {order}")
    return _grouped(backend, sql, p.params(), len(key_columns),
                    key_columns + _INC_COLUMNS, name, chart=chart)


def violations(backend: Backend, p: Period, step: Step) -> list[Section]:
    """VIOLATIONS_REPORT: incidents by type, terminal, cashier, status and day, and the list."""
    step("incidents by type")
    by_type = _incidents_by(backend, p, ["type_name"], "", [Column("Incident type")],
                            "By type", "incidents DESC, type_name")
    step("incidents by terminal")
    by_term = _incidents_by(
        backend, p, ["store", "terminal_guid"],
        ", argMax(terminal_name, ts_created) AS terminal_name",
        [Column("Store"), Column("Terminal"), Column("Terminal name")],
        "By terminal", "store, terminal_guid")
    step("incidents by cashier")
    by_cashier = _incidents_by(backend, p, ["store", "cashier_name"], "",
                               [Column("Store"), Column("Cashier")], "By cashier",
                               "incidents DESC, store, cashier_name")
    step("incidents by status")
    all_incidents = f"(SELECT count() FROM {{db}}.incidents FINAL WHERE {_where('ts_created')})"
    sql = (f"SELECT grouping(st) AS _total, {_STATUS} AS st, count() AS incidents, "
           f"{_ratio('count()', all_incidents)} AS share, "
           "sum(expert_estimate) AS estimate FROM {db}.incidents FINAL "
           f"WHERE {_where('ts_created')} GROUP BY GROUPING SETS ((st), ()) "
           "ORDER BY _total, min(status)")
    by_status = _grouped(backend, sql, p.params(), 1, [
        Column("Status"), Column("Incidents", Kind.INT),
        Column("Share", Kind.PERCENT, "incidents of this status / all incidents"),
        Column("Estimates", Kind.MONEY, "sum of expert estimates")], "By status")
    step("incidents per day")
    day = _day("ts_created")
    sql = (f"SELECT grouping(day) AS _total, {day} AS day, count() AS incidents, "
           "countIf(status = 1) AS confirmed, sumIf(expert_estimate, status = 1) AS damage "
           f"FROM {{db}}.incidents FINAL WHERE {_where('ts_created')} "
           "GROUP BY GROUPING SETS ((day), ()) ORDER BY _total, day")
    per_day = _grouped(backend, sql, p.params(), 1, [
        Column("Day", Kind.DATE, "local day of ts_created"), Column("Incidents", Kind.INT),
        Column("Confirmed", Kind.INT), Column("Damage confirmed", Kind.MONEY)], "Per day",
        chart=Chart("Incidents per day", 0, (1, 2)))
    step("incident list")
    sql = (f"SELECT ts_created, type_name, store, terminal_guid, terminal_name, cashier_name, "
           f"op_id, {_STATUS} AS st, expert, expert_estimate, "
           "if(review_ts = 0, NULL, review_ts) AS reviewed, comment "
           f"FROM {{db}}.incidents FINAL WHERE {_where('ts_created')} "
           "ORDER BY ts_created, id LIMIT {limit:UInt64}")
    listing = _listing(backend, sql, p.params(), [
        Column("Created", Kind.DATETIME), Column("Incident type"), Column("Store"),
        Column("Terminal"), Column("Terminal name"), Column("Cashier"), Column("Receipt"),
        Column("Status"), Column("Expert"), Column("Estimate", Kind.MONEY),
        Column("Reviewed at", Kind.DATETIME), Column("Comment")],
        "Incidents", _total_of(by_type, "Incidents"), "incidents")
    return [by_type, by_term, by_cashier, by_status, per_day, listing]


# --------------------------------------------------------------------------- cancelled positions
_CANCEL_METRICS = f"""
    countIf(type = 'POS_POSITION_DELETE') AS deleted,
    sumIf(price, type = 'POS_POSITION_DELETE') AS deleted_amount,
    countIf(type IN {_POSITION_TYPES}) AS lines,
    {_ratio("countIf(type = 'POS_POSITION_DELETE')", f"countIf(type IN {_POSITION_TYPES})")}
        AS delete_rate,
    countIf(type IN {_CANCEL_TYPES}) AS cancelled,
    sumIf(price, type IN {_CANCEL_TYPES}) AS cancelled_amount,
    sumIf(price, type = 'POS_POSITION_DELETE' OR type IN {_CANCEL_TYPES}) AS lost_amount"""

_CANCEL_COLUMNS = [
    Column("Deleted positions", Kind.INT, "POS_POSITION_DELETE events"),
    Column("Deleted amount", Kind.MONEY, "sum of the deleted positions' price"),
    Column("Positions added", Kind.INT, "POS_POSITION_ADD and _BY_SCANNER events"),
    Column("Delete rate", Kind.PERCENT, "deleted positions / positions added"),
    Column("Cancelled receipts", Kind.INT,
           "POS_RECEIPT_CANCEL, _CANCEL_WITH_WRITE_OFF and _ANNULMENT events"),
    Column("Cancelled amount", Kind.MONEY, "sum of the cancel events' price (receipt total)"),
    Column("Deleted + cancelled", Kind.MONEY, "deleted amount + cancelled amount"),
]
_CANCEL_FILTER = (f"type = 'POS_POSITION_DELETE' OR type IN {_CANCEL_TYPES} "
                  f"OR type IN {_POSITION_TYPES}")


def cancelled_positions(backend: Backend, p: Period, step: Step) -> list[Section]:
    """CANCELLED_POSITIONS_REPORT: deletes and cancelled receipts by cashier and terminal."""
    where = f"{_where('ts_in_receipt')} AND ({_CANCEL_FILTER})"
    step("deletes by cashier")
    by_cashier = _grouped(backend, (
        f"SELECT grouping(store, cashier_name) AS _total, store, cashier_name, "
        f"{_CANCEL_METRICS} FROM {{db}}.events FINAL WHERE {where} "
        "GROUP BY GROUPING SETS ((store, cashier_name), ()) "
        "ORDER BY _total, lost_amount DESC, store, cashier_name"), p.params(), 2,
        [Column("Store"), Column("Cashier"), *_CANCEL_COLUMNS], "By cashier")
    step("deletes by terminal")
    by_term = _grouped(backend, (
        "SELECT grouping(store, pos_terminal) AS _total, store, pos_terminal, "
        f"argMax(pos_terminal_name, ts_in_receipt) AS name, {_CANCEL_METRICS} "
        f"FROM {{db}}.events FINAL WHERE {where} "
        "GROUP BY GROUPING SETS ((store, pos_terminal), ()) "
        "ORDER BY _total, store, pos_terminal"), p.params(), 3,
        [Column("Store"), Column("Terminal"), Column("Terminal name"), *_CANCEL_COLUMNS],
        "By terminal")
    step("deleted positions")
    # The item's name is on its add event when the delete event carries none; receipts that
    # straddle the period's start are looked up to a day back.
    sql = (
        "SELECT d.ts_in_receipt, d.store, d.pos_terminal, d.pos_terminal_name, d.cashier_name, "
        "d.op_id, d.position, if(d.text != '', d.text, a.item) AS item, d.price "
        "FROM (SELECT ts_in_receipt, store, pos_terminal, pos_terminal_name, cashier_name, "
        "op_id, position, text, price, event_id FROM {db}.events FINAL "
        f"WHERE {_where('ts_in_receipt')} AND type = 'POS_POSITION_DELETE' "
        "ORDER BY ts_in_receipt, event_id LIMIT {limit:UInt64}) AS d "
        "LEFT JOIN (SELECT pos_terminal, op_id, position, argMax(text, ts_in_receipt) AS item "
        f"FROM {{db}}.events FINAL WHERE type IN {_POSITION_TYPES} "
        "AND ts_in_receipt >= {t0:Int64} - 86400000000 AND ts_in_receipt < {t1:Int64} "
        "AND (pos_terminal, op_id) IN (SELECT pos_terminal, op_id FROM {db}.events FINAL "
        f"WHERE {_where('ts_in_receipt')} AND type = 'POS_POSITION_DELETE') "
        "GROUP BY pos_terminal, op_id, position) AS a "
        "ON d.pos_terminal = a.pos_terminal AND d.op_id = a.op_id AND d.position = a.position "
        "ORDER BY d.ts_in_receipt, d.event_id")
    deleted = _listing(backend, sql, p.params(), [
        Column("Time", Kind.DATETIME), Column("Store"), Column("Terminal"),
        Column("Terminal name"), Column("Cashier"), Column("Receipt"),
        Column("Position", Kind.INT), Column("Item"), Column("Amount", Kind.MONEY)],
        "Deleted positions", _total_of(by_cashier, "Deleted positions"), "deleted positions")
    step("cancelled receipts")
    sql = ("SELECT ts_in_receipt, store, pos_terminal, pos_terminal_name, cashier_name, op_id, "
           "type, price FROM {db}.events FINAL "
           f"WHERE {_where('ts_in_receipt')} AND type IN {_CANCEL_TYPES} "
           "ORDER BY ts_in_receipt, event_id LIMIT {limit:UInt64}")
    cancelled = _listing(backend, sql, p.params(), [
        Column("Time", Kind.DATETIME), Column("Store"), Column("Terminal"),
        Column("Terminal name"), Column("Cashier"), Column("Receipt"), Column("Event"),
        Column("Amount", Kind.MONEY)],
        "Cancelled receipts", _total_of(by_cashier, "Cancelled receipts"), "cancelled receipts")
    return [by_cashier, by_term, deleted, cancelled]


# --------------------------------------------------------------------------- discounts
_DISC_METRICS = f"""
    count() AS receipts,
    countIf(discount > 0) AS discounted,
    {_ratio("countIf(discount > 0)", "count()")} AS discounted_share,
    sum(discount) AS discount_sum,
    sum(total) AS sales,
    {_ratio("sum(discount)", "sum(total) + sum(discount)")} AS discount_share,
    {_ratio("sum(discount)", "countIf(discount > 0)")} AS avg_discount"""

_DISC_COLUMNS = [
    Column("Receipts", Kind.INT, "closed sale receipts"),
    Column("With discount", Kind.INT, "receipts whose discount > 0"),
    Column("With discount, share", Kind.PERCENT, "with discount / receipts"),
    Column("Discount", Kind.MONEY, "sum of receipt discounts"),
    Column("Sales", Kind.MONEY, "sum of receipt totals (after discount)"),
    Column("Discount share", Kind.PERCENT, "discount / (sales + discount)"),
    Column("Avg discount", Kind.MONEY, "discount / receipts with discount"),
]


def discounts(backend: Backend, p: Period, step: Step) -> list[Section]:
    """DISCOUNTS_REPORT: discounts by store, cashier and card; share of sales; by kind."""
    where = f"{_where('ts_close')} AND {_SALE}"
    src = f"FROM {{db}}.receipts FINAL WHERE {where}"
    step("discounts by store")
    by_store = _grouped(backend, (
        f"SELECT grouping(store) AS _total, store, {_DISC_METRICS} {src} "
        "GROUP BY GROUPING SETS ((store), ()) ORDER BY _total, store"), p.params(), 1,
        [Column("Store"), *_DISC_COLUMNS], "By store")
    step("discounts by cashier")
    by_cashier = _grouped(backend, (
        f"SELECT grouping(store, cashier_name) AS _total, store, cashier_name, {_DISC_METRICS} "
        f"{src} GROUP BY GROUPING SETS ((store, cashier_name), ()) "
        "ORDER BY _total, discount_share DESC, store, cashier_name"), p.params(), 2,
        [Column("Store"), Column("Cashier"), *_DISC_COLUMNS], "By cashier")
    step("discounts by card")
    sql = (f"SELECT grouping(discount_card) AS _total, discount_card, "
           "uniqExact(store) AS stores, uniqExact(cashier_name) AS cashiers, "
           f"{_DISC_METRICS} {src} AND discount_card != '' "
           "GROUP BY GROUPING SETS ((discount_card), ()) "
           "ORDER BY _total DESC, discount_sum DESC, discount_card LIMIT {cards:UInt64}")
    by_card = _grouped(backend, sql, {**p.params(), "cards": CARD_LIMIT + 1}, 1, [
        Column("Card"), Column("Stores", Kind.INT, "stores the card was used in"),
        Column("Cashiers", Kind.INT, "cashiers who accepted the card"), *_DISC_COLUMNS],
        "By card")
    n_cards = int(backend.query(
        f"SELECT uniqExact(discount_card) FROM {backend.database}.receipts FINAL "
        f"WHERE {where} AND discount_card != ''", p.params()).scalar() or 0)
    if n_cards > len(by_card.rows):
        by_card.note = (f"the {len(by_card.rows):,} cards with the largest discount of "
                        f"{n_cards:,}; the totals row counts all cards")
        by_card.truncated = True
    step("discounts by kind")
    amount = "if(discount != 0, discount, price)"
    by_kind = _grouped(backend, (
        "SELECT grouping(type) AS _total, type, count() AS n, "
        f"sum({amount}) AS amount, uniqExact(pos_terminal, op_id) AS receipts "
        f"FROM {{db}}.events FINAL WHERE {_where('ts_in_receipt')} AND type IN {_DISCOUNT_TYPES} "
        "GROUP BY GROUPING SETS ((type), ()) ORDER BY _total, type"), p.params(), 1, [
        Column("Discount event"), Column("Events", Kind.INT),
        Column("Amount", Kind.MONEY, "sum of the events' discount (price when it has none)"),
        Column("Receipts", Kind.INT, "distinct (terminal, receipt number)")], "By kind")
    return [by_store, by_cashier, by_card, by_kind]


# --------------------------------------------------------------------------- average receipt
_AVG_METRICS = f"""
    count() AS receipts,
    sum(total) AS sales,
    {_ratio("sum(total)", "count()")} AS average,
    {_ratio("sum(positions)", "count()")} AS avg_positions,
    max(total) AS largest"""

_AVG_COLUMNS = [
    Column("Receipts", Kind.INT, "closed sale receipts"),
    Column("Sales", Kind.MONEY, "sum of receipt totals"),
    Column("Average receipt", Kind.MONEY, "sales / receipts"),
    Column("Avg positions", Kind.NUMBER, "positions / receipts"),
    Column("Largest receipt", Kind.MONEY, "largest receipt total"),
]


def average_receipt(backend: Backend, p: Period, step: Step) -> list[Section]:
    """AVERAGE_RECEIPT_REPORT: count, total, average by store, terminal, hour of day, day."""
    src = f"FROM {{db}}.receipts FINAL WHERE {_where('ts_close')} AND {_SALE}"
    step("receipts by store")
    by_store = _grouped(backend, (
        f"SELECT grouping(store) AS _total, store, {_AVG_METRICS} {src} "
        "GROUP BY GROUPING SETS ((store), ()) ORDER BY _total, store"), p.params(), 1,
        [Column("Store"), *_AVG_COLUMNS], "By store")
    step("receipts by terminal")
    by_term = _grouped(backend, (
        "SELECT grouping(store, pos_terminal) AS _total, store, pos_terminal, "
        f"argMax(pos_terminal_name, ts_close) AS name, {_AVG_METRICS} {src} "
        "GROUP BY GROUPING SETS ((store, pos_terminal), ()) "
        "ORDER BY _total, store, pos_terminal"), p.params(), 3,
        [Column("Store"), Column("Terminal"), Column("Terminal name"), *_AVG_COLUMNS],
        "By terminal")
    step("receipts by hour")
    hour = "toHour(fromUnixTimestamp64Micro(ts_close), {tz:String})"
    by_hour = _grouped(backend, (
        f"SELECT grouping(hour) AS _total, {hour} AS hour, {_AVG_METRICS} {src} "
        "GROUP BY GROUPING SETS ((hour), ()) ORDER BY _total, hour"), p.params(), 1,
        [Column("Hour", Kind.INT, "local hour of the close, 0-23"), *_AVG_COLUMNS],
        "By hour", chart=Chart("Average receipt by hour of day", 0, (3,)))
    step("receipts per day")
    day = _day("ts_close")
    per_day = _grouped(backend, (
        f"SELECT grouping(day) AS _total, {day} AS day, {_AVG_METRICS} {src} "
        "GROUP BY GROUPING SETS ((day), ()) ORDER BY _total, day"), p.params(), 1,
        [Column("Day", Kind.DATE, "local day of the close"), *_AVG_COLUMNS], "Per day",
        chart=Chart("Average receipt per day", 0, (3,), kind="line"))
    return [by_store, by_term, by_hour, per_day]


# --------------------------------------------------------------------------- cashier activity
def _store_rate(num: str, den: str) -> str:
    """The same rate over the cashier's whole store (the totals row: over everything)."""
    w = "OVER (PARTITION BY store, grouping(store))"
    return _ratio(f"sum(sum({num})) {w}", f"sum(sum({den})) {w}")


def cashier_activity(backend: Backend, p: Period, step: Step) -> list[Section]:
    """CASHIER_ACTIVITY_REPORT: receipts, items, voids, refunds, drawer opens per cashier,
    with rates beside the store's average rate."""
    receipts = (
        "SELECT store, cashier_name, "
        f"countIf({_SALE}) AS receipts, sumIf(total, {_SALE}) AS sales, "
        f"sumIf(positions, {_SALE}) AS items, "
        "countIf(status = 'cancelled') AS cancelled, "
        "countIf(status = 'closed' AND kind = 'return') AS refunds, "
        "sumIf(total, status = 'closed' AND kind = 'return') AS refund_amount "
        f"FROM {{db}}.receipts FINAL WHERE {_where('ts_close')} GROUP BY store, cashier_name")
    events = (
        "SELECT store, cashier_name, "
        f"countIf(type IN {_POSITION_TYPES}) AS lines, "
        "countIf(type = 'POS_POSITION_ADD') AS keyed, "
        "countIf(type = 'POS_POSITION_DELETE') AS voids, "
        "countIf(type = 'POS_DRAWER_OPEN') AS drawer, "
        "countIf(type = 'POS_DRAWER_OPEN' AND op_id = '') AS no_sale "
        f"FROM {{db}}.events FINAL WHERE {_where('ts_in_receipt')} "
        f"AND (type IN {_POSITION_TYPES} OR type IN ('POS_POSITION_DELETE', 'POS_DRAWER_OPEN')) "
        "GROUP BY store, cashier_name")
    sql = (
        "SELECT grouping(store, cashier_name) AS _total, store, cashier_name, "
        "sum(receipts), sum(sales), "
        f"{_ratio('sum(sales)', 'sum(receipts)')} AS average, "
        "sum(items), sum(lines), sum(voids), "
        f"{_ratio('sum(voids)', 'sum(lines)')} AS void_rate, "
        f"{_store_rate('voids', 'lines')} AS store_void_rate, "
        "sum(cancelled), "
        f"{_ratio('sum(cancelled)', 'sum(receipts) + sum(cancelled)')} AS cancel_rate, "
        f"{_store_rate('cancelled', 'receipts + cancelled')} AS store_cancel_rate, "
        "sum(refunds), sum(refund_amount), "
        f"{_ratio('sum(refunds)', 'sum(receipts)')} AS refund_rate, "
        f"{_store_rate('refunds', 'receipts')} AS store_refund_rate, "
        "sum(drawer), sum(no_sale), "
        f"{_ratio('sum(keyed)', 'sum(lines)')} AS keyed_share, "
        f"{_store_rate('keyed', 'lines')} AS store_keyed_share "
        f"FROM ({receipts}) AS r FULL OUTER JOIN ({events}) AS e USING (store, cashier_name) "
        "GROUP BY GROUPING SETS ((store, cashier_name), ()) "
        "ORDER BY _total, store, cashier_name")
    step("cashier activity")
    section = _grouped(backend, sql, p.params(), 2, [
        Column("Store"), Column("Cashier"),
        Column("Receipts", Kind.INT, "closed sale receipts"),
        Column("Sales", Kind.MONEY, "sum of their totals"),
        Column("Average receipt", Kind.MONEY, "sales / receipts"),
        Column("Items", Kind.INT, "positions on closed sale receipts"),
        Column("Positions added", Kind.INT, "POS_POSITION_ADD and _BY_SCANNER events"),
        Column("Voids", Kind.INT, "POS_POSITION_DELETE events"),
        Column("Void rate", Kind.PERCENT, "voids / positions added"),
        Column("Store void rate", Kind.PERCENT, "the same over the cashier's store"),
        Column("Cancelled receipts", Kind.INT, "receipts with status cancelled"),
        Column("Cancel rate", Kind.PERCENT, "cancelled / (receipts + cancelled)"),
        Column("Store cancel rate", Kind.PERCENT, "the same over the cashier's store"),
        Column("Refunds", Kind.INT, "closed return receipts"),
        Column("Refund amount", Kind.MONEY, "sum of their totals"),
        Column("Refund rate", Kind.PERCENT, "refunds / receipts"),
        Column("Store refund rate", Kind.PERCENT, "the same over the cashier's store"),
        Column("Drawer opens", Kind.INT, "POS_DRAWER_OPEN events"),
        Column("No-sale drawer opens", Kind.INT, "POS_DRAWER_OPEN outside any receipt"),
        Column("Keyed share", Kind.PERCENT, "POS_POSITION_ADD (keyed) / positions added"),
        Column("Store keyed share", Kind.PERCENT, "the same over the cashier's store"),
    ], "Cashiers")
    return [section]


# --------------------------------------------------------------------------- terminal summary
def terminal_summary(backend: Backend, p: Period, step: Step) -> list[Section]:
    """TERMINAL_SUMMARY_REPORT: one row per terminal (receipts, sales, voids, incidents...)
    and the chain's receipts per day."""
    receipts = (
        "SELECT pos_terminal, argMax(store, ts_close) AS r_store, "
        "argMax(pos_terminal_name, ts_close) AS r_name, "
        f"countIf({_SALE}) AS receipts, sumIf(total, {_SALE}) AS sales, "
        f"sumIf(positions, {_SALE}) AS items, sumIf(discount, {_SALE}) AS discount, "
        "countIf(status = 'cancelled') AS cancelled, "
        "countIf(status = 'closed' AND kind = 'return') AS refunds, "
        "countIf(status = 'incomplete') AS incomplete, sum(frauds) AS frauds "
        f"FROM {{db}}.receipts FINAL WHERE {_where('ts_close')} GROUP BY pos_terminal")
    events = (
        "SELECT pos_terminal, argMax(store, ts_in_receipt) AS e_store, "
        "argMax(pos_terminal_name, ts_in_receipt) AS e_name, count() AS n_events, "
        "countIf(type = 'POS_POSITION_DELETE') AS voids, "
        "countIf(type = 'POS_DRAWER_OPEN') AS drawer, "
        "min(ts_in_receipt) AS first_ts, max(ts_in_receipt) AS last_ts "
        f"FROM {{db}}.events FINAL WHERE {_where('ts_in_receipt')} GROUP BY pos_terminal")
    incidents = (
        "SELECT terminal_guid AS pos_terminal, count() AS incidents, "
        "countIf(status = 1) AS confirmed "
        f"FROM {{db}}.incidents FINAL WHERE {_where('ts_created')} GROUP BY terminal_guid")
    sql = (
        "SELECT grouping(pos_terminal) AS _total, "
        "any(if(e_store != '', e_store, r_store)) AS store, pos_terminal, "
        "any(if(e_name != '', e_name, r_name)) AS name, "
        "sum(receipts), sum(sales), "
        f"{_ratio('sum(sales)', 'sum(receipts)')}, sum(items), "
        "sum(discount), sum(voids), sum(cancelled), "
        "sum(refunds), sum(incomplete), sum(drawer), "
        "sum(frauds), sum(incidents), sum(confirmed), "
        "sum(n_events), "
        "if(countIf(n_events > 0) = 0, NULL, minIf(first_ts, n_events > 0)), "
        "if(countIf(n_events > 0) = 0, NULL, maxIf(last_ts, n_events > 0)) "
        f"FROM ({receipts}) AS r FULL OUTER JOIN ({events}) AS e USING (pos_terminal) "
        f"FULL OUTER JOIN ({incidents}) AS i USING (pos_terminal) "
        "GROUP BY GROUPING SETS ((pos_terminal), ()) ORDER BY _total, store, pos_terminal")
    step("terminals")
    section = _grouped(backend, sql, p.params(), 0, [
        Column("Store"), Column("Terminal"), Column("Terminal name"),
        Column("Receipts", Kind.INT, "closed sale receipts"),
        Column("Sales", Kind.MONEY, "sum of their totals"),
        Column("Average receipt", Kind.MONEY, "sales / receipts"),
        Column("Items", Kind.INT, "positions on closed sale receipts"),
        Column("Discount", Kind.MONEY, "discounts on closed sale receipts"),
        Column("Voids", Kind.INT, "POS_POSITION_DELETE events"),
        Column("Cancelled receipts", Kind.INT, "receipts with status cancelled"),
        Column("Refunds", Kind.INT, "closed return receipts"),
        Column("Incomplete receipts", Kind.INT, "receipts closed by a timeout or torn"),
        Column("Drawer opens", Kind.INT, "POS_DRAWER_OPEN events"),
        Column("Script alarms", Kind.INT, "POS_FRAUD events on receipts"),
        Column("Incidents", Kind.INT, "incidents raised on the terminal"),
        Column("Confirmed incidents", Kind.INT, "of which confirmed"),
        Column("Events", Kind.INT, "events of the terminal in the period"),
        Column("First event", Kind.DATETIME), Column("Last event", Kind.DATETIME),
    ], "Terminals")
    if section.totals is not None:
        section.totals = (Label("Total"), None, None, *section.totals[3:])
    step("receipts per day")
    day = _day("ts_close")
    per_day = _grouped(backend, (
        f"SELECT grouping(day) AS _total, {day} AS day, count() AS receipts, "
        f"sum(total) AS sales, {_ratio('sum(total)', 'count()')} AS average "
        f"FROM {{db}}.receipts FINAL WHERE {_where('ts_close')} AND {_SALE} "
        "GROUP BY GROUPING SETS ((day), ()) ORDER BY _total, day"), p.params(), 1, [
        Column("Day", Kind.DATE, "local day of the close"), Column("Receipts", Kind.INT),
        Column("Sales", Kind.MONEY), Column("Average receipt", Kind.MONEY)], "Per day",
        chart=Chart("Sales per day", 0, (2,)))
    return [section, per_day]


REPORT_QUERIES: dict[str, Callable[[Backend, Period, Step], list[Section]]] = {
    "violations": violations,
    "cancelled-positions": cancelled_positions,
    "discounts": discounts,
    "average-receipt": average_receipt,
    "cashier-activity": cashier_activity,
    "terminal-summary": terminal_summary,
}
