"""ClickHouse HTTP protocol server backed by an embedded chDB session.

`ChdbHttpServer` lets ClickHouse tools (the clickhouse-connect client, curl,
anything that speaks the ClickHouse HTTP interface) talk to a chDB data folder
as if it were a ClickHouse server. It serves on a background thread using only
the standard library and chDB::

    session = chdb.session.Session("/data/node")
    with ChdbHttpServer(session) as server:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)

How a request maps onto chDB:

* The SQL text is the ``query`` URL argument, the request body, or both (the
  body follows the URL query text after a newline, as in ClickHouse). A
  multipart/form-data body may carry ``query`` and ``param_<name>`` fields.
* ``INSERT ... FORMAT <fmt>`` and ``INSERT ... VALUES`` statements with inline
  data are split from their data, which is streamed into
  ``Session.send_insert`` (no temporary files, no size limit from
  ``max_query_size``). A compressed body (``Content-Encoding``: lz4, zstd,
  gzip, deflate, br, xz, bz2, snappy) is decompressed by chDB itself, so no
  codec package is required.
* Output uses ``default_format`` (URL argument or ``X-ClickHouse-Format``
  header) unless the query has its own ``FORMAT`` clause; default
  TabSeparated.
* ``param_<name>`` URL arguments become server-side query parameters
  (``Session.query(sql, fmt, params={name: value})``).
* Other URL arguments are ClickHouse settings. Transport-only ones
  (``session_id``, ``wait_end_of_query``, ``enable_http_compression``,
  ``send_progress_in_http_headers``, ``query_id``, ``user``, ...) are accepted
  and ignored; unknown names fail with UNKNOWN_SETTING, as in ClickHouse. The
  rest never leak into the shared session: for read statements (SELECT, WITH,
  SHOW, DESCRIBE, EXISTS) that do not end with their own SETTINGS clause they
  ride in an appended ``SETTINGS`` clause; otherwise they are applied with
  ``SET`` for the duration of the request and restored afterwards. ``readonly``
  (and the implicit ``readonly=2`` of GET requests, as in ClickHouse) cannot be
  undone once SET, so outside the SETTINGS-clause path such requests run on a
  throw-away chDB connection to the same engine.
* chDB errors become HTTP errors with a ``Code: NN. DB::Exception: ...`` body
  and the ``X-ClickHouse-Exception-Code`` header, using ClickHouse's mapping of
  error codes to HTTP statuses.

Every chDB call is made while holding the lock given to the constructor, so
the caller can keep using the session from its own code with the same lock.

Not supported: per-``session_id`` state (all clients share the one chDB
session, so ``SET``/``USE`` statements and temporary tables are visible to
everyone), external data tables, ``INSERT ... SELECT ... FROM input()`` with
inline data, streamed responses (results are buffered, then sent), response
compression, progress headers and authentication (credentials are ignored).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import os
import re
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import chdb
import chdb.session

__all__ = ["ChdbHttpServer"]

logger = logging.getLogger(__name__)

# chdb ships without annotations on its query API; keep the untyped surface in one place.
_connect: Callable[[str], Any] = cast(Any, chdb).connect

# URL arguments consumed by the HTTP layer (ClickHouse's own or clickhouse-connect's)
# that are never forwarded to chDB as settings.
_TRANSPORT_PARAMS = frozenset(
    {
        "add_http_cors_header",
        "buffer_size",
        "cancel_http_readonly_queries_on_client_close",
        "client_protocol_version",
        "compress",
        "decompress",
        "enable_http_compression",
        "http_headers_progress_interval_ms",
        "http_native_compression_disable_checksumming_on_decompress",
        "http_response_buffer_size",
        "http_wait_end_of_query",
        "http_write_exception_in_output_format",
        "http_zlib_compression_level",
        "password",
        "quota_key",
        "role",
        "send_progress_in_http_headers",
        "session_check",
        "session_id",
        "session_timeout",
        "stacktrace",
        "user",
        "wait_end_of_query",
    }
)

# Formats chdb's Python layer intercepts instead of passing them to the engine.
_PYTHON_ONLY_FORMATS = frozenset({"arrowtable", "dataframe", "datastore", "debug"})

# Content-Encoding values chDB can decompress (ClickHouse compression method names).
_CODECS = {
    "gzip": "gzip",
    "x-gzip": "gzip",
    "deflate": "deflate",
    "br": "br",
    "xz": "xz",
    "zstd": "zstd",
    "lz4": "lz4",
    "bz2": "bz2",
    "snappy": "snappy",
}

# ClickHouse's exceptionCodeToHTTPStatus, keyed by error name; anything else is 500.
_HTTP_STATUS_BY_ERROR = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        (
            "UNKNOWN_USER",
            "WRONG_PASSWORD",
            "AUTHENTICATION_FAILED",
            "SET_NON_GRANTED_ROLE",
            "ACCESS_DENIED",
        ),
        403,
    ),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    **dict.fromkeys(("SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"), 503),
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

# Leading keywords of statements that produce a result set (and so an X-ClickHouse-Format
# header even when the result is empty).
_RESULT_STATEMENTS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN", "CHECK", "(", "KILL"}
)

# Statements that take a trailing query-level SETTINGS clause, used to pass per-request
# settings without touching the shared session.
_SETTINGS_CLAUSE_STATEMENTS = frozenset(
    {"SELECT", "WITH", "(", "SHOW", "DESC", "DESCRIBE", "EXISTS"}
)

# Tokens after which FORMAT / VALUES / SELECT are names rather than clause keywords.
_NAME_POSITIONS = frozenset(
    {"INTO", "TABLE", "FUNCTION", "DATABASE", "FROM", "JOIN", "AS", ".", ","}
)

_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ERROR_CODE_RE = re.compile(r"^Code: (\d+)\.")
_ERROR_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]*)\)\s*$")
_INSERT_CHUNK = 1 << 20
_MAX_LINE = 65536


class _RequestError(Exception):
    """A ClickHouse-style error raised by the HTTP layer itself."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "string", "quoted", "open", "close", ";", "punct"
    start: int
    end: int
    depth: int


@dataclass
class _Statement:
    """One analysed SQL statement.

    For an INSERT with inline data, ``sql`` is the statement head (without the
    FORMAT/VALUES clause) and ``insert_format``/``insert_data`` hold the data.
    ``settings_at`` is the offset where a trailing SETTINGS clause may be added
    (None when the statement already ends with one), and ``words`` holds its
    upper-cased bare words.
    """

    sql: str | bytes
    kind: str
    output_format: str | None = None
    insert_format: str | None = None
    insert_data: memoryview = field(default_factory=lambda: memoryview(b""))
    raw: bytes = b""
    settings_at: int | None = None
    words: frozenset[str] = frozenset()


@dataclass
class _Request:
    text: bytes
    method: str
    default_format: str
    database: str
    query_id: str
    readonly: int
    timezone: str | None
    settings: dict[str, str]
    params: dict[str, str]


@dataclass
class _Result:
    body: bytes
    fmt: str | None
    summary: dict[str, str]


def _scan(text: str) -> Iterator[_Token]:
    """Tokenize SQL just enough to find clause keywords at nesting depth 0.

    Comments and whitespace are skipped; quoted strings, quoted identifiers and
    heredocs are single tokens. Works on text decoded as latin-1 so that token
    offsets are byte offsets of the original request. Never raises: malformed
    SQL is left for chDB to report.
    """
    n = len(text)
    pos = 0
    depth = 0
    while pos < n:
        ch = text[pos]
        if ch in " \t\n\r\f\v":
            pos += 1
            continue
        if text.startswith("--", pos) or (ch == "#" and text.startswith(("# ", "#!"), pos)):
            newline = text.find("\n", pos)
            pos = n if newline < 0 else newline + 1
            continue
        if text.startswith("/*", pos):
            level, pos = 1, pos + 2
            while pos < n and level:
                if text.startswith("/*", pos):
                    level, pos = level + 1, pos + 2
                elif text.startswith("*/", pos):
                    level, pos = level - 1, pos + 2
                else:
                    pos += 1
            continue
        start = pos
        if ch in "'\"`":
            pos += 1
            while pos < n:
                c = text[pos]
                if c == "\\":
                    pos += 2
                elif c == ch:
                    if pos + 1 < n and text[pos + 1] == ch:
                        pos += 2
                    else:
                        pos += 1
                        break
                else:
                    pos += 1
            yield _Token("string" if ch == "'" else "quoted", start, min(pos, n), depth)
            continue
        if ch == "$":
            heredoc = re.compile(r"\$[A-Za-z0-9_]*\$").match(text, pos)
            if heredoc:
                close = text.find(heredoc.group(0), heredoc.end())
                pos = n if close < 0 else close + len(heredoc.group(0))
                yield _Token("string", start, pos, depth)
                continue
        if ch.isalnum() or ch == "_" or ord(ch) >= 0x80:
            pos += 1
            while pos < n and (text[pos].isalnum() or text[pos] in "_$" or ord(text[pos]) >= 0x80):
                pos += 1
            yield _Token("word", start, pos, depth)
            continue
        pos += 1
        if ch in "([{":
            yield _Token("open", start, pos, depth)
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
            yield _Token("close", start, pos, depth)
        elif ch == ";":
            yield _Token(";", start, pos, depth)
        else:
            yield _Token("punct", start, pos, depth)


def _decode_sql(raw: bytes) -> str | bytes:
    """Return SQL as str, or as bytes when it is not valid UTF-8 (chDB takes both)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _analyze(raw: bytes) -> _Statement:
    """Classify the request SQL and split an INSERT from its inline data.

    Args:
        raw: The full request SQL (URL query text plus body), possibly followed
            by binary INSERT data.

    Returns:
        The analysed statement.

    Raises:
        _RequestError: The query is empty or holds several statements.
    """
    text = raw.decode("latin-1")
    tokens = _scan(text)
    first = next(tokens, None)
    if first is None:
        raise _RequestError(62, "SYNTAX_ERROR", "Empty query")
    kind = text[first.start : first.end].upper()
    if kind == "INSERT":
        statement = _split_insert(raw, text, tokens)
        if statement is not None:
            return statement
    all_tokens = list(_scan(text))
    output_format = None
    format_index = -1
    for i, tok in enumerate(all_tokens):
        if tok.depth:
            continue
        if tok.kind == ";" and i + 1 < len(all_tokens):
            raise _RequestError(
                62,
                "SYNTAX_ERROR",
                f"Multi-statements are not allowed: failed at position {tok.start + 1}",
            )
        if (
            tok.kind != "word"
            or text[tok.start : tok.end].upper() != "FORMAT"
            or i + 1 >= len(all_tokens)
        ):
            continue
        prev = text[all_tokens[i - 1].start : all_tokens[i - 1].end].upper() if i else ""
        name = all_tokens[i + 1]
        after = all_tokens[i + 2] if i + 2 < len(all_tokens) else None
        if (
            prev in _NAME_POSITIONS
            or name.kind not in ("word", "quoted")
            or (after is not None and after.kind == "open")
        ):
            continue
        output_format = text[name.start : name.end].strip('`"')
        format_index = i
    significant = [tok for tok in all_tokens if tok.kind != ";"]
    has_trailing_settings = any(
        tok.depth == 0 and tok.kind == "word" and text[tok.start : tok.end].upper() == "SETTINGS"
        for tok in all_tokens[format_index + 1 :]
    )
    return _Statement(
        sql=_decode_sql(raw),
        kind=kind,
        output_format=output_format,
        raw=raw,
        settings_at=None if has_trailing_settings else significant[-1].end,
        words=frozenset(text[t.start : t.end].upper() for t in all_tokens if t.kind == "word"),
    )


def _split_insert(raw: bytes, text: str, tokens: Iterator[_Token]) -> _Statement | None:
    """Find where the inline data of an INSERT starts (after FORMAT <name> or VALUES).

    Scanning stops at the data, so binary payloads are never tokenized. Returns
    None for INSERT ... SELECT, FROM INFILE and statements without inline data.
    """
    prev = "INSERT"
    for tok in tokens:
        word = (
            text[tok.start : tok.end].upper() if tok.kind == "word" else text[tok.start : tok.end]
        )
        if tok.depth == 0 and tok.kind == "word" and prev not in _NAME_POSITIONS:
            if word in ("SELECT", "WITH", "FROM"):
                return None
            if word == "VALUES":
                return _Statement(
                    sql=raw[: tok.start].decode("utf-8", "replace").strip(),
                    kind="INSERT",
                    insert_format="Values",
                    insert_data=memoryview(raw)[tok.end :],
                )
            if word == "FORMAT":
                name = next(tokens, None)
                if name is None or name.kind != "word":
                    return None
                data_start = name.end
                while data_start < len(text) and text[data_start] in " \t\f":
                    data_start += 1
                if text.startswith("\r", data_start):
                    data_start += 1
                if text.startswith("\n", data_start):
                    data_start += 1
                return _Statement(
                    sql=raw[: tok.start].decode("utf-8", "replace").strip(),
                    kind="INSERT",
                    insert_format=text[name.start : name.end],
                    insert_data=memoryview(raw)[data_start:],
                )
        prev = word
    return None


def _error_parts(message: str) -> tuple[int, str, str]:
    """Normalize an engine error into (code, name, 'Code: NN. DB::Exception: ...' text)."""
    idx = message.find("Code: ")
    if idx >= 0:
        message = message[idx:]
    message = message.strip()
    code_match = _ERROR_CODE_RE.match(message)
    if code_match is None:
        return (
            1001,
            "STD_EXCEPTION",
            f"Code: 1001. DB::Exception: {message or 'Unknown error'}. (STD_EXCEPTION)",
        )
    name_match = _ERROR_NAME_RE.search(message)
    return int(code_match.group(1)), name_match.group(1) if name_match else "", message


def _quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _content_type(fmt: str) -> str:
    """Content-Type ClickHouse sends for an output format."""
    low = fmt.lower()
    if low.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if low.startswith("csv"):
        return f"text/csv; charset=UTF-8; header={'present' if 'withnames' in low else 'absent'}"
    if low.startswith("json"):
        if "eachrow" in low or low.startswith("jsonlines"):
            return "application/x-ndjson; charset=UTF-8"
        return "application/json; charset=UTF-8"
    if low == "xml":
        return "application/xml; charset=UTF-8"
    if low.startswith(
        (
            "native",
            "rowbinary",
            "parquet",
            "arrow",
            "orc",
            "avro",
            "protobuf",
            "msgpack",
            "capnproto",
            "bson",
            "npy",
        )
    ):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


def _connection_string(session: chdb.session.Session) -> str | None:
    """The chDB connection string of a session, used to open side connections."""
    for attr in ("_conn_str", "_path"):
        value = getattr(session, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def _query_stats(result: Any) -> dict[str, str]:
    stats: dict[str, str] = {}
    for key, getter in (
        ("read_rows", "rows_read"),
        ("read_bytes", "bytes_read"),
        ("written_rows", "rows_written"),
        ("written_bytes", "bytes_written"),
    ):
        with suppress(Exception):
            stats[key] = str(int(getattr(result, getter)()))
    with suppress(Exception):
        stats["elapsed_ns"] = str(int(result.elapsed() * 1_000_000_000))
    return stats


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its owner and can drop idle keep-alive connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: ChdbHttpServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("chDB HTTP: error handling request from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Request handler speaking the ClickHouse HTTP interface."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY every keep-alive
    # response would wait for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server_version = "chdb-http"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("chDB HTTP %s: " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _dispatch(self, head: bool) -> None:
        owner = self.server.owner
        query_id = str(uuid.uuid4())
        try:
            url = urlsplit(self.path)
            body = self._read_body()
            path = url.path or "/"
            if path in ("/ping", "/replicas_status"):
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"}, head)
                return
            if path != "/":
                message = f"There is no handle {path}\n\nUse / or /ping for health checks.\n"
                self._send(
                    404, message.encode(), {"Content-Type": "text/plain; charset=UTF-8"}, head
                )
                return
            request = owner._parse_request(self.command, url.query, self.headers, body)
            if request is None:
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"}, head)
                return
            query_id = request.query_id
            result = owner._execute(request)
        except Exception as ex:  # every failure becomes a ClickHouse-style error response
            if not isinstance(ex, (_RequestError, RuntimeError)):
                logger.exception("chDB HTTP: unexpected error")
            self._send_error(str(ex), query_id, owner, head)
            return
        headers = {
            "Content-Type": _content_type(result.fmt)
            if result.fmt
            else "text/plain; charset=UTF-8",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": request.timezone or owner._timezone,
            "X-ClickHouse-Server-Display-Name": owner._display_name,
            "X-ClickHouse-Summary": json.dumps(result.summary, separators=(",", ":")),
        }
        if result.fmt:
            headers["X-ClickHouse-Format"] = result.fmt
        self._send(200, result.body, headers, head)

    def _send_error(self, message: str, query_id: str, owner: ChdbHttpServer, head: bool) -> None:
        code, name, text = _error_parts(message)
        body = f"{text} (version {owner._version})\n".encode()
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": owner._display_name,
            "X-ClickHouse-Exception-Code": str(code),
        }
        with suppress(OSError):
            self._send(_HTTP_STATUS_BY_ERROR.get(name, 500), body, headers, head)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str], head: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        """Read the whole request body (Content-Length or chunked transfer encoding)."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                raise ValueError("truncated body")
            return body
        except (ValueError, OSError) as ex:
            self.close_connection = True
            raise _RequestError(
                36, "BAD_ARGUMENTS", f"Cannot read the HTTP request body: {ex}"
            ) from ex

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            line = self.rfile.readline(_MAX_LINE)
            if not line.endswith(b"\n"):
                raise ValueError("malformed chunk header")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size < 0:
                raise ValueError("negative chunk size")
            if size == 0:
                while True:
                    trailer = self.rfile.readline(_MAX_LINE)
                    if trailer in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise ValueError("truncated chunk")
            parts.append(chunk)
            if self.rfile.readline(_MAX_LINE).strip():
                raise ValueError("missing chunk terminator")


class ChdbHttpServer:
    """Serve a chDB session over the ClickHouse HTTP protocol.

    Args:
        session: The chDB session to serve. It stays owned by the caller; the
            server never closes it.
        host: Interface to bind.
        port: TCP port to bind; 0 picks a free port (see `port` / `url`).
        lock: Lock serializing every chDB call. Pass the lock your own code
            uses with ``session`` so the server never runs a query concurrently
            with it; a private lock is created when omitted.

    Example:
        >>> with ChdbHttpServer(session) as server:  # doctest: +SKIP
        ...     client = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
    """

    def __init__(
        self,
        session: chdb.session.Session,
        host: str = "127.0.0.1",
        port: int = 0,
        lock: threading.Lock | None = None,
    ) -> None:
        self._session: Any = session
        self._host = host
        self._requested_port = port
        self._lock = lock if lock is not None else threading.Lock()
        self._conn_str = _connection_string(session)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._version = ""
        self._timezone = "UTC"
        self._display_name = socket.gethostname() or "chdb"

    # ---- lifecycle -----------------------------------------------------

    def start(self) -> ChdbHttpServer:
        """Bind the socket and start serving on a background daemon thread.

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: The server is already running.
            OSError: The address cannot be bound.
        """
        if self._httpd is not None:
            raise RuntimeError("ChdbHttpServer is already running")
        with self._lock:
            probe = self._session.query("SELECT version(), timezone()", "TabSeparated").bytes()
        version, _, timezone = probe.decode().rstrip("\n").partition("\t")
        self._version, self._timezone = version, timezone or "UTC"
        httpd = _HTTPServer((self._host, self._requested_port), self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"chdb-http-{httpd.server_address[1]}",
            daemon=True,
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        logger.info("chDB HTTP server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and idle connections.

        Queries already running finish on their own threads. Calling stop on a
        stopped server does nothing.
        """
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()

    def __enter__(self) -> ChdbHttpServer:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: The server is not running.
        """
        if self._httpd is None:
            raise RuntimeError("ChdbHttpServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:8123``.

        Raises:
            RuntimeError: The server is not running.
        """
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self.port}"

    # ---- request parsing -----------------------------------------------

    def _parse_request(
        self, method: str, url_query: str, headers: Any, body: bytes
    ) -> _Request | None:
        """Turn an HTTP request into a `_Request`; None for a bare health check."""
        args = dict(parse_qsl(url_query, keep_blank_values=True))
        query = args.pop("query", "").encode()
        content_type = headers.get("Content-Type", "")
        if body and content_type.lower().startswith("multipart/form-data"):
            form_query, form_args = self._parse_multipart(content_type, body)
            args.update(form_args)
            body = b""
            query = query + b"\n" + form_query if query and form_query else query or form_query
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if body and encoding not in ("", "identity", "none"):
            codec = _CODECS.get(encoding)
            if codec is None:
                raise _RequestError(
                    89, "UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method '{encoding}'"
                )
            body = self._decompress(body, codec)
        if not query and not body:
            if method in ("GET", "HEAD"):
                return None
            raise _RequestError(62, "SYNTAX_ERROR", "Empty query")
        text = query + b"\n" + body if query and body else query or body

        default_format = (
            args.pop("default_format", "")
            or headers.get("X-ClickHouse-Format", "")
            or "TabSeparated"
        )
        database = args.pop("database", "") or headers.get("X-ClickHouse-Database", "")
        query_id = args.pop("query_id", "") or str(uuid.uuid4())
        readonly_arg = args.pop("readonly", "")
        try:
            readonly = int(readonly_arg or 0)
        except ValueError:
            raise _RequestError(
                36, "BAD_ARGUMENTS", f"Invalid value for setting 'readonly': '{readonly_arg}'"
            ) from None
        if method in ("GET", "HEAD") and readonly == 0:
            # ClickHouse only runs read queries for GET requests
            readonly = 2
        params: dict[str, str] = {}
        settings: dict[str, str] = {}
        for key, value in args.items():
            if key.startswith("param_"):
                params[key[len("param_") :]] = value
            elif key not in _TRANSPORT_PARAMS:
                settings[key] = value
        return _Request(
            text=text,
            method=method,
            default_format=default_format,
            database=database,
            query_id=query_id,
            readonly=readonly,
            timezone=settings.get("session_timezone") or None,
            settings=settings,
            params=params,
        )

    @staticmethod
    def _parse_multipart(content_type: str, body: bytes) -> tuple[bytes, dict[str, str]]:
        """Read ``query`` and ``param_*``/setting fields from a multipart/form-data body."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        if not message.is_multipart():
            raise _RequestError(36, "BAD_ARGUMENTS", "Malformed multipart/form-data body")
        query = b""
        args: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                payload = b""
            if part.get_filename() is not None:
                raise _RequestError(
                    48,
                    "NOT_IMPLEMENTED",
                    "External data tables are not supported by the chDB HTTP server",
                )
            if name == "query":
                query = payload
            elif isinstance(name, str):
                args[name] = payload.decode("utf-8")
        return query, args

    def _decompress(self, body: bytes, codec: str) -> bytes:
        """Decompress a request body with chDB's own codecs (no Python codec packages needed)."""
        with tempfile.NamedTemporaryFile(prefix="chdb-http-", suffix=".bin", delete=False) as tmp:
            tmp.write(body)
        try:
            sql = "SELECT raw FROM file({path:String}, 'RawBLOB', 'raw String', {codec:String})"
            with self._lock:
                result = self._session.query(
                    sql, "RawBLOB", params={"path": tmp.name, "codec": codec}
                )
            return result.bytes() or b""
        finally:
            with suppress(OSError):
                os.unlink(tmp.name)

    # ---- execution -----------------------------------------------------

    def _execute(self, request: _Request) -> _Result:
        """Run a parsed request against chDB and build its result."""
        statement = _analyze(request.text)
        if statement.insert_format == "Values" and request.params:
            # Query parameters inside VALUES need the SQL parser, not the Values input format
            statement = _Statement(sql=_decode_sql(request.text), kind="INSERT")
        fmt = statement.output_format or request.default_format
        if fmt.lower() in _PYTHON_ONLY_FORMATS:
            raise _RequestError(73, "UNKNOWN_FORMAT", f"Unknown output format {fmt}")
        inline = self._with_settings_clause(request, statement)
        with self._lock:
            try:
                if inline is not None:
                    body, summary = self._run_on_session(request, inline, fmt, {})
                elif request.readonly:
                    body, summary = self._run_readonly(request, statement, fmt)
                else:
                    body, summary = self._run_on_session(request, statement, fmt,
                                                         request.settings)
            except BaseException:
                # chDB keeps a failed query's partial output and prepends it to the session's
                # next result: drain it while still holding the lock.
                with suppress(Exception):
                    self._session.query("SELECT 1", "CSV")
                raise
        summary["result_bytes"] = str(len(body))
        has_result = bool(body) or (
            statement.insert_format is None and statement.kind in _RESULT_STATEMENTS
        )
        return _Result(body=body, fmt=fmt if has_result else None, summary=summary)

    @staticmethod
    def _with_settings_clause(request: _Request, statement: _Statement) -> _Statement | None:
        """Carry the request settings (and readonly) in a trailing SETTINGS clause.

        This is the cheap path: no SET on the shared session, nothing to restore,
        no side connection. It applies to read statements that do not end with
        their own SETTINGS clause and do not mention any of the settings (so the
        query's own SETTINGS keep precedence over URL settings, as in ClickHouse).

        Returns:
            The rewritten statement, or None when the SET-based path must be used.
        """
        settings = dict(request.settings)
        if request.readonly:
            settings["readonly"] = str(request.readonly)
        if (
            statement.insert_format is not None
            or statement.kind not in _SETTINGS_CLAUSE_STATEMENTS
            or statement.settings_at is None
            or any(name.upper() in statement.words for name in settings)
        ):
            return None
        if not settings:
            return statement
        for name in settings:
            if not _SETTING_NAME_RE.match(name):
                raise _RequestError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
        clause = ", ".join(f"{name} = {_quote_string(value)}" for name, value in settings.items())
        sql = statement.raw[: statement.settings_at] + b"\nSETTINGS " + clause.encode()
        return _Statement(sql=_decode_sql(sql), kind=statement.kind)

    def _run_on_session(
        self, request: _Request, statement: _Statement, fmt: str, settings: Mapping[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        """Run on the shared session, restoring its database and settings afterwards."""
        conn = self._session
        restore_db = None
        if request.database:
            current = (
                conn.query("SELECT currentDatabase()", "TabSeparated").bytes().decode().rstrip("\n")
            )
            if current != request.database:
                conn.query(f"USE {_quote_identifier(request.database)}", "TabSeparated")
                restore_db = current
        try:
            undo = self._apply_settings(conn, settings)
            try:
                return self._run_statement(conn, statement, fmt, request.params)
            finally:
                self._restore_settings(conn, undo)
        finally:
            if restore_db is not None:
                try:
                    conn.query(f"USE {_quote_identifier(restore_db)}", "TabSeparated")
                except Exception:  # never mask the query's own outcome
                    logger.warning(
                        "chDB HTTP: could not restore database %s", restore_db, exc_info=True
                    )

    def _run_readonly(
        self, request: _Request, statement: _Statement, fmt: str
    ) -> tuple[bytes, dict[str, str]]:
        """Run on a throw-away connection to the same engine with ``readonly`` set.

        ``readonly`` cannot be reverted once set, so it must not touch the shared session.
        """
        if self._conn_str is None:
            raise _RequestError(
                48, "NOT_IMPLEMENTED", "readonly requests need the chDB session's connection string"
            )
        database = request.database or self._session.query(
            "SELECT currentDatabase()", "TabSeparated"
        ).bytes().decode().rstrip("\n")
        conn = _connect(self._conn_str)
        try:
            if database:
                conn.query(f"USE {_quote_identifier(database)}", "TabSeparated")
            self._apply_settings(conn, request.settings)
            conn.query(f"SET readonly = {int(request.readonly)}", "TabSeparated")
            return self._run_statement(conn, statement, fmt, request.params)
        finally:
            with suppress(Exception):
                conn.close()

    @staticmethod
    def _apply_settings(
        conn: Any, settings: Mapping[str, str]
    ) -> list[tuple[str, tuple[str, bool] | None]]:
        """SET each setting whose value differs; return what is needed to undo it."""
        if not settings:
            return []
        for name in settings:
            if not _SETTING_NAME_RE.match(name):
                raise _RequestError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
        rows = conn.query(
            "SELECT name, value, changed FROM system.settings WHERE has(splitByChar(',', {names:String}), name)",
            "JSONEachRow",
            params={"names": ",".join(settings)},
        ).bytes()
        current: dict[str, tuple[str, bool]] = {}
        for line in (rows or b"").splitlines():
            row = json.loads(line)
            current[row["name"]] = (row["value"], bool(row["changed"]))
        undo: list[tuple[str, tuple[str, bool] | None]] = []
        try:
            for name, value in settings.items():
                previous = current.get(name)
                if previous is not None and previous[0] == value:
                    continue
                conn.query(f"SET {name} = {_quote_string(value)}", "TabSeparated")
                undo.append((name, previous))
        except BaseException:
            ChdbHttpServer._restore_settings(conn, undo)
            raise
        return undo

    @staticmethod
    def _restore_settings(conn: Any, undo: list[tuple[str, tuple[str, bool] | None]]) -> None:
        for name, previous in reversed(undo):
            if previous is None or not previous[1]:
                sql = f"SET {name} = DEFAULT"
            else:
                value = previous[0]
                # system.settings shows expression defaults already quoted, e.g. 'auto(4)'
                literal = (
                    value
                    if len(value) >= 2 and value[0] == value[-1] == "'"
                    else _quote_string(value)
                )
                sql = f"SET {name} = {literal}"
            try:
                conn.query(sql, "TabSeparated")
            except Exception:  # best effort, keep restoring the others
                logger.warning("chDB HTTP: could not restore setting %s", name, exc_info=True)

    @staticmethod
    def _run_statement(
        conn: Any, statement: _Statement, fmt: str, params: dict[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        if statement.insert_format is None:
            result = conn.query(statement.sql, fmt, params=params)
            return result.bytes() or b"", _query_stats(result)
        inserter = conn.send_insert(statement.sql, statement.insert_format)
        try:
            data = statement.insert_data
            for offset in range(0, len(data), _INSERT_CHUNK):
                inserter.append(data[offset : offset + _INSERT_CHUNK])
            outcome = inserter.finish()
        except BaseException:
            with suppress(Exception):
                inserter.cancel()
            raise
        return b"", {
            "read_rows": "0",
            "read_bytes": "0",
            "written_rows": str(outcome.rows_written),
            "written_bytes": str(outcome.bytes_written),
            "elapsed_ns": str(int(outcome.elapsed * 1_000_000_000)),
        }
