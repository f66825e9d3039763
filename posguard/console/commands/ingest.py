"""`posguard ingest`: run the terminal adapters alone (cluster mode)."""

from __future__ import annotations

import argparse
from pathlib import Path

from posguard.console.settings import Settings

INGEST_SETTINGS = ("data", "config", "kafka", "topic_prefix", "log_level")


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
    add_setting_flags(p, *INGEST_SETTINGS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from posguard.console.errors import SettingsError
    from posguard.ingest.service import IngestService
    from posguard.streams.topics import Topics

    if not settings.kafka:
        raise SettingsError("posguard ingest needs --kafka (or POSGUARD_KAFKA)")
    service = IngestService(settings.kafka, Topics(settings.topic_prefix), settings.data,
                            config_path(settings), kafka_config=dict(settings.kafka_config))
    asyncio.run(service.run_until_signal())
    return 0
