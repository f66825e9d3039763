"""Analyst SQL over HTTP: POST /api/sql runs one read-only statement (role analyst or admin).

The statement runs through `posguard.store.sql_access.run_sql`: readonly=1, a time limit,
a result-row limit and a memory limit, on the node's store (chDB or a ClickHouse server).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from posguard.console.auth import Principal, require_role
from posguard.store.sql_access import (
    SqlFailed,
    SqlLimitExceeded,
    SqlLimits,
    SqlRefused,
    run_sql,
)

router = APIRouter(prefix="/api/sql", tags=["sql"])

MEDIA_TYPES = {
    "table": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
_DEFAULT = SqlLimits()


class SqlRequest(BaseModel):
    """One read-only statement and the output wanted."""

    query: str = Field(min_length=1, max_length=100_000,
                       description="one SELECT/WITH/SHOW/DESCRIBE/EXPLAIN/EXISTS statement; "
                       "qualify tables with the database, e.g. posguard.receipt_summary")
    format: Literal["table", "csv", "tsv", "json", "jsonl", "parquet"] = "json"
    max_rows: int = Field(_DEFAULT.max_result_rows, ge=1, le=_DEFAULT.max_result_rows,
                          description="fail when the result has more rows than this")
    timeout: int = Field(_DEFAULT.max_execution_time, ge=1, le=_DEFAULT.max_execution_time,
                         description="seconds before the query is stopped")


@router.post("", response_class=Response, responses={
    200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "the result"},
    400: {"description": "refused, limit exceeded, or the engine could not run it"},
})
def sql(
    request: Request,
    body: SqlRequest,
    _: Annotated[Principal, Depends(require_role("analyst"))],
) -> Response:
    """Run one read-only statement with time, row and memory limits."""
    limits = SqlLimits(max_execution_time=body.timeout, max_result_rows=body.max_rows,
                       max_memory_usage=_DEFAULT.max_memory_usage)
    try:
        out = run_sql(request.app.state.node.backend, body.query, body.format, limits)
    except (SqlRefused, SqlLimitExceeded, SqlFailed) as e:
        raise HTTPException(400, f"{type(e).__name__}: {e}") from None
    return Response(content=out, media_type=MEDIA_TYPES[body.format],
                    headers={"Cache-Control": "no-store"})
