"""Integration tests for the chDB-backed ClickHouse HTTP server.

Real engines only: an embedded chDB session in a temporary folder, served by
`ChdbHttpServer` on a free port, driven by the clickhouse-connect client and by
plain HTTP requests (what curl sends).
"""

from __future__ import annotations

import datetime as dt
import gzip
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import chdb.session
import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from posguard.store.chdb_http import ChdbHttpServer

pytestmark = pytest.mark.integration

COLUMNS = ["name", "qty", "kind", "ts", "tags", "maybe"]
TABLE_DDL = """
CREATE TABLE {table} (
    name String,
    qty Int64,
    kind LowCardinality(String),
    ts DateTime64(6, 'UTC'),
    tags Array(String),
    maybe Nullable(Int32)
) ENGINE = MergeTree ORDER BY qty
SETTINGS non_replicated_deduplication_window = 100
"""
INJECTION = "'; DROP TABLE t; --"


# chDB allows one data folder per process: use the test session's engine and its lock.
@pytest.fixture(scope="module")
def session_lock(chdb_engine) -> threading.Lock:  # type: ignore[no-untyped-def]
    return chdb_engine.lock  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def session(chdb_engine) -> Iterator[chdb.session.Session]:  # type: ignore[no-untyped-def]
    yield chdb_engine.session


@pytest.fixture(scope="module")
def server(session: chdb.session.Session, session_lock: threading.Lock) -> Iterator[ChdbHttpServer]:
    with ChdbHttpServer(session, lock=session_lock) as srv:
        yield srv


@pytest.fixture()
def client(server: ChdbHttpServer) -> Iterator[Client]:
    cli = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
    try:
        yield cli
    finally:
        cli.close()


def _make_table(client: Client, table: str) -> None:
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(TABLE_DDL.format(table=table))


def _rows(qty_base: int = 1) -> list[list[object]]:
    return [
        [
            "plain",
            qty_base,
            "a",
            dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
            ["x", "y"],
            None,
        ],
        [
            INJECTION,
            qty_base + 1,
            "b",
            dt.datetime(2024, 2, 3, 4, 5, 6, 654321, tzinfo=dt.UTC),
            [],
            -7,
        ],
        [
            "ünïcode \t\n\\",
            qty_base + 2,
            "a",
            dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
            ["'"],
            42,
        ],
    ]


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _http(
    server: ChdbHttpServer,
    path: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
):
    """Send one request like curl would; return (status, headers, body) even for HTTP errors."""
    request = urllib.request.Request(server.url + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _count(session: chdb.session.Session, lock: threading.Lock, sql: str) -> int:
    with lock:
        return int(session.query(sql, "TabSeparated").bytes())


def test_ping(server: ChdbHttpServer, client: Client) -> None:
    status, _, body = _http(server, "/ping")
    assert (status, body) == (200, b"Ok.\n")
    assert client.ping()
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_connect_probe(client: Client) -> None:
    assert client.server_version
    assert client.server_tz is not None
    assert client.command("SELECT 1") == 1


def test_insert_and_select_round_trip(client: Client) -> None:
    _make_table(client, "roundtrip")
    summary = client.insert("roundtrip", _rows(), column_names=COLUMNS)
    assert summary.written_rows == 3

    result = client.query("SELECT * FROM roundtrip ORDER BY qty")
    assert list(result.column_names) == COLUMNS
    got = [list(row) for row in result.result_rows]
    expected = _rows()
    for row_got, row_expected in zip(got, expected, strict=True):
        assert row_got[:3] == row_expected[:3]
        assert _naive_utc(row_got[3]) == _naive_utc(row_expected[3])
        assert row_got[4:] == row_expected[4:]
    assert client.command("SELECT count() FROM roundtrip") == 3


@pytest.mark.parametrize("compress", [False, "gzip", "zstd", "lz4"])
def test_insert_with_each_body_compression(server: ChdbHttpServer, compress: bool | str) -> None:
    cli = clickhouse_connect.get_client(host="127.0.0.1", port=server.port, compress=compress)
    try:
        table = f"comp_{compress or 'none'}"
        _make_table(cli, table)
        cli.insert(table, _rows(), column_names=COLUMNS)
        assert cli.query(f"SELECT name FROM {table} ORDER BY qty")  # noqa: S608 - constant names.result_columns[0] == [row[0] for row in _rows()]
    finally:
        cli.close()


@pytest.mark.parametrize("width", [9, 10, 32])
@pytest.mark.parametrize("compress", [False, "lz4"])
def test_native_insert_whose_first_byte_looks_like_whitespace(
    server: ChdbHttpServer, width: int, compress: bool | str
) -> None:
    # The Native block starts with its column count: 9, 10 and 32 are tab, newline and space
    cli = clickhouse_connect.get_client(host="127.0.0.1", port=server.port, compress=compress)
    try:
        table = f"wide_{width}_{compress or 'none'}"
        cli.command(f"DROP TABLE IF EXISTS {table}")
        cols = ", ".join(f"c{i} Int32" for i in range(width))
        cli.command(f"CREATE TABLE {table} ({cols}) ENGINE = Memory")
        cli.insert(table, [list(range(width)), list(range(1, width + 1))])
        last_sum = cli.command(
            "SELECT sum({col:Identifier}) FROM {tbl:Identifier}",
            parameters={"col": f"c{width - 1}", "tbl": table},
        )
        assert last_sum == 2 * width - 1
    finally:
        cli.close()


def test_parameterized_select_matches_literally(client: Client) -> None:
    _make_table(client, "params")
    client.insert("params", _rows(), column_names=COLUMNS)

    result = client.query(
        "SELECT qty, name FROM params WHERE name = {p:String}", parameters={"p": INJECTION}
    )
    assert result.result_rows == [(2, INJECTION)]
    assert client.command("EXISTS TABLE t") == 0  # nothing got dropped, nothing got created
    assert client.command("SELECT count() FROM params") == 3

    typed = client.query(
        "SELECT {a:Array(String)} AS a, {n:Nullable(Int32)} AS n, {d:DateTime64(6, 'UTC')} AS d",
        parameters={"a": ["x", "y'z"], "n": None, "d": dt.datetime(2024, 1, 2, 3, 4, 5, 123456)},
    )
    assert typed.result_rows[0][:2] == (["x", "y'z"], None)
    assert _naive_utc(typed.result_rows[0][2]) == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)


def test_parameters_in_multipart_form(server: ChdbHttpServer) -> None:
    cli = clickhouse_connect.get_client(
        host="127.0.0.1", port=server.port, form_encode_query_params=True
    )
    try:
        result = cli.query(
            "SELECT {p:String} AS v, length({p:String}) AS n", parameters={"p": INJECTION}
        )
        assert result.result_rows == [(INJECTION, len(INJECTION))]
    finally:
        cli.close()


def test_insert_deduplication_token(
    client: Client, session: chdb.session.Session, session_lock: threading.Lock
) -> None:
    _make_table(client, "dedup")
    client.insert(
        "dedup", _rows(1), column_names=COLUMNS, settings={"insert_deduplication_token": "tok"}
    )
    # Different rows, same token: deduplicated on the token alone
    client.insert(
        "dedup", _rows(100), column_names=COLUMNS, settings={"insert_deduplication_token": "tok"}
    )
    assert client.command("SELECT count() FROM dedup") == 3
    assert client.command("SELECT max(qty) FROM dedup") == 3

    client.insert(
        "dedup", _rows(100), column_names=COLUMNS, settings={"insert_deduplication_token": "other"}
    )
    assert client.command("SELECT count() FROM dedup") == 6
    # The per-request setting did not leak into the shared session
    with session_lock:
        leftover = session.query(
            "SELECT getSetting('insert_deduplication_token')", "TabSeparated"
        ).bytes()
    assert leftover == b"\n"


def test_error_raises_database_error(server: ChdbHttpServer, client: Client) -> None:
    with pytest.raises(DatabaseError) as info:
        client.query("SELECT * FROM no_such_table")
    message = str(info.value)
    assert "Code: 60" in message
    assert "UNKNOWN_TABLE" in message
    assert "no_such_table" in message

    status, headers, body = _http(server, "/", data=b"SELEC 1")
    assert status == 400
    assert headers["X-ClickHouse-Exception-Code"] == "62"
    assert body.startswith(b"Code: 62. DB::Exception: Syntax error")

    status, headers, body = _http(server, "/", data=b"SELECT 1; SELECT 2")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (400, "62")
    assert b"Multi-statements are not allowed" in body


def test_readonly_setting_refuses_insert(client: Client) -> None:
    _make_table(client, "ro")
    with pytest.raises(DatabaseError) as info:
        client.insert("ro", _rows(), column_names=COLUMNS, settings={"readonly": 1})
    assert "164" in str(info.value)
    assert "readonly" in str(info.value).lower()
    with pytest.raises(DatabaseError):
        client.command("DROP TABLE ro", settings={"readonly": 1})
    assert client.command("SELECT count() FROM ro") == 0
    # Reads still work under readonly, and readonly does not stick to the session
    assert client.query("SELECT 41 + 1", settings={"readonly": 1}).result_rows == [(42,)]
    # As in ClickHouse, readonly=1 also refuses the query's own settings changes
    with pytest.raises(DatabaseError) as info:
        client.query("SELECT 1 SETTINGS max_threads = 1", settings={"readonly": 1})
    assert "READONLY" in str(info.value)
    assert client.command("SELECT 1 SETTINGS max_threads = 1", settings={"readonly": 2}) == 1
    client.insert("ro", _rows(), column_names=COLUMNS)
    assert client.command("SELECT count() FROM ro") == 3


def test_curl_style_get(server: ChdbHttpServer, client: Client) -> None:
    status, headers, body = _http(server, "/?query=SELECT+1")
    assert (status, body) == (200, b"1\n")
    assert headers["X-ClickHouse-Format"] == "TabSeparated"
    assert headers["Content-Type"].startswith("text/tab-separated-values")
    assert headers["X-ClickHouse-Query-Id"]
    assert "read_rows" in headers["X-ClickHouse-Summary"]

    query = urllib.parse.quote(
        "SELECT number, toString(number) AS s FROM numbers(2) FORMAT JSONEachRow"
    )
    status, headers, body = _http(server, f"/?query={query}")
    assert (status, headers["X-ClickHouse-Format"]) == (200, "JSONEachRow")
    assert body == b'{"number":0,"s":"0"}\n{"number":1,"s":"1"}\n'

    status, _, body = _http(
        server,
        "/?default_format=CSV&param_x=hi&query=" + urllib.parse.quote("SELECT {x:String}, 2"),
    )
    assert (status, body) == (200, b'"hi",2\n')

    # GET implies readonly, as in ClickHouse
    _make_table(client, "get_ro")
    insert = urllib.parse.quote("INSERT INTO get_ro (qty) VALUES (1)")
    status, headers, _ = _http(server, f"/?query={insert}")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (500, "164")


def test_curl_style_post(server: ChdbHttpServer, client: Client) -> None:
    _make_table(client, "posted")
    status, _, _ = _http(
        server,
        "/?query=" + urllib.parse.quote("INSERT INTO posted (name, qty) FORMAT CSV"),
        data=b"a,1\nb,2\n",
    )
    assert status == 200
    status, _, _ = _http(
        server, "/", data=b"INSERT INTO posted (name, qty) VALUES ('c', 3), ('d', 4)"
    )
    assert status == 200
    status, _, _ = _http(
        server,
        "/",
        data=gzip.compress(b"INSERT INTO posted (name, qty) FORMAT TSV\ne\t5\n"),
        headers={"Content-Encoding": "gzip"},
    )
    assert status == 200
    # URL settings reach the insert: format_csv_delimiter
    insert_csv = urllib.parse.quote("INSERT INTO posted (name, qty) FORMAT CSV")
    status, _, _ = _http(server, f"/?format_csv_delimiter=%3B&query={insert_csv}", data=b"f;6\n")
    assert status == 200
    status, headers, body = _http(
        server,
        "/?query=SELECT+arraySort(groupArray(name))+FROM+posted",
        data=b"FORMAT JSONCompactEachRow",
    )
    assert (status, body) == (200, b'[["a","b","c","d","e","f"]]\n')
    assert headers["X-ClickHouse-Format"] == "JSONCompactEachRow"

    status, headers, _ = _http(server, "/", data=b"SELECT 1", headers={"Content-Encoding": "bogus"})
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (500, "89")


def test_output_formats_and_commands(client: Client) -> None:
    assert client.raw_query("SELECT 1 AS x", fmt="JSONEachRow") == b'{"x":1}\n'
    assert client.raw_query("SELECT 1 AS x FORMAT CSVWithNames") == b'"x"\n1\n'
    assert client.command("SELECT 'a', 'b'") == ["a", "b"]
    assert client.command("SELECT 1 WHERE 0") == ""
    assert client.query("SELECT number FROM numbers(3) LIMIT 0").column_names == ("number",)
    df_like = client.query(
        "SELECT toLowCardinality('v') AS lc, [1, 2] AS arr, NULL::Nullable(String) AS n"
    )
    assert df_like.result_rows == [("v", [1, 2], None)]


def test_settings_are_applied_per_request(
    client: Client, session: chdb.session.Session, session_lock: threading.Lock
) -> None:
    with pytest.raises(DatabaseError) as info:
        client.query("SELECT number FROM numbers(1000)", settings={"max_result_rows": 10})
    assert "TOO_MANY_ROWS_OR_BYTES" in str(info.value)

    broken = client.query(
        "SELECT number FROM numbers(1000000)",
        settings={"max_result_rows": 10, "result_overflow_mode": "break"},
    )
    assert 10 <= broken.row_count < 1_000_000

    with pytest.raises(DatabaseError) as info:
        client.query(
            "SELECT sum(number) FROM numbers(100000000000)", settings={"max_execution_time": 1}
        )
    assert "TIMEOUT_EXCEEDED" in str(info.value)

    with pytest.raises(DatabaseError) as info:
        client.query("SELECT 1", settings={"no_such_setting_anywhere": 1})
    assert "UNKNOWN_SETTING" in str(info.value)

    with session_lock:
        state = session.query(
            "SELECT getSetting('max_result_rows'), getSetting('result_overflow_mode'), getSetting('max_execution_time')",
            "TabSeparated",
        ).bytes()
    assert state == b"0\tthrow\t0\n"
    assert client.query("SELECT number FROM numbers(1000)").row_count == 1000


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT getSetting('max_result_rows')",  # URL settings ride in a SETTINGS clause
        "SELECT getSetting('max_result_rows') SETTINGS max_threads = 1",  # SET and restore
        "SELECT getSetting('max_result_rows') AS max_result_rows",  # names the setting: SET
    ],
)
def test_settings_paths_agree(
    client: Client, session: chdb.session.Session, session_lock: threading.Lock, sql: str
) -> None:
    assert client.command(sql, settings={"max_result_rows": 7}) == 7
    assert client.command(sql, settings={"max_result_rows": 7, "readonly": 2}) == 7
    with session_lock:
        assert session.query("SELECT getSetting('max_result_rows')", "CSV").bytes() == b"0\n"


def test_query_settings_win_over_url_settings(client: Client) -> None:
    sql = "SELECT getSetting('max_threads') SETTINGS max_threads = 3"
    assert client.command(sql, settings={"max_threads": 5}) == 3
    assert client.command("SELECT getSetting('max_threads')", settings={"max_threads": 5}) == 5
    assert (
        client.command(
            "CREATE TABLE IF NOT EXISTS ddl_settings (x Int8) ENGINE = Memory",
            settings={"max_threads": 5},
        ).written_rows
        == 0
    )


def test_database_argument(
    server: ChdbHttpServer,
    client: Client,
    session: chdb.session.Session,
    session_lock: threading.Lock,
) -> None:
    client.command("CREATE DATABASE IF NOT EXISTS other_db")
    client.command("CREATE TABLE IF NOT EXISTS other_db.only_here (x Int8) ENGINE = Memory")
    cli = clickhouse_connect.get_client(host="127.0.0.1", port=server.port, database="other_db")
    try:
        cli.insert("only_here", [[5]], column_names=["x"])
        assert cli.command("SELECT sum(x) FROM only_here") == 5
        assert cli.command("SELECT currentDatabase()") == "other_db"
    finally:
        cli.close()
    with session_lock:
        current = session.query("SELECT currentDatabase()", "TabSeparated").bytes()
    assert current == b"default\n"


def test_shared_lock_with_concurrent_clients(
    server: ChdbHttpServer, session: chdb.session.Session, session_lock: threading.Lock
) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        cli = clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
        try:
            for i in range(10):
                assert cli.query(
                    "SELECT {n:Int32} + {i:Int32}", parameters={"n": n, "i": i}
                ).result_rows == [(n + i,)]
        except BaseException as ex:  # reported by the main thread
            errors.append(ex)
        finally:
            cli.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for _ in range(10):
        assert _count(session, session_lock, "SELECT 1") == 1
    for thread in threads:
        thread.join()
    assert errors == []


def test_malformed_requests_do_not_kill_the_server(server: ChdbHttpServer) -> None:
    for payload in (
        b"GARBAGE\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /?query=SELECT%201 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
    ):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
    status, _, body = _http(server, "/", data=b"")
    assert status == 400 and b"Empty query" in body
    status, _, _ = _http(server, "/nope")
    assert status == 404
    assert _http(server, "/ping")[2] == b"Ok.\n"
    assert _http(server, "/?query=SELECT+2")[2] == b"2\n"


def test_stop_and_restart(session: chdb.session.Session, session_lock: threading.Lock) -> None:
    srv = ChdbHttpServer(session, lock=session_lock)
    with pytest.raises(RuntimeError):
        _ = srv.url
    srv.start()
    port = srv.port
    assert _http(srv, "/ping")[2] == b"Ok.\n"
    srv.stop()
    srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
