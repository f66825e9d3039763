"""The live view's data: terminals of each store and a stream of their events and incidents.

Source: ClickHouse, polled by ts_received every 0.5 s (the embedded node's sink writes within
about a second). Rows can land late (the sink batches), so each poll looks back `LOOKBACK`
microseconds before the newest row seen and drops rows it already sent, by key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from posguard.console.auth import Principal, require_role
from posguard.console.routes.incidents import incident_dict
from posguard.console.routes.notifications import sse_message
from posguard.model.events import PosEvent
from posguard.store.incidents import incidents_since
from posguard.store.receipts import events_since, live_terminals

__all__ = ["router", "LiveCursor", "event_key", "POLL_SECONDS", "LOOKBACK"]

router = APIRouter(prefix="/api/live", tags=["live"])
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
POLL_SECONDS = 0.5
LOOKBACK = 10_000_000
_PAGE = 5000


def event_key(ev: PosEvent) -> str:
    """A key unique per event (event_id, or its terminal, time, type and position)."""
    return ev.event_id or f"{ev.pos_terminal}|{ev.ts_in_receipt}|{ev.type}|{ev.position}"


class LiveCursor:
    """Which rows a stream has sent: rows at or after `since - lookback` not sent yet are new.

    Args:
        since: microseconds; rows before it are never sent.
        lookback: how late (microseconds) a row may land behind the newest one seen.
    """

    def __init__(self, since: int, lookback: int = LOOKBACK):
        self.floor = since
        self.newest = since
        self.lookback = lookback
        self.seen: dict[str, int] = {}

    def query_from(self) -> int:
        """The ts to read from in the next poll."""
        return max(self.floor, self.newest - self.lookback)

    def admit(self, key: str, ts: int) -> bool:
        """True (and remembered) when the row `key` at `ts` was not sent before."""
        if ts < self.floor or key in self.seen:
            return False
        self.seen[key] = ts
        self.newest = max(self.newest, ts)
        return True

    def prune(self) -> None:
        """Forget keys too old to be read again."""
        edge = self.query_from()
        self.seen = {k: t for k, t in self.seen.items() if t >= edge}


@router.get("/terminals")
def terminals(request: Request, _: Viewer,
              minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 24 * 60
              ) -> list[dict[str, Any]]:
    """Stores and terminals that sent events in the last `minutes`, with their last time."""
    clock = request.app.state.node.extras.get("clock", time.time)
    since = int(clock() * 1e6) - minutes * 60_000_000
    return live_terminals(request.app.state.node.backend, since)


def _poll(backend: Any, events: LiveCursor, incidents: LiveCursor,
          stores: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    frm = events.query_from()
    while True:
        page = events_since(backend, frm, stores, _PAGE)
        for ev in page:
            if events.admit(event_key(ev), ev.ts_received):
                out.append(sse_message("event", msgspec.structs.asdict(ev)))
        if len(page) < _PAGE or page[-1].ts_received == frm:
            break
        frm = page[-1].ts_received
    for inc, version in incidents_since(backend, incidents.query_from(), stores):
        if incidents.admit(f"{inc.id}:{version}", inc.ts_created):
            out.append(sse_message("incident", incident_dict(inc, version)))
    events.prune()
    incidents.prune()
    return out


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(
    request: Request, _: Viewer,
    store: Annotated[list[str], Query(description="stores to watch (none = all)")]
    = [],  # noqa: B006 (FastAPI copies defaults)
    since_seconds: Annotated[float, Query(ge=0, le=3600, description="replay this far back")]
    = 120,
    max_seconds: Annotated[float, Query(gt=0, le=3600)] = 600,
) -> StreamingResponse:
    """Server-sent events: `event` (a receipt event) and `incident` (a new incident or a new
    version of one) for the given stores; ends after `max_seconds` (EventSource reconnects)."""
    backend = request.app.state.node.backend
    clock = request.app.state.node.extras.get("clock", time.time)
    since = int((clock() - since_seconds) * 1_000_000)
    ev_cursor, inc_cursor = LiveCursor(since), LiveCursor(since)
    stores = tuple(store)

    async def gen() -> AsyncIterator[str]:
        deadline = time.monotonic() + max_seconds
        yield "retry: 2000\n\n"
        last_beat = time.monotonic()
        while time.monotonic() < deadline:
            chunk = await run_in_threadpool(_poll, backend, ev_cursor, inc_cursor, stores)
            if chunk:
                yield "".join(chunk)
            elif time.monotonic() - last_beat > 15:
                yield ": keep-alive\n\n"
            if chunk:
                last_beat = time.monotonic()
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
