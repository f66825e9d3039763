"""`posguard ingest`: run the terminal adapters alone (cluster mode)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posguard.console.settings import Settings

INGEST_SETTINGS = ("data", "config", "kafka", "topic_prefix", "log_level")

HTTP_HELP = ("serve GET /api/health (no authentication) and GET /metrics (Prometheus text; "
             "the API token as bearer when DATA/api-token exists) on HOST:PORT, e.g. "
             "127.0.0.1:8710 (HOST defaults to 127.0.0.1); off unless given. Only this flag "
             "turns it on: POSGUARD_HTTP is the console's address")


def config_path(settings: Settings) -> Path:
    """The node's TOML file: --config, or DATA/posguard.toml."""
    return Path(settings.config) if settings.config else settings.data / "posguard.toml"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser(
        "ingest", help="run the terminal adapters alone (cluster mode)",
        description="Listen for terminals (DSSL XML, JSON, printer text over TCP/UDP) as "
        "registered in the config file's [[terminals]] and [ingest] tables, and publish "
        "their events to --kafka. Events are spooled under DATA while Kafka is away. "
        "HTTP ingest (POST /api/ingest) is served by the node's API, not by this command.")
    p.add_argument("--http", metavar="HOST:PORT", default=None, help=HTTP_HELP)
    add_setting_flags(p, *INGEST_SETTINGS)
    p.set_defaults(func=run)


def ingest_probe(service: Any, settings: Settings) -> Any:
    """What `posguard ingest --http` reports: the adapters' and publisher's counters; Kafka
    counts as reachable while the publisher sends straight to it (not spooling)."""
    from posguard.console.probe_api import ProcessProbe, read_token

    def reachable() -> bool | None:
        pub = service.publisher
        return None if pub is None else pub.mode == "direct"

    def details() -> dict[str, Any]:
        pub = service.publisher
        problems = []
        if pub is not None and pub.full:
            problems.append("the spool is full: new input is refused")
        return {"publisher": pub.mode if pub is not None else "stopped",
                "listeners": sorted(f"{t}:{p}" for t, p in service.ports()),
                "problems": problems}

    return ProcessProbe("ingest", service.bootstrap, {"ingest": service.metrics},
                        kafka_reachable=reachable, details=details, token=read_token(settings.token_file))


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from posguard.console.errors import SettingsError
    from posguard.ingest.service import IngestService
    from posguard.streams.topics import Topics

    if not settings.kafka:
        raise SettingsError("posguard ingest needs --kafka (or POSGUARD_KAFKA)")
    service = IngestService(settings.kafka, Topics(settings.topic_prefix), settings.data,
                            config_path(settings), kafka_config=dict(settings.kafka_config))
    server = None
    if args.http is not None:
        from posguard.console.probe_api import serve_probe

        server = serve_probe(ingest_probe(service, settings), args.http)
    try:
        asyncio.run(service.run_until_signal())
    finally:
        if server is not None:
            server.stop()
    return 0
