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
    p.add_argument("--protocol", choices=("kafka", "dssl-xml", "json", "text"),
                   default="kafka", help="kafka = publish straight to pos.events; else send "
                   "to the node's listeners in that terminal protocol")
    p.add_argument("--transport", choices=("tcp", "udp", "http"), default="tcp")
    p.add_argument("--target", default="127.0.0.1:5000",
                   help="listener host:port (tcp/udp) or the node's API URL (http)")
    add_setting_flags(p, "kafka", "topic_prefix", "config", "data", "api", "http")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.protocol != "kafka":
        return run_terminals(args, settings)
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


class TerminalSender:
    """Sends encoded events the way a terminal would: one TCP stream per terminal, one UDP
    datagram per document, or JSON batches to POST /api/ingest."""

    def __init__(self, protocol: str, transport: str, target: str):
        import socket

        self.protocol, self.transport, self.target = protocol, transport, target
        self._socket = socket
        self._streams: dict[str, object] = {}
        self._batch: list[object] = []
        host, _, port = target.rpartition(":")
        self.addr = (host or "127.0.0.1", int(port)) if transport != "http" else None

    def send(self, ev: object) -> None:
        from posguard.ingest.encoders import encode_events

        if self.transport == "http":
            self._batch.append(ev)
            if len(self._batch) >= 200:
                self.flush()
            return
        data = encode_events(self.protocol, [ev], with_guid=True)  # type: ignore[list-item]
        if self.transport == "udp":
            with self._socket.socket(self._socket.AF_INET, self._socket.SOCK_DGRAM) as u:
                u.sendto(data, self.addr)
            return
        term = ev.pos_terminal  # type: ignore[attr-defined]
        conn = self._streams.get(term)
        if conn is None:
            conn = self._streams[term] = self._socket.create_connection(self.addr, 10)
        conn.sendall(data)  # type: ignore[attr-defined]

    def flush(self) -> None:
        if self.transport != "http" or not self._batch:
            return
        import httpx

        from posguard.console.errors import ApiError
        from posguard.ingest.encoders import to_ndjson

        body = b"[" + b",".join(to_ndjson(e).strip() for e in self._batch) + b"]"  # type: ignore[arg-type]
        self._batch.clear()
        r = httpx.post(self.target.rstrip("/") + "/api/ingest", content=body,
                       headers={"Content-Type": "application/json"}, timeout=30)
        if r.status_code != 200:
            raise ApiError(f"POST /api/ingest: HTTP {r.status_code}: {r.text[:500]}")

    def close(self) -> None:
        self.flush()
        for conn in self._streams.values():
            conn.close()  # type: ignore[attr-defined]


def run_terminals(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.errors import SettingsError
    from posguard.ingest.simulator import ChainSimulator, run_simulation

    if args.transport == "http" and args.protocol != "json":
        raise SettingsError("--transport http carries --protocol json")
    if args.protocol == "text" and args.stores * args.terminals != 1:
        raise SettingsError("printer text names no terminal: simulate one (--stores 1 "
                            "--terminals 1) against a text port whose terminal uses grocer-en")
    target = args.target if args.transport != "http" or "://" in args.target \
        else settings.api_url
    sender = TerminalSender(args.protocol, args.transport, target)
    sim = ChainSimulator(args.stores, args.terminals, seed=args.seed, fraud_rate=args.fraud_rate)
    try:
        n = run_simulation(sender.send, sim, args.rate, args.duration)
    finally:
        sender.close()
    print(f"sent {n} events as {args.protocol} over {args.transport} to {target}")
    return 0
