"""`posguard sql "SELECT ..."`: one read-only statement over the node's API, or directly
against a ClickHouse server with --clickhouse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from posguard.console.settings import Settings

FORMATS = ("table", "csv", "tsv", "json", "jsonl", "parquet")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser(
        "sql", help="run a read-only SQL query (analyst role)",
        description="Run one read-only ClickHouse statement (SELECT, WITH, SHOW, DESCRIBE, "
        "EXPLAIN, EXISTS) with a time limit and a row limit. Qualify tables with the "
        "database, e.g. posguard.receipt_summary; docs/schema.md describes them.")
    p.add_argument("query", help="the statement; '-' reads it from standard input")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format")
    p.add_argument("-o", "--output", help="write the result to this file (needed for parquet "
                   "on a terminal)")
    p.add_argument("--max-rows", type=int, default=None, help="fail above this many rows")
    p.add_argument("--timeout", type=int, default=None, help="seconds before the query stops")
    add_setting_flags(p, "data", "api", "http", "clickhouse", "database", "config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.store.sql_access import SqlLimits

    query = sys.stdin.read() if args.query == "-" else args.query
    base = SqlLimits()
    limits = SqlLimits(max_execution_time=args.timeout or base.max_execution_time,
                       max_result_rows=args.max_rows or base.max_result_rows)
    if settings.clickhouse:
        from posguard.store.sql_access import run_sql

        backend = settings.open_store(migrate=False)
        try:
            out = run_sql(backend, query, args.format, limits)
        finally:
            backend.close()
    else:
        from posguard.console.client import ApiClient

        client = ApiClient(settings)
        out = client.post_bytes("/api/sql", json={
            "query": query, "format": args.format, "max_rows": limits.max_result_rows,
            "timeout": limits.max_execution_time})
    if args.output:
        Path(args.output).write_bytes(out)
    elif args.format == "parquet" and sys.stdout.isatty():
        from posguard.console.errors import ApiError

        raise ApiError("parquet is binary: write it to a file with -o FILE")
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    return 0
