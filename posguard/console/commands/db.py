"""`posguard db init|migrate`: create or update the ClickHouse schema (one server or a cluster)."""

from __future__ import annotations

import argparse

from posguard.console.settings import Settings

DB_SETTINGS = ("data", "config", "clickhouse", "database", "log_level")


def _retention(value: str) -> int:
    from posguard.store.cluster import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS

    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {value!r}") from None
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be {MIN_RETENTION_DAYS}..{MAX_RETENTION_DAYS} days, not {days}")
    return days


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser("db", help="create or update the ClickHouse schema",
                       description="Create or update posguard's tables on --clickhouse (a "
                       "server, or with --cluster every server of a cluster), or in the "
                       "embedded chDB store under --data.")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = dsub.add_parser(
        "init", help="create the schema (idempotent), optionally with retention",
        description="Create the database and tables and apply every migration. With "
        "--cluster: ReplicatedMergeTree tables `<name>_local` on every shard and Distributed "
        "tables `<name>` over them (sharded by terminal), all ON CLUSTER.")
    migrate = dsub.add_parser(
        "migrate", help="apply the migrations not applied yet",
        description="Apply the versioned migrations not applied yet (recorded in "
        "schema_migrations); with --cluster, ON CLUSTER.")
    for q in (init, migrate):
        q.add_argument("--cluster", default=None, metavar="NAME",
                       help="cluster name from the servers' remote_servers (omit on a single "
                       "server or chDB)")
        add_setting_flags(q, *DB_SETTINGS)
    init.add_argument("--retention-days", type=_retention, default=None, metavar="N",
                      help="delete rows older than N days (1..1000) by TTL; omitted = keep "
                      "the current retention")
    init.set_defaults(func=run_init)
    migrate.set_defaults(func=run_migrate)


def _backend(settings: Settings):  # type: ignore[no-untyped-def]

    return settings.open_store(migrate=False)


def _where(settings: Settings, cluster: str | None) -> str:
    target = settings.clickhouse.rpartition("@")[2] if settings.clickhouse else (
        f"chDB under {settings.data}")
    return f"{target} database {settings.database}" + (f" cluster {cluster}" if cluster else "")


def _report(applied: list[int], where: str) -> None:
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))} on {where}")
    else:
        print(f"schema up to date on {where}")


def run_init(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.store.cluster import apply_retention, init_cluster
    from posguard.store.migrations import migrate
    from posguard.store.users import ensure_users_table

    _check_cluster_needs_server(args, settings)
    backend = _backend(settings)
    try:
        where = _where(settings, args.cluster)
        if args.cluster:
            applied = init_cluster(backend, args.cluster, args.retention_days)
        else:
            applied = migrate(backend)
            ensure_users_table(backend)
            if args.retention_days is not None:
                apply_retention(backend, args.retention_days)
        _report(applied, where)
        if args.retention_days is not None:
            print(f"retention {args.retention_days} days")
    finally:
        backend.close()
    return 0


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.store.cluster import migrate_cluster
    from posguard.store.migrations import migrate

    _check_cluster_needs_server(args, settings)
    backend = _backend(settings)
    try:
        applied = migrate_cluster(backend, args.cluster) if args.cluster else migrate(backend)
        _report(applied, _where(settings, args.cluster))
    finally:
        backend.close()
    return 0


def _check_cluster_needs_server(args: argparse.Namespace, settings: Settings) -> None:
    from posguard.console.errors import SettingsError
    from posguard.store.cluster import check_cluster_name

    if args.cluster:
        check_cluster_name(args.cluster)
    if args.cluster and not settings.clickhouse:
        raise SettingsError("--cluster needs --clickhouse (the embedded chDB is one server)")
