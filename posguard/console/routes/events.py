"""Event search over HTTP: the search_pos_events filter as query parameters."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request

from posguard.console.auth import Principal, require_role
from posguard.model.filters import EventFilter, SearchFlags, StringFilter
from posguard.model.times import to_micros
from posguard.store.search import DEFAULT_LIMIT, count_distinct_events, search_events

router = APIRouter(prefix="/api/events", tags=["events"])

TEXT_MODES = {"contains": SearchFlags.CONTAINS, "starts": SearchFlags.STARTS_WITH,
              "ends": SearchFlags.ENDS_WITH, "exact": SearchFlags.EXACT}


@router.get("/search")
def search(
    request: Request,
    _: Annotated[Principal, Depends(require_role("viewer"))],
    from_: Annotated[str | None, Query(alias="from", description="seconds or microseconds")] = None,
    to: Annotated[str | None, Query(description="seconds or microseconds")] = None,
    cashier: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    event: Annotated[list[str], Query()] = [],  # noqa: B006
    receipt: Annotated[list[str], Query()] = [],  # noqa: B006
    terminal: Annotated[list[str], Query()] = [],  # noqa: B006
    text: Annotated[list[str], Query()] = [],  # noqa: B006
    text_mode: Annotated[str, Query(pattern="^(contains|starts|ends|exact)$")] = "contains",
    case_sensitive: bool = False,
    limit: Annotated[int, Query(ge=0, le=100_000)] = DEFAULT_LIMIT,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Events received in [from, to] matching every given key (Table 12)."""
    now = int(time.time() * 1_000_000)
    t1 = to_micros(to) if to else now
    t0 = to_micros(from_) if from_ else t1 - 3_600_000_000
    flags = TEXT_MODES[text_mode] | (SearchFlags.CASE_SENSITIVE if case_sensitive else 0)
    from posguard.model.event_types import normalize_event_type

    f = EventFilter(cashiers=tuple(cashier), events=tuple(normalize_event_type(e) for e in event),
                    receipt_number=tuple(receipt), terminals=tuple(terminal),
                    text=tuple(StringFilter(t, flags) for t in text))
    events = search_events(request.app.state.node.backend, t0, t1, f, limit, newest_first)
    return [msgspec.structs.asdict(e) for e in events]


@router.get("/count")
def count(
    request: Request,
    _: Annotated[Principal, Depends(require_role("viewer"))],
    from_: Annotated[str, Query(alias="from")] = "0",
    to: Annotated[str | None, Query()] = None,
) -> dict[str, int]:
    """How many events were received in [from, to], and how many distinct event ids."""
    t1 = to_micros(to) if to else int(time.time() * 1_000_000)
    t0 = to_micros(from_) if from_ != "0" else 0
    rows, distinct = count_distinct_events(request.app.state.node.backend, t0, t1)
    return {"count": rows, "distinct": distinct}
