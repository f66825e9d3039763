"""Every figure of every report, read back from the ODS file, equals the same figure computed
here in plain Python from the raw events, receipts and incidents; on both backends."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

import pytest
from reports_dataset import (
    CANCELS,
    DISCOUNTS,
    POSITIONS,
    STATUS,
    T0,
    T1,
    TZ,
    Dataset,
    check,
    group,
    in_period,
    local,
    local_day,
    make_dataset,
    ratio,
    sheet_rows,
)

from posguard.reports import ReportType, build_report, read_ods
from posguard.store.writer import insert_events, insert_incidents, insert_receipts

pytestmark = pytest.mark.integration

DATA = make_dataset()


def load(backend: Any, ds: Dataset) -> None:
    for i in range(0, len(ds.events), 1000):
        insert_events(backend, ds.events[i:i + 1000])
    insert_receipts(backend, ds.receipts)
    by_version: dict[int, list[Any]] = defaultdict(list)
    for inc, v in ds.incidents:
        by_version[v].append(inc)
    for v, incs in sorted(by_version.items()):
        insert_incidents(backend, incs, version=v)


@pytest.fixture(scope="module")
def reports(chdb_engine: Any, request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """Every report over the dataset, built once per backend (module scope: ~1 s each)."""
    import uuid

    from posguard.store.migrations import migrate

    backend = chdb_engine.sibling(f"t_{uuid.uuid4().hex[:12]}")
    migrate(backend)
    load(backend, DATA)
    out: dict[str, dict[str, Any]] = {"chdb": {}, "clickhouse-connect": {}}
    from posguard.store.backends.http_backend import HttpBackend

    http = HttpBackend(request.getfixturevalue("clickhouse_url"), backend.database)
    try:
        for name, b in (("chdb", backend), ("clickhouse-connect", http)):
            for rt in ReportType:
                built = build_report(b, rt, T0, T1, tz=TZ)
                out[name][rt.value] = read_ods(built.data)
    finally:
        http.close()
        backend.command(f"DROP DATABASE IF EXISTS {backend.database}")
    return out


BACKENDS = ["chdb", "clickhouse-connect"]


def sheets_of(reports: dict[str, dict[str, Any]], backend: str, rt: ReportType) -> Any:
    return reports[backend][rt.value]


# --------------------------------------------------------------------------- violations
def _inc_figures(incs: list[Any]) -> dict[str, Any]:
    reviewed = [i for i in incs if i.status != 0]
    return {
        "Incidents": len(incs),
        "New": sum(i.status == 0 for i in incs),
        "Confirmed": sum(i.status == 1 for i in incs),
        "Rejected": sum(i.status == 2 for i in incs),
        "Reviewed": ratio(len(reviewed), len(incs)),
        "Damage confirmed": sum(i.expert_estimate for i in incs if i.status == 1),
        "Estimates, all": sum(i.expert_estimate for i in incs),
        "Avg review, s": ratio(sum(i.review_duration for i in reviewed), len(reviewed) * 10**6),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_violations(reports: Any, backend: str) -> None:
    sheets = sheets_of(reports, backend, ReportType.VIOLATIONS_REPORT)
    incs = [i for i in DATA.latest_incidents() if in_period(i.ts_created)]
    assert len(incs) > 20 and {i.status for i in incs} == {0, 1, 2}
    check(sheets, "By type", ("Incident type",),
          {(k,): _inc_figures(v) for k, v in group(incs, lambda i: i.type_name).items()},
          {"Incident type": "Total", **_inc_figures(incs)})

    def by_terminal(v: list[Any]) -> dict[str, Any]:
        return {"Terminal name": max(v, key=lambda i: i.ts_created).terminal_name,
                **_inc_figures(v)}

    check(sheets, "By terminal", ("Store", "Terminal"),
          {k: by_terminal(v) for k, v in group(incs, lambda i: (i.store, i.terminal_guid)).items()},
          {"Terminal name": None, **_inc_figures(incs)})
    check(sheets, "By cashier", ("Store", "Cashier"),
          {k: _inc_figures(v) for k, v in group(incs, lambda i: (i.store, i.cashier_name)).items()},
          _inc_figures(incs))
    check(sheets, "By status", ("Status",),
          {(STATUS[s],): {"Incidents": len(v), "Share": ratio(len(v), len(incs)),
                          "Estimates": sum(i.expert_estimate for i in v)}
           for s, v in group(incs, lambda i: i.status).items()},
          {"Incidents": len(incs), "Share": Fraction(1),
           "Estimates": sum(i.expert_estimate for i in incs)})
    day_figures = {
        (d,): {"Incidents": len(v), "Confirmed": sum(i.status == 1 for i in v),
               "Damage confirmed": sum(i.expert_estimate for i in v if i.status == 1)}
        for d, v in group(incs, lambda i: local_day(i.ts_created)).items()}
    assert len(day_figures) >= 2
    check(sheets, "Per day", ("Day",), day_figures,
          {"Incidents": len(incs), "Confirmed": sum(i.status == 1 for i in incs),
           "Damage confirmed": sum(i.expert_estimate for i in incs if i.status == 1)})
    listing = {
        (local(i.ts_created), i.terminal_guid): {
            "Incident type": i.type_name, "Store": i.store, "Terminal name": i.terminal_name,
            "Cashier": i.cashier_name, "Receipt": i.op_id or None, "Status": STATUS[i.status],
            "Expert": i.expert or None, "Estimate": i.expert_estimate,
            "Reviewed at": local(i.review_ts) if i.review_ts else None,
            "Comment": i.comment or None}
        for i in incs}
    check(sheets, "Incidents", ("Created", "Terminal"), listing)
    chart, _ = sheet_rows(sheets, "Chart Per day")
    assert [(r["Day"], r["Incidents"]) for r in chart] == sorted(
        (d, f["Incidents"]) for (d,), f in day_figures.items())


# --------------------------------------------------------------------------- cancelled
def _cancel_figures(evs: list[Any]) -> dict[str, Any]:
    dels = [e for e in evs if e.type == "POS_POSITION_DELETE"]
    cans = [e for e in evs if e.type in CANCELS]
    lines = sum(e.type in POSITIONS for e in evs)
    return {
        "Deleted positions": len(dels), "Deleted amount": sum(e.price for e in dels),
        "Positions added": lines, "Delete rate": ratio(len(dels), lines),
        "Cancelled receipts": len(cans), "Cancelled amount": sum(e.price for e in cans),
        "Deleted + cancelled": sum(e.price for e in dels + cans),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_positions(reports: Any, backend: str) -> None:
    sheets = sheets_of(reports, backend, ReportType.CANCELLED_POSITIONS_REPORT)
    evs = [e for e in DATA.events if in_period(e.ts_in_receipt)
           and (e.type in POSITIONS or e.type in CANCELS or e.type == "POS_POSITION_DELETE")]
    check(sheets, "By cashier", ("Store", "Cashier"),
          {k: _cancel_figures(v) for k, v in group(evs, lambda e: (e.store, e.cashier_name)).items()},
          {"Cashier": None, **_cancel_figures(evs)})
    check(sheets, "By terminal", ("Store", "Terminal"),
          {k: {"Terminal name": max(v, key=lambda e: e.ts_in_receipt).pos_terminal_name,
               **_cancel_figures(v)}
           for k, v in group(evs, lambda e: (e.store, e.pos_terminal)).items()},
          {"Terminal name": None, **_cancel_figures(evs)})
    names = {(e.pos_terminal, e.op_id, e.position): e.text for e in DATA.events
             if e.type in POSITIONS}
    dels = [e for e in evs if e.type == "POS_POSITION_DELETE"]
    assert len(dels) > 10
    check(sheets, "Deleted positions", ("Time", "Terminal"), {
        (local(e.ts_in_receipt), e.pos_terminal): {
            "Store": e.store, "Terminal name": e.pos_terminal_name, "Cashier": e.cashier_name,
            "Receipt": e.op_id, "Position": e.position,
            "Item": e.text or names[(e.pos_terminal, e.op_id, e.position)], "Amount": e.price}
        for e in dels})
    cans = [e for e in evs if e.type in CANCELS]
    assert {e.type for e in cans} == set(CANCELS)
    check(sheets, "Cancelled receipts", ("Time", "Terminal"), {
        (local(e.ts_in_receipt), e.pos_terminal): {
            "Store": e.store, "Terminal name": e.pos_terminal_name, "Cashier": e.cashier_name,
            "Receipt": e.op_id, "Event": e.type, "Amount": e.price}
        for e in cans})


# --------------------------------------------------------------------------- discounts
def _sales() -> list[Any]:
    return [r for r in DATA.receipts if in_period(r.ts_close) and r.status == "closed"
            and r.kind == "sale"]


def _disc_figures(rs: list[Any]) -> dict[str, Any]:
    disc = [r for r in rs if r.discount > 0]
    d = sum(r.discount for r in rs)
    sales = sum(r.total for r in rs)
    return {
        "Receipts": len(rs), "With discount": len(disc),
        "With discount, share": ratio(len(disc), len(rs)), "Discount": d, "Sales": sales,
        "Discount share": ratio(d, sales + d), "Avg discount": ratio(d, len(disc)),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_discounts(reports: Any, backend: str) -> None:
    sheets = sheets_of(reports, backend, ReportType.DISCOUNTS_REPORT)
    rs = _sales()
    check(sheets, "By store", ("Store",),
          {k: _disc_figures(v) for k, v in group(rs, lambda r: (r.store,)).items()},
          _disc_figures(rs))
    check(sheets, "By cashier", ("Store", "Cashier"),
          {k: _disc_figures(v) for k, v in group(rs, lambda r: (r.store, r.cashier_name)).items()},
          _disc_figures(rs))
    carded = [r for r in rs if r.discount_card]
    assert "CARD-X" in {r.discount_card for r in carded}
    check(sheets, "By card", ("Card",), {
        (k,): {"Stores": len({r.store for r in v}), "Cashiers": len({r.cashier_name for r in v}),
               **_disc_figures(v)}
        for k, v in group(carded, lambda r: r.discount_card).items()},
        {"Stores": len({r.store for r in carded}),
         "Cashiers": len({r.cashier_name for r in carded}), **_disc_figures(carded)})
    evs = [e for e in DATA.events if in_period(e.ts_in_receipt) and e.type in DISCOUNTS]

    def kind(v: list[Any]) -> dict[str, Any]:
        return {"Events": len(v), "Amount": sum(e.discount or e.price for e in v),
                "Receipts": len({(e.pos_terminal, e.op_id) for e in v})}

    check(sheets, "By kind", ("Discount event",),
          {(k,): kind(v) for k, v in group(evs, lambda e: e.type).items()}, kind(evs))


# --------------------------------------------------------------------------- average receipt
def _avg_figures(rs: list[Any]) -> dict[str, Any]:
    return {"Receipts": len(rs), "Sales": sum(r.total for r in rs),
            "Average receipt": ratio(sum(r.total for r in rs), len(rs)),
            "Avg positions": ratio(sum(r.positions for r in rs), len(rs)),
            "Largest receipt": max((r.total for r in rs), default=0)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_average_receipt(reports: Any, backend: str) -> None:
    sheets = sheets_of(reports, backend, ReportType.AVERAGE_RECEIPT_REPORT)
    rs = _sales()
    check(sheets, "By store", ("Store",),
          {k: _avg_figures(v) for k, v in group(rs, lambda r: (r.store,)).items()},
          _avg_figures(rs))
    check(sheets, "By terminal", ("Store", "Terminal"), {
        k: {"Terminal name": max(v, key=lambda r: r.ts_close).pos_terminal_name,
            **_avg_figures(v)}
        for k, v in group(rs, lambda r: (r.store, r.pos_terminal)).items()},
        {"Terminal name": None, **_avg_figures(rs)})
    hours = group(rs, lambda r: (local(r.ts_close).hour,))
    assert len(hours) == 24
    check(sheets, "By hour", ("Hour",), {k: _avg_figures(v) for k, v in hours.items()},
          _avg_figures(rs))
    check(sheets, "Per day", ("Day",),
          {k: _avg_figures(v) for k, v in group(rs, lambda r: (local_day(r.ts_close),)).items()},
          _avg_figures(rs))


# --------------------------------------------------------------------------- cashier activity
@pytest.mark.parametrize("backend", BACKENDS)
def test_cashier_activity(reports: Any, backend: str) -> None:
    sheets = sheets_of(reports, backend, ReportType.CASHIER_ACTIVITY_REPORT)
    rs = [r for r in DATA.receipts if in_period(r.ts_close)]
    evs = [e for e in DATA.events if in_period(e.ts_in_receipt)]
    keys = {(r.store, r.cashier_name) for r in rs} | {
        (e.store, e.cashier_name) for e in evs
        if e.type in POSITIONS or e.type in ("POS_POSITION_DELETE", "POS_DRAWER_OPEN")}

    def base(store: str | None, cashier: str | None) -> dict[str, int]:
        mine_r = [r for r in rs if store in (None, r.store) and cashier in (None, r.cashier_name)]
        mine_e = [e for e in evs if store in (None, e.store) and cashier in (None, e.cashier_name)]
        sales = [r for r in mine_r if r.status == "closed" and r.kind == "sale"]
        refunds = [r for r in mine_r if r.status == "closed" and r.kind == "return"]
        return {
            "receipts": len(sales), "sales": sum(r.total for r in sales),
            "items": sum(r.positions for r in sales),
            "cancelled": sum(r.status == "cancelled" for r in mine_r),
            "refunds": len(refunds), "refund_amount": sum(r.total for r in refunds),
            "lines": sum(e.type in POSITIONS for e in mine_e),
            "keyed": sum(e.type == "POS_POSITION_ADD" for e in mine_e),
            "voids": sum(e.type == "POS_POSITION_DELETE" for e in mine_e),
            "drawer": sum(e.type == "POS_DRAWER_OPEN" for e in mine_e),
            "no_sale": sum(e.type == "POS_DRAWER_OPEN" and not e.op_id for e in mine_e),
        }

    def figures(b: dict[str, int], s: dict[str, int]) -> dict[str, Any]:
        return {
            "Receipts": b["receipts"], "Sales": b["sales"],
            "Average receipt": ratio(b["sales"], b["receipts"]), "Items": b["items"],
            "Positions added": b["lines"], "Voids": b["voids"],
            "Void rate": ratio(b["voids"], b["lines"]),
            "Store void rate": ratio(s["voids"], s["lines"]),
            "Cancelled receipts": b["cancelled"],
            "Cancel rate": ratio(b["cancelled"], b["receipts"] + b["cancelled"]),
            "Store cancel rate": ratio(s["cancelled"], s["receipts"] + s["cancelled"]),
            "Refunds": b["refunds"], "Refund amount": b["refund_amount"],
            "Refund rate": ratio(b["refunds"], b["receipts"]),
            "Store refund rate": ratio(s["refunds"], s["receipts"]),
            "Drawer opens": b["drawer"], "No-sale drawer opens": b["no_sale"],
            "Keyed share": ratio(b["keyed"], b["lines"]),
            "Store keyed share": ratio(s["keyed"], s["lines"]),
        }

    stores = {s: base(s, None) for s, _ in keys}
    expected = {k: figures(base(*k), stores[k[0]]) for k in keys}
    assert ("store-3", "O'Brien") in expected and expected[("store-3", "O'Brien")]["Refunds"] == 1
    everything = base(None, None)
    check(sheets, "Cashiers", ("Store", "Cashier"), expected, figures(everything, everything))


# --------------------------------------------------------------------------- terminal summary
@pytest.mark.parametrize("backend", BACKENDS)
def test_terminal_summary(reports: Any, backend: str) -> None:
    sheets = sheets_of(reports, backend, ReportType.TERMINAL_SUMMARY_REPORT)
    rs = [r for r in DATA.receipts if in_period(r.ts_close)]
    evs = [e for e in DATA.events if in_period(e.ts_in_receipt)]
    incs = [i for i in DATA.latest_incidents() if in_period(i.ts_created)]
    terms = {r.pos_terminal for r in rs} | {e.pos_terminal for e in evs} | {
        i.terminal_guid for i in incs}

    def figures(term: str | None) -> dict[str, Any]:
        mr = [r for r in rs if term in (None, r.pos_terminal)]
        me = [e for e in evs if term in (None, e.pos_terminal)]
        mi = [i for i in incs if term in (None, i.terminal_guid)]
        sales = [r for r in mr if r.status == "closed" and r.kind == "sale"]
        return {
            "Receipts": len(sales), "Sales": sum(r.total for r in sales),
            "Average receipt": ratio(sum(r.total for r in sales), len(sales)),
            "Items": sum(r.positions for r in sales),
            "Discount": sum(r.discount for r in sales),
            "Voids": sum(e.type == "POS_POSITION_DELETE" for e in me),
            "Cancelled receipts": sum(r.status == "cancelled" for r in mr),
            "Refunds": sum(r.status == "closed" and r.kind == "return" for r in mr),
            "Incomplete receipts": sum(r.status == "incomplete" for r in mr),
            "Drawer opens": sum(e.type == "POS_DRAWER_OPEN" for e in me),
            "Script alarms": sum(r.frauds for r in mr),
            "Incidents": len(mi), "Confirmed incidents": sum(i.status == 1 for i in mi),
            "Events": len(me),
            "First event": local(min(e.ts_in_receipt for e in me)) if me else None,
            "Last event": local(max(e.ts_in_receipt for e in me)) if me else None,
        }

    def ident(term: str) -> dict[str, Any]:
        me = [e for e in evs if e.pos_terminal == term]
        mr = [r for r in rs if r.pos_terminal == term]
        last_e = max(me, key=lambda e: e.ts_in_receipt) if me else None
        last_r = max(mr, key=lambda r: r.ts_close) if mr else None
        store = last_e.store if last_e else (last_r.store if last_r else "")
        name = last_e.pos_terminal_name if last_e else (last_r.pos_terminal_name if last_r else "")
        return {"Store": store or None, "Terminal name": name or None}

    check(sheets, "Terminals", ("Terminal",),
          {(t,): {**ident(t), **figures(t)} for t in terms},
          {"Store": "Total", "Terminal": None, "Terminal name": None, **figures(None)})
    sales = _sales()
    check(sheets, "Per day", ("Day",), {
        (d,): {"Receipts": len(v), "Sales": sum(r.total for r in v),
               "Average receipt": ratio(sum(r.total for r in v), len(v))}
        for d, v in group(sales, lambda r: local_day(r.ts_close)).items()},
        {"Receipts": len(sales), "Sales": sum(r.total for r in sales),
         "Average receipt": ratio(sum(r.total for r in sales), len(sales))})


@pytest.mark.parametrize("backend", BACKENDS)
def test_title_block(reports: Any, backend: str) -> None:
    for rt in ReportType:
        block = {r[0]: r[1] for r in reports[backend][rt.value]["Report"][2:8]}
        assert block["Report type"] == rt.name
        assert block["Period from"] == local(T0) and block["Period to (exclusive)"] == local(T1)
        assert block["Timezone"] == TZ and block["Store"] == "all stores"


def test_backends_agree(reports: Any) -> None:
    assert reports["chdb"] == _without_generated(reports["clickhouse-connect"], reports["chdb"])


def _without_generated(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """`a` with the generated-at cells and subtitles taken from `b` (they differ by seconds)."""
    out: dict[str, Any] = {}
    for rt, sheets in a.items():
        out[rt] = {}
        for name, rows in sheets.items():
            rows = [list(r) for r in rows]
            if name == "Report":
                rows[7] = b[rt][name][7]
            else:
                rows[1] = b[rt][name][1]
            out[rt][name] = rows
    return out
