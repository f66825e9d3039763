"""`posguard simulate`: publish realistic chain traffic to pos.events."""

from __future__ import annotations

import argparse

from posguard.console.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser("simulate", help="publish simulated receipts",
                       description="Publish receipts of a simulated chain straight to "
                       "pos.events at a steady rate.")
    p.add_argument("--stores", type=int, default=3)
    p.add_argument("--terminals", type=int, default=4, help="terminals per store")
    p.add_argument("--rate", type=float, default=100.0, help="events per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds (0 = until Ctrl-C)")
    p.add_argument("--fraud-rate", type=float, default=0.05,
                   help="share of receipts with a suspicious pattern")
    p.add_argument("--seed", type=int, default=1)
    add_setting_flags(p, "kafka", "topic_prefix", "config", "data")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.errors import SettingsError
    from posguard.ingest.publisher import EventPublisher
    from posguard.ingest.simulator import ChainSimulator, run_simulation
    from posguard.streams.topics import Topics

    if not settings.kafka:
        raise SettingsError("posguard simulate needs --kafka: the broker of the running node "
                            "(printed by `posguard up`)")
    pub = EventPublisher(settings.kafka, Topics(settings.topic_prefix))
    sim = ChainSimulator(args.stores, args.terminals, seed=args.seed, fraud_rate=args.fraud_rate)
    try:
        n = run_simulation(pub.publish, sim, args.rate, args.duration)
    finally:
        left = pub.flush(30)
    print(f"published {n} events ({left} unacknowledged)")
    return 0 if left == 0 and pub.failed == 0 else 1
