"""Receipt search with the operator filter dialog, paged, and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from posguard.console.auth import Principal, require_role
from posguard.model.event_types import PAYMENT_TYPES, normalize_event_type
from posguard.model.times import micros_to_datetime, to_micros
from posguard.store.incidents import receipt_events
from posguard.store.receipts import RECEIPT_FIELDS, ReceiptQuery, count_receipts, search_receipts

router = APIRouter(prefix="/api/receipts", tags=["receipts"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
MONEY = Annotated[int | None, Query(ge=-(10**15), le=10**15, description="kopecks")]
COUNT = Annotated[int | None, Query(ge=0, le=10**9)]
SECONDS = Annotated[float | None, Query(ge=0, le=10**9, description="seconds")]
MAX_EXPORT = 100_000
_EXPORT_PAGE = 5_000


def payment_type(name: str) -> str:
    """An event type of payment from its full or short name ("card" -> POS_PAYMENT_CARD)."""
    full = normalize_event_type(name)
    if full in PAYMENT_TYPES:
        return full
    short = normalize_event_type("PAYMENT_" + name)
    return short if short in PAYMENT_TYPES else full


def receipt_query(
    from_: Annotated[str | None, Query(alias="from", description="close time, s or µs")] = None,
    to: Annotated[str | None, Query(description="close time, seconds or microseconds")] = None,
    terminals: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    cashiers: Annotated[list[str], Query()] = [],  # noqa: B006
    stores: Annotated[list[str], Query()] = [],  # noqa: B006
    receipt_number: Annotated[str, Query(max_length=200, description="part of it")] = "",
    discount_card: Annotated[str, Query(max_length=200, description="part of it")] = "",
    payment_types: Annotated[list[str], Query(description="any of, e.g. POS_PAYMENT_CARD")]
    = [],  # noqa: B006
    total_min: MONEY = None, total_max: MONEY = None,
    discount_min: MONEY = None, discount_max: MONEY = None,
    change_min: MONEY = None, change_max: MONEY = None,
    positions_min: COUNT = None, positions_max: COUNT = None,
    duration_min: SECONDS = None, duration_max: SECONDS = None,
    contains_events: Annotated[list[str], Query(description="event types")] = [],  # noqa: B006
    contains_mode: Annotated[Literal["all", "any"], Query()] = "all",
    not_contains_events: Annotated[list[str], Query(description="event types")]
    = [],  # noqa: B006
) -> ReceiptQuery:
    """The filter dialog's fields as a ReceiptQuery (each range side optional)."""
    def us(s: float | None) -> int | None:
        return None if s is None else int(round(s * 1_000_000))

    return ReceiptQuery(
        t0=to_micros(from_) if from_ else None, t1=to_micros(to) if to else None,
        terminals=tuple(terminals), cashiers=tuple(cashiers), stores=tuple(stores),
        receipt_number=receipt_number, discount_card=discount_card,
        payment_types=tuple(payment_type(p) for p in payment_types if p),
        total=(total_min, total_max), discount=(discount_min, discount_max),
        change=(change_min, change_max), positions=(positions_min, positions_max),
        duration=(us(duration_min), us(duration_max)),
        contains_events=tuple(normalize_event_type(e) for e in contains_events if e),
        contains_any=contains_mode == "any",
        not_contains_events=tuple(normalize_event_type(e) for e in not_contains_events if e),
    )


Filter = Annotated[ReceiptQuery, Depends(receipt_query)]


@router.get("")
def search(request: Request, _: Viewer, q: Filter,
           page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
           page_size: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
    """One page of the receipts matching the filter, newest first, and how many match."""
    backend = request.app.state.node.backend
    rows = search_receipts(backend, q, limit=page_size, offset=(page - 1) * page_size)
    return {"total": count_receipts(backend, q), "page": page, "page_size": page_size,
            "receipts": rows}


def _iso(ts: int) -> str:
    return micros_to_datetime(ts).isoformat() if ts else ""


def _cell(v: Any) -> Any:
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection).
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


_CSV_HEADER = ["receipt_id", "store", "pos_terminal", "pos_terminal_name", "op_id",
               "cashier_name", "opened", "closed", "duration_s", "status", "kind", "total",
               "discount", "change", "positions", "deletes", "frauds", "events",
               "discount_card", "payment_types"]


def _csv_rows(backend: Any, q: ReceiptQuery) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(_CSV_HEADER)
    sent = 0
    while sent < MAX_EXPORT:
        rows = search_receipts(backend, q, limit=min(_EXPORT_PAGE, MAX_EXPORT - sent),
                               offset=sent)
        for r in rows:
            w.writerow([_cell(x) for x in (
                r["receipt_id"], r["store"], r["pos_terminal"], r["pos_terminal_name"],
                r["op_id"], r["cashier_name"], _iso(r["ts_open"]), _iso(r["ts_close"]),
                f"{r['duration'] / 1e6:.3f}", r["status"], r["kind"],
                f"{r['total'] / 100:.2f}", f"{r['discount'] / 100:.2f}",
                f"{r['change'] / 100:.2f}", r["positions"], r["deletes"], r["frauds"],
                r["events"], r["discount_card"], " ".join(r["payment_types"]))])
        sent += len(rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(rows) < _EXPORT_PAGE:
            return


@router.get("/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
def export_csv(request: Request, _: Viewer, q: Filter) -> StreamingResponse:
    """Every receipt matching the filter (at most 100,000) as CSV, money in roubles."""
    return StreamingResponse(_csv_rows(request.app.state.node.backend, q),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition":
                                      'attachment; filename="receipts.csv"'})


@router.get("/events")
def events_of_receipt(
    request: Request, _: Viewer,
    terminal: Annotated[str, Query(min_length=1, max_length=128)],
    op_id: Annotated[str, Query(min_length=1, max_length=200)],
    ts: Annotated[str, Query(description="a time near the receipt, s or µs")],
) -> list[dict[str, Any]]:
    """The events of one receipt (terminal + receipt number, within 12 h of `ts`)."""
    evs = receipt_events(request.app.state.node.backend, terminal, op_id, to_micros(ts))
    return [msgspec.structs.asdict(e) for e in evs]


__all__ = ["router", "receipt_query", "RECEIPT_FIELDS"]
