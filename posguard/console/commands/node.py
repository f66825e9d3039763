"""`posguard up` (the embedded node) and `posguard worker` (cluster-mode worker)."""

from __future__ import annotations

import argparse
from pathlib import Path

from posguard.console.settings import Settings

NODE_SETTINGS = ("data", "config", "kafka", "clickhouse", "database", "http", "partitions",
                 "replication", "topic_prefix", "app_id", "session_timeout", "rebalance_timeout",
                 "cross_terminal_lateness_ms", "sink_batch", "producer_batch_bytes", "demo_rate", "demo_stores",
                 "demo_terminals", "log_level")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    up = sub.add_parser("up", help="start the embedded node (broker, worker, sink, API)",
                        description="Start a whole posguard node in this process. Without "
                        "--kafka it starts an embedded broker; without --clickhouse it stores "
                        "in chDB under --data.")
    up.add_argument("--demo", action="store_true", help="publish simulated chain traffic")
    up.add_argument("--scripts", type=Path, metavar="DIR",
                    help="run every user script (*.py) in DIR inside the node")
    add_setting_flags(up, *NODE_SETTINGS)
    up.set_defaults(func=run_up)

    worker = sub.add_parser("worker", help="run a worker: Faust agents and the ClickHouse sink",
                            description="Cluster mode: consume pos.events from --kafka, run "
                            "the agents and store into --clickhouse (or chDB under --data).")
    worker.add_argument("--no-sink", action="store_true", help="run only the Faust agents")
    worker.add_argument("--no-agents", action="store_true", help="run only the sink")
    worker.add_argument("--api", action="store_true",
                        help="serve /api/health and /metrics (and the API) on --http")
    add_setting_flags(worker, *NODE_SETTINGS)
    worker.set_defaults(func=run_worker)

    console = sub.add_parser("console", help="serve the HTTP API and web console alone",
                             description="Cluster mode: serve the API and operator pages over "
                             "--clickhouse, with --kafka for detector configuration.")
    add_setting_flags(console, *NODE_SETTINGS)
    console.set_defaults(func=run_console)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.node import Node

    if args.scripts is not None and not args.scripts.is_dir():
        from posguard.console.errors import SettingsError

        raise SettingsError(f"--scripts {args.scripts}: not a folder")
    return Node(settings, demo=args.demo, scripts=args.scripts).run()


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.errors import SettingsError
    from posguard.console.node import Node

    if not settings.kafka:
        raise SettingsError("posguard worker needs --kafka (or POSGUARD_KAFKA)")
    return Node(settings, agents=not args.no_agents, sink=not args.no_sink, api=args.api,
                ingest=False).run()


def run_console(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.errors import SettingsError
    from posguard.console.node import Node

    if not settings.kafka:
        raise SettingsError("posguard console needs --kafka (or POSGUARD_KAFKA)")
    return Node(settings, agents=False, sink=False, ingest=False).run()
