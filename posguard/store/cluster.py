"""The schema on a ClickHouse cluster: the same migrations turned into cluster DDL.

Each `CREATE TABLE {db}.name ... ENGINE = XMergeTree(args)` of `schema.MIGRATIONS` becomes
two tables, both created `ON CLUSTER`:

- `{db}.name_local` on every server: `ReplicatedXMergeTree('/clickhouse/tables/{shard}/<db>/
  name', '{replica}', args)` with the same columns, indexes, PARTITION BY, ORDER BY and
  SETTINGS (plus a retention TTL when asked);
- `{db}.name`, a Distributed table over the local ones, sharded by `cityHash64(pos_terminal)`
  (`terminal_guid` for incidents; the row's id where a table has no terminal).

The Distributed table keeps the original name, so every query of store/, reports/ and the
scripts runs unchanged, FINAL included: rows that replace each other share their terminal (or
id), so they land on the same shard and each shard's FINAL sees all of them. Plain views keep
reading `{db}.name`, which is now the Distributed table; materialized views are triggered by
inserts into the local tables, so they are rewritten to read `name_local` and write `TO
target_local`.

Bookkeeping tables every server must see whole (schema_migrations, users) are replicated to
all servers: one ZooKeeper path for the whole cluster (`/clickhouse/tables/all/...`) and the
replica name `{shard}-{replica}`.

The generation functions are pure; `init_cluster` / `migrate_cluster` apply them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from posguard.store.backends.base import Backend
from posguard.store.errors import ClusterDDLError
from posguard.store.schema import MIGRATIONS, Migration

__all__ = [
    "ClusterDDLError", "ClusterTable", "LOCAL_SUFFIX", "MIN_RETENTION_DAYS",
    "MAX_RETENTION_DAYS", "cluster_migrations", "cluster_bootstrap", "retention_statements",
    "plain_retention_statements", "init_cluster", "check_cluster_name", "migrate_cluster", "apply_retention",
    "tables_of",
]

log = logging.getLogger(__name__)

LOCAL_SUFFIX = "_local"
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 1000  # the reference products offer 1 to 1000 days
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Sharding key candidates, in order: a terminal's rows stay on one shard (and so do the
# versions of one incident), else a row's own id.
_SHARD_COLUMNS = ("pos_terminal", "terminal_guid", "id", "event_id", "receipt_id")
# Retention column when PARTITION BY does not name one: integer microseconds, newest meaning.
_TIME_COLUMNS = ("ts_received", "ts_created", "ts_close", "ts")

_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?\{db\}\.(?P<name>\w+)\s*"
    r"\((?P<body>.*)\)\s*ENGINE\s*=\s*(?P<engine>\w+)\s*(?:\((?P<args>[^)]*)\))?"
    r"(?P<rest>.*)$", re.S | re.I)
_CREATE_VIEW = re.compile(
    r"^\s*CREATE\s+(?P<head>(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?)"
    r"\{db\}\.(?P<name>\w+)(?P<rest>\s.*)$", re.S | re.I)
_CREATE_MV = re.compile(
    r"^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?"
    r"\{db\}\.(?P<name>\w+)\s+TO\s+\{db\}\.(?P<target>\w+)(?P<rest>\s.*)$", re.S | re.I)
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+\{db\}\.(?P<name>\w+)\s+(?P<rest>.*)$", re.S | re.I)
_DROP = re.compile(
    r"^\s*DROP\s+(?P<kind>TABLE|VIEW)\s+(?P<ie>IF\s+EXISTS\s+)?\{db\}\.(?P<name>\w+)\s*$",
    re.S | re.I)
_COLUMN_CHANGE = re.compile(r"^\s*(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_TS_PARTITION = re.compile(r"PARTITION\s+BY\s+.*?fromUnixTimestamp64\w*\(\s*(\w+)\s*\)",
                           re.S | re.I)
_SETTINGS = re.compile(r"\bSETTINGS\b", re.I)
_NOT_COLUMNS = {"INDEX", "PROJECTION", "CONSTRAINT"}


@dataclass(frozen=True)
class ClusterTable:
    """A table of the schema as the cluster holds it.

    Attributes:
        name: the original (and Distributed) table name.
        columns: its column names, in order.
        shard_key: the Distributed sharding expression.
        ttl_column: the microsecond time column retention applies to ('' = none).
    """

    name: str
    columns: tuple[str, ...]
    shard_key: str
    ttl_column: str


def _check_name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise ClusterDDLError(f"bad {kind} name {value!r}: letters, digits and _ only")
    return value


def check_cluster_name(name: str) -> str:
    """The name, when it is a plain identifier (it is written into DDL, never a parameter).

    Raises:
        ClusterDDLError: anything but letters, digits and _.
    """
    return _check_name("cluster", name)


def _check_days(days: int) -> int:
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise ClusterDDLError(
            f"retention must be {MIN_RETENTION_DAYS}..{MAX_RETENTION_DAYS} days, not {days}")
    return days


def _columns(body: str) -> tuple[str, ...]:
    """Column names of a CREATE TABLE body (top-level comma-separated items)."""
    items: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur))
    names = []
    for item in items:
        words = item.split()
        if words and words[0].upper() not in _NOT_COLUMNS:
            names.append(words[0].strip("`"))
    return tuple(names)


def _table_of(m: re.Match[str]) -> ClusterTable:
    name, columns = m["name"], _columns(m["body"])
    key = next((c for c in _SHARD_COLUMNS if c in columns), "")
    ts = _TS_PARTITION.search(m["rest"])
    ttl = ts[1] if ts and ts[1] in columns else next(
        (c for c in _TIME_COLUMNS if c in columns), "")
    return ClusterTable(name, columns, f"cityHash64({key})" if key else "rand()", ttl)


def _ttl(column: str, days: int) -> str:
    # TTL needs a Date/DateTime; the schema keeps integer microseconds.
    return f"toDateTime(intDiv({column}, 1000000)) + toIntervalDay({days})"


def _with_ttl(rest: str, table: ClusterTable, days: int | None) -> str:
    if days is None or not table.ttl_column:
        return rest
    clause = f"\n        TTL {_ttl(table.ttl_column, days)}\n        "
    s = _SETTINGS.search(rest)
    if s is None:
        return rest.rstrip() + clause
    return rest[:s.start()].rstrip() + clause + rest[s.start():]


def _table_ddl(m: re.Match[str], cluster: str, days: int | None) -> tuple[ClusterTable,
                                                                          list[str]]:
    table = _table_of(m)
    engine = m["engine"]
    if not engine.endswith("MergeTree") or engine.startswith("Replicated"):
        raise ClusterDDLError(f"table {table.name}: engine {engine} has no replicated form here")
    ine = "IF NOT EXISTS " if m["ine"] else ""
    args = ", ".join(a for a in (f"'/clickhouse/tables/{{shard}}/{{db}}/{table.name}'",
                                 "'{replica}'", (m["args"] or "").strip()) if a)
    local = (f"CREATE TABLE {ine}{{db}}.{table.name}{LOCAL_SUFFIX} ON CLUSTER {cluster} "
             f"({m['body']}) ENGINE = Replicated{engine}({args}) "
             f"{_with_ttl(m['rest'], table, days).lstrip()}")
    dist = (f"CREATE TABLE {ine}{{db}}.{table.name} ON CLUSTER {cluster} "
            f"AS {{db}}.{table.name}{LOCAL_SUFFIX} "
            f"ENGINE = Distributed({cluster}, {{db}}, {table.name}{LOCAL_SUFFIX}, "
            f"{table.shard_key})")
    return table, [local, dist]


def _local_refs(sql: str, tables: Iterable[str]) -> str:
    for t in tables:
        sql = re.sub(rf"\{{db\}}\.{t}\b", f"{{db}}.{t}{LOCAL_SUFFIX}", sql)
    return sql


def _statement(stmt: str, cluster: str, tables: dict[str, ClusterTable],
               days: int | None) -> list[str]:
    if m := _CREATE_TABLE.match(stmt):
        table, ddl = _table_ddl(m, cluster, days)
        tables[table.name] = table
        return ddl
    if m := _CREATE_MV.match(stmt):
        ine = "IF NOT EXISTS " if m["ine"] else ""
        target = m["target"]
        if target not in tables:
            raise ClusterDDLError(f"materialized view {m['name']}: target {target} unknown")
        return [f"CREATE MATERIALIZED VIEW {ine}{{db}}.{m['name']} ON CLUSTER {cluster} "
                f"TO {{db}}.{target}{LOCAL_SUFFIX}{_local_refs(m['rest'], tables)}"]
    if re.match(r"^\s*CREATE\s+MATERIALIZED\s+VIEW", stmt, re.I):
        raise ClusterDDLError("a materialized view needs TO {db}.table on a cluster")
    if m := _CREATE_VIEW.match(stmt):
        # Plain views read {db}.name: on the cluster that is the Distributed table.
        return [f"CREATE {m['head']}{{db}}.{m['name']} ON CLUSTER {cluster}{m['rest']}"]
    if m := _ALTER.match(stmt):
        name, rest = m["name"], m["rest"]
        if name not in tables:
            raise ClusterDDLError(f"ALTER of {name}, which is not a table of the schema")
        out = [f"ALTER TABLE {{db}}.{name}{LOCAL_SUFFIX} ON CLUSTER {cluster} {rest}"]
        if _COLUMN_CHANGE.match(rest):  # the Distributed table mirrors the columns
            out.append(f"ALTER TABLE {{db}}.{name} ON CLUSTER {cluster} {rest}")
        return out
    if m := _DROP.match(stmt):
        ie = "IF EXISTS " if m["ie"] else ""
        name = m["name"]
        out = [f"DROP {m['kind'].upper()} {ie}{{db}}.{name} ON CLUSTER {cluster} SYNC"]
        if m["kind"].upper() == "TABLE" and name in tables:
            out.append(f"DROP TABLE {ie}{{db}}.{name}{LOCAL_SUFFIX} ON CLUSTER {cluster} SYNC")
            tables.pop(name)
        return out
    raise ClusterDDLError(f"no cluster form for statement: {stmt.strip()[:80]}...")


def cluster_migrations(cluster: str, retention_days: int | None = None,
                       migrations: Sequence[Migration] = MIGRATIONS) -> tuple[Migration, ...]:
    """The migrations as cluster DDL, same versions and names, `{db}` still a placeholder.

    Args:
        cluster: the cluster's name in the servers' `remote_servers`.
        retention_days: TTL of the local tables' rows (1..1000), None = keep forever.
        migrations: the single-server migrations to translate (default: the schema's).

    Raises:
        ClusterDDLError: a bad name or retention, or a statement with no cluster form.
    """
    _check_name("cluster", cluster)
    if retention_days is not None:
        _check_days(retention_days)
    tables: dict[str, ClusterTable] = {}
    out = []
    for m in migrations:
        stmts: list[str] = []
        for s in m.statements:
            stmts += _statement(s, cluster, tables, retention_days)
        out.append(Migration(m.version, m.name, tuple(stmts)))
    return tuple(out)


def tables_of(migrations: Sequence[Migration] = MIGRATIONS) -> dict[str, ClusterTable]:
    """The tables the migrations leave, by name (columns, sharding key, retention column)."""
    tables: dict[str, ClusterTable] = {}
    for m in migrations:
        for s in m.statements:
            _statement(s, "c", tables, None)
    return tables


def _global_table(sql: str, cluster: str) -> str:
    """A bookkeeping table every server holds whole: one replica path for the cluster."""
    m = _CREATE_TABLE.match(sql)
    if m is None:
        raise ClusterDDLError(f"not a CREATE TABLE: {sql[:80]}")
    args = ", ".join(a for a in (f"'/clickhouse/tables/all/{{db}}/{m['name']}'",
                                 "'{shard}-{replica}'", (m["args"] or "").strip()) if a)
    ine = "IF NOT EXISTS " if m["ine"] else ""
    return (f"CREATE TABLE {ine}{{db}}.{m['name']} ON CLUSTER {cluster} ({m['body']}) "
            f"ENGINE = Replicated{m['engine']}({args}) {m['rest'].lstrip()}")


class _Recorder:
    """A Backend stand-in that keeps the DDL a store function would run (no engine)."""

    database = "{db}"

    def __init__(self) -> None:
        self.statements: list[str] = []

    def command(self, sql: str, *_: object, **__: object) -> None:
        self.statements.append(sql)


def cluster_bootstrap(cluster: str) -> tuple[str, ...]:
    """DDL run before the migrations: the database, schema_migrations and users, ON CLUSTER."""
    from posguard.store.users import ensure_users_table

    _check_name("cluster", cluster)
    rec = _Recorder()
    ensure_users_table(rec)  # type: ignore[arg-type]  # the users DDL has one home: users.py
    return (
        f"CREATE DATABASE IF NOT EXISTS {{db}} ON CLUSTER {cluster}",
        _global_table("CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
                      "(version UInt32, name String, applied_at Int64) "
                      "ENGINE = ReplacingMergeTree ORDER BY version", cluster),
        *(_global_table(s, cluster) for s in rec.statements),
    )


def retention_statements(cluster: str, days: int,
                         migrations: Sequence[Migration] = MIGRATIONS) -> tuple[str, ...]:
    """`ALTER TABLE ..._local ON CLUSTER ... MODIFY TTL` for every table with a time column."""
    _check_name("cluster", cluster)
    _check_days(days)
    return tuple(
        f"ALTER TABLE {{db}}.{t.name}{LOCAL_SUFFIX} ON CLUSTER {cluster} "
        f"MODIFY TTL {_ttl(t.ttl_column, days)}"
        for t in tables_of(migrations).values() if t.ttl_column)


def plain_retention_statements(days: int,
                               migrations: Sequence[Migration] = MIGRATIONS) -> tuple[str, ...]:
    """The same TTLs on a single server (or chDB): the tables under their own names."""
    _check_days(days)
    return tuple(f"ALTER TABLE {{db}}.{t.name} MODIFY TTL {_ttl(t.ttl_column, days)}"
                 for t in tables_of(migrations).values() if t.ttl_column)


def _run(backend: Backend, sql: str) -> None:
    backend.command(sql.replace("{db}", backend.database))


def migrate_cluster(backend: Backend, cluster: str,
                    migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every cluster migration not applied yet (recorded in the replicated
    schema_migrations, so any server answers which ones ran).

    Returns:
        The versions applied by this call.
    """
    _check_name("database", backend.database)
    for sql in cluster_bootstrap(cluster):
        _run(backend, sql)
    done = {int(r[0]) for r in backend.query(
        f"SELECT version FROM {backend.database}.schema_migrations").rows}
    applied = []
    for m in cluster_migrations(cluster, None, migrations):
        if m.version in done:
            continue
        for sql in m.statements:
            _run(backend, sql)
        backend.insert(f"{backend.database}.schema_migrations", ("version", "name", "applied_at"),
                       [[m.version], [m.name], [int(time.time() * 1_000_000)]])
        log.info("applied migration %d on cluster %s: %s", m.version, cluster, m.name)
        applied.append(m.version)
    return applied


def apply_retention(backend: Backend, days: int, cluster: str | None = None,
                    migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Set the rows' time to live on every table with a time column (cluster or single)."""
    stmts = (retention_statements(cluster, days, migrations) if cluster
             else plain_retention_statements(days, migrations))
    for sql in stmts:
        _run(backend, sql)


def init_cluster(backend: Backend, cluster: str, retention_days: int | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Create (or bring up to date) the schema on a cluster, then set retention if asked."""
    if retention_days is not None:
        _check_days(retention_days)
    applied = migrate_cluster(backend, cluster, migrations)
    if retention_days is not None:
        apply_retention(backend, retention_days, cluster, migrations)
    return applied
