"""Read-only SQL for analysts: one statement, engine-enforced readonly, time/row/memory limits.

Two layers, so that neither alone has to be perfect:

1. A small lexer (`check_sql`) that understands ClickHouse quoting and comments refuses what
   the engine would let through or what would confuse the second layer: more than one
   statement, statements other than SELECT / WITH / SHOW / DESCRIBE / EXPLAIN / EXISTS,
   `INTO OUTFILE` (chDB writes such a file even in readonly mode), a `FORMAT` clause (the
   caller picks the format) and `SETTINGS` clauses (posguard sets the settings).
2. The engine runs the statement with `readonly=1`, which forbids writes, DDL, SYSTEM, table
   functions that reach outside (file, url, Python, executable, ...) and *any* change of
   settings, so a `SETTINGS readonly=0` smuggled into a subquery cannot lift it (readonly=2
   would let a query raise its own limits). With it go `max_execution_time`,
   `max_result_rows` with `result_overflow_mode='throw'` (a too-large result is an error, not
   a silently cut answer) and `max_memory_usage`.

Engine errors are translated into `SqlRefused` (not allowed), `SqlLimitExceeded` (time, rows,
memory) or `SqlFailed` (syntax, unknown table, ...), each with a message an analyst can act on.

Names are not qualified for the caller: write `posguard.receipt_summary` (the node's
database), as the embedded engine's current database is `default`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posguard.store.backends.base import Backend
from posguard.store.errors import QueryError, StoreUnavailable

__all__ = [
    "FORMATS",
    "SqlLimits",
    "SqlRefused",
    "SqlLimitExceeded",
    "SqlFailed",
    "check_sql",
    "run_sql",
]

# Our format names -> ClickHouse output formats.
FORMATS: dict[str, str] = {
    "table": "PrettyCompactNoEscapesMonoBlock",
    "csv": "CSVWithNames",
    "tsv": "TSVWithNames",
    "json": "JSON",
    "jsonl": "JSONEachRow",
    "parquet": "Parquet",
}

_ALLOWED_FIRST = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})


class SqlRefused(QueryError):
    """The statement is not allowed through analyst SQL access (write, DDL, settings, ...)."""


class SqlLimitExceeded(QueryError):
    """The query ran into the time, result-row or memory limit."""


class SqlFailed(QueryError):
    """The engine could not run the statement (syntax, unknown table or column, ...)."""


@dataclass(frozen=True)
class SqlLimits:
    """Limits every analyst query runs under.

    Attributes:
        max_execution_time: seconds before the engine stops the query.
        max_result_rows: rows the result may have; more is an error (add LIMIT or aggregate).
        max_memory_usage: bytes the query may use.
    """

    max_execution_time: int = 30
    max_result_rows: int = 100_000
    max_memory_usage: int = 2_000_000_000

    def settings(self) -> dict[str, int | str]:
        """The engine settings that enforce these limits and read-only mode."""
        return {
            "readonly": 1,
            "max_execution_time": int(self.max_execution_time),
            "timeout_overflow_mode": "throw",
            "max_result_rows": int(self.max_result_rows),
            "result_overflow_mode": "throw",
            "max_memory_usage": int(self.max_memory_usage),
        }


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\S")
_HEREDOC = re.compile(r"\$[A-Za-z0-9_]*\$")


def _tokens(sql: str) -> list[str]:
    """Words (upper-cased) and single symbols of `sql`, with strings, quoted names and
    comments removed. Unterminated quotes or comments are refused."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote inside the literal
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise SqlRefused("unterminated quoted string or name")
            out.append("'" if c == "'" else "name")
            i = j + 1
        elif c == "$" and (m := _HEREDOC.match(sql, i)):
            j = sql.find(m.group(0), m.end())  # $tag$ ... $tag$ (a heredoc string)
            if j < 0:
                raise SqlRefused("unterminated $$ string")
            out.append("'")
            i = j + len(m.group(0))
        elif sql.startswith("--", i) or sql.startswith("# ", i) or sql.startswith("#!", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise SqlRefused("unterminated /* comment")
            i = j + 2
        elif c.isspace():
            i += 1
        else:
            m = _TOKEN.match(sql, i)
            assert m is not None
            out.append(m.group(0).upper())
            i = m.end()
    return out


def check_sql(sql: str) -> str:
    """Refuse what analyst SQL access does not run; return the statement to run.

    Args:
        sql: one ClickHouse statement, optionally ending with `;`.

    Returns:
        The statement without its trailing semicolons.

    Raises:
        SqlRefused: with the reason.

    Example:
        >>> check_sql("SELECT 1;")
        'SELECT 1'
    """
    toks = _tokens(sql)
    while toks and toks[-1] == ";":
        toks.pop()
    if not toks:
        raise SqlRefused("empty query")
    if ";" in toks:
        raise SqlRefused("one statement at a time: remove the ';' between statements")
    first = next((t for t in toks if t != "("), "")
    if first not in _ALLOWED_FIRST:
        raise SqlRefused(
            f"read-only access: {first or 'this'} statements are not allowed; "
            "use SELECT, WITH, SHOW, DESCRIBE, EXPLAIN or EXISTS")
    for k, t in enumerate(toks):
        nxt = toks[k + 1] if k + 1 < len(toks) else ""
        if t == "OUTFILE":
            raise SqlRefused("INTO OUTFILE is not allowed: choose the output with --format/-o")
        if t == "SETTINGS":
            raise SqlRefused("SETTINGS clauses are not allowed: posguard runs every query "
                             "read-only with its own time, row and memory limits")
        if t == "FORMAT" and nxt != "(":
            raise SqlRefused("FORMAT clauses are not allowed: choose the output format "
                             "(table, csv, json, parquet) instead")
    # Cut the trailing semicolons off the original text (they are the last tokens).
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def _translate(e: Exception, limits: SqlLimits) -> QueryError:
    msg = str(e).strip()
    first = msg.splitlines()[0] if msg else type(e).__name__
    if "READONLY" in msg or "Cannot execute query in readonly mode" in msg:
        return SqlRefused(f"read-only access: the engine refused this statement ({first})")
    if "TIMEOUT_EXCEEDED" in msg or "Timeout exceeded" in msg:
        return SqlLimitExceeded(
            f"query stopped at the {limits.max_execution_time} s time limit: narrow the time "
            f"range or filter on the sort key ({first})")
    if "TOO_MANY_ROWS" in msg or "Limit for result exceeded" in msg:
        return SqlLimitExceeded(
            f"result has more than {limits.max_result_rows} rows: add a LIMIT or aggregate "
            f"({first})")
    if "MEMORY_LIMIT" in msg:
        return SqlLimitExceeded(
            f"query needs more than {limits.max_memory_usage} bytes of memory: aggregate "
            f"less or narrow the range ({first})")
    return SqlFailed(first)


def run_sql(backend: Backend, sql: str, fmt: str = "table",
            limits: SqlLimits | None = None) -> bytes:
    """Run one read-only analyst statement and return its output.

    Args:
        backend: the store (chDB or a ClickHouse server: the same SQL and limits).
        sql: one SELECT / WITH / SHOW / DESCRIBE / EXPLAIN / EXISTS statement.
        fmt: one of `FORMATS` (table, csv, tsv, json, jsonl, parquet).
        limits: time, row and memory limits (defaults: 30 s, 100,000 rows, 2 GB).

    Returns:
        The result in the chosen format (Parquet bytes start with b"PAR1").

    Raises:
        SqlRefused: the statement is not allowed.
        SqlLimitExceeded: a limit stopped it.
        SqlFailed: the engine could not run it.
    """
    if fmt not in FORMATS:
        raise SqlRefused(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    statement = check_sql(sql)
    lim = limits or SqlLimits()
    settings: dict[str, int | str] = dict(lim.settings())
    if fmt == "json":
        settings["output_format_json_quote_64bit_integers"] = 0
    try:
        return backend.query_format(statement, FORMATS[fmt], settings=settings)
    except (QueryError, StoreUnavailable) as e:
        raise _translate(e, lim) from None
