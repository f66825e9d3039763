"""Script notifications (message / alert / error) for the console's toasts.

`notify(state, level, text, source)` appends to an in-memory ring buffer kept in
NodeState.extras; pages read it as a server-sent-event stream. The script host calls `notify`
in-process (embedded node) or POSTs to /api/notifications with the node token (cluster mode).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from posguard.console.auth import Principal, require_role
from posguard.console.state import NodeState

__all__ = ["router", "notify", "Notification", "NotificationHub", "hub_of", "LEVELS",
           "sse_message"]

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

LEVELS = ("message", "alert", "error")
Level = Literal["message", "alert", "error"]
HUB_KEY = "notifications"
MAX_TEXT = 4000


class Notification(BaseModel):
    id: int
    ts: int = Field(description="microseconds")
    level: Level
    text: str
    source: str = Field("", description="the script (or part) that raised it")


class NotificationHub:
    """A ring buffer of the latest notifications with increasing ids (thread-safe)."""

    def __init__(self, size: int = 500):
        self._items: deque[Notification] = deque(maxlen=size)
        self._next = 1
        self._lock = threading.Lock()

    def add(self, level: str, text: str, source: str = "", ts: int | None = None) -> Notification:
        if level not in LEVELS:
            raise ValueError(f"notification level {level!r}: one of {', '.join(LEVELS)}")
        with self._lock:
            n = Notification(id=self._next, ts=ts if ts is not None else int(time.time() * 1e6),
                             level=cast(Level, level), text=text[:MAX_TEXT], source=source[:200])
            self._next += 1
            self._items.append(n)
            return n

    def after(self, last_id: int) -> list[Notification]:
        """Notifications with an id above `last_id`, oldest first."""
        with self._lock:
            return [n for n in self._items if n.id > last_id]

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._next - 1


def hub_of(state: NodeState) -> NotificationHub:
    """The node's notification buffer (created on first use)."""
    hub = state.extras.get(HUB_KEY)
    if not isinstance(hub, NotificationHub):
        hub = state.extras.setdefault(HUB_KEY, NotificationHub())
    return cast(NotificationHub, hub)


def notify(state: NodeState, level: str, text: str, source: str = "") -> Notification:
    """Show `text` to every console user as a toast.

    Args:
        state: the node's shared handles.
        level: "message", "alert" or "error" (the script host functions of the same names).
        text: what to show (cut at 4000 characters).
        source: who raised it (script name), shown beside the text.
    """
    clock = state.extras.get("clock")
    ts = int(clock() * 1_000_000) if callable(clock) else None
    return hub_of(state).add(level, text, source, ts)


def sse_message(event: str, data: object, event_id: int | str | None = None) -> str:
    """One server-sent event (data as one JSON line)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("")
def list_notifications(request: Request, _: Annotated[Principal, Depends(require_role("viewer"))],
                       after: Annotated[int, Query(ge=0)] = 0) -> list[Notification]:
    """Notifications still in the buffer with an id above `after`."""
    return hub_of(request.app.state.node).after(after)


class NewNotification(BaseModel):
    level: Level = "message"
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    source: Annotated[str, Field(max_length=200)] = ""


@router.post("", status_code=status.HTTP_201_CREATED)
def post_notification(body: NewNotification, request: Request,
                      _: Annotated[Principal, Depends(require_role("admin"))]) -> Notification:
    """Raise a notification (the script host of a cluster posts here with the node token)."""
    return notify(request.app.state.node, body.level, body.text, body.source)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(
    request: Request, _: Annotated[Principal, Depends(require_role("viewer"))],
    after: Annotated[int | None, Query(ge=0, description="default: only new ones")] = None,
    max_seconds: Annotated[float, Query(gt=0, le=3600)] = 600,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events `notification`, one per new notification; ends after
    `max_seconds` (EventSource reconnects, resuming after Last-Event-ID)."""
    hub = hub_of(request.app.state.node)
    start = after
    if start is None and last_event_id and last_event_id.isdigit():
        start = int(last_event_id)
    cursor = hub.last_id if start is None else start

    async def events() -> AsyncIterator[str]:
        nonlocal cursor
        deadline = time.monotonic() + max_seconds
        yield "retry: 2000\n\n"
        last_beat = time.monotonic()
        while time.monotonic() < deadline:
            for n in hub.after(cursor):
                cursor = n.id
                yield sse_message("notification", n.model_dump(), n.id)
            if time.monotonic() - last_beat > 15:
                last_beat = time.monotonic()
                yield ": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
