"""`posguard script run FILE.py` and `posguard scripts --dir DIR`: the script host alone.

Both connect to the deployment's Kafka (--kafka, or the running embedded node's broker as its
API reports it) and, for searches, reports and archive runs, to ClickHouse (--clickhouse; the
embedded chDB store belongs to the node process, so without --clickhouse those functions
report that there is no store: run the scripts inside the node with `posguard up --scripts
DIR` instead). message/alert/error reach the node's console when its API answers, and the
log always.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from posguard.console.commands.ingest import HTTP_HELP
from posguard.console.settings import Settings

log = logging.getLogger(__name__)

SCRIPT_SETTINGS = ("data", "config", "kafka", "clickhouse", "database", "api", "topic_prefix",
                   "session_timeout", "log_level")


def _add_host_flags(p: argparse.ArgumentParser) -> None:
    from posguard.console.cli import add_setting_flags

    p.add_argument("--tz", default="", metavar="ZONE",
                   help="IANA timezone of the scripts' local time (time.localtime); "
                   "default: this machine's")
    p.add_argument("--workdir", type=Path, default=None,
                   help="folder relative file names in scripts resolve against "
                   "(default: each script's folder)")
    p.add_argument("--queue-size", type=int, default=10_000,
                   help="events queued per script before the oldest are dropped")
    p.add_argument("--http", metavar="HOST:PORT", default=None,
                   help=HTTP_HELP + "; --api still names where the console is")
    add_setting_flags(p, *SCRIPT_SETTINGS)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    script = sub.add_parser("script", help="run one user script",
                            description="Run a script written against the ActivePOS scripting "
                            "API until Ctrl-C (which runs its finalizers).")
    ssub = script.add_subparsers(dest="script_command", metavar="ACTION")
    run = ssub.add_parser("run", help="run FILE.py until Ctrl-C")
    run.add_argument("file", type=Path, metavar="FILE.py")
    _add_host_flags(run)
    run.set_defaults(func=run_one)

    many = sub.add_parser("scripts", help="run every script of a folder (cluster mode)",
                          description="Run every *.py of --dir, each isolated (own thread, "
                          "queue and consumer group posguard.script.<name>), until Ctrl-C.")
    many.add_argument("--dir", type=Path, required=True, help="folder of *.py scripts")
    _add_host_flags(many)
    many.set_defaults(func=run_dir)


def _bootstrap(settings: Settings) -> str:
    if settings.kafka:
        return settings.kafka
    from posguard.console.client import ApiClient
    from posguard.console.errors import SettingsError

    try:
        kafka = ApiClient(settings, timeout=10).get("/api/health").get("kafka", "")
    except Exception as e:
        raise SettingsError(f"no --kafka given and no running node to ask ({e})") from None
    if not kafka:
        raise SettingsError("no --kafka given and the node did not report its broker")
    return str(kafka)


def _notifier(settings: Settings) -> Any:
    from posguard.scripting.services import log_notify

    try:
        from posguard.console.client import ApiClient

        client = ApiClient(settings, timeout=5)
    except Exception:
        return log_notify

    def notify(level: str, text: str, source: str) -> None:
        log_notify(level, text, source)
        try:
            client.post("/api/notifications", json={"level": level, "text": text[:4000],
                                                    "source": source[:200]})
        except Exception as e:  # the console being away is logged, not fatal
            log.debug("notification not posted: %s", e)

    return notify


def _host(args: argparse.Namespace, settings: Settings) -> Any:
    from posguard.scripting import ScriptHost, ScriptServices, node_config_file
    from posguard.scripting.clock import ScriptClock
    from posguard.scripting.services import registry_access
    from posguard.streams.topics import Topics

    backend = None
    if settings.clickhouse:

        backend = settings.open_store(migrate=False)
    kafka_config = dict(settings.kafka_config)
    consumer = {"session.timeout.ms": int(settings.session_timeout * 1000), **kafka_config}
    registered, zones = registry_access(node_config_file(settings))
    services = ScriptServices.connect(
        _bootstrap(settings), Topics(settings.topic_prefix), backend, notify=_notifier(settings),
        kafka_config=kafka_config, consumer_config=consumer, clock=ScriptClock(tz=args.tz),
        queue_size=args.queue_size, workdir=args.workdir, terminal_exists=registered,
        zones=zones)
    if backend is not None:
        services.closers.append(backend.close)
    return ScriptHost(services)


class ScriptLag:
    """Consumer lag of the scripts' groups (`posguard.script.<name>`, of the scripts that
    read Kafka), from a LagMonitor rebuilt when that set of groups changes. Topics come from
    the groups' commits (a feed starts at the end, so there is no backlog before one)."""

    def __init__(self, host: Any):
        self.host = host
        self._monitor: Any = None

    def groups(self) -> dict[str, tuple[str, ...]]:
        prefix = self.host.services.group_prefix
        return {f"{prefix}{s.name}": () for s in list(self.host.scripts.values())
                if s.feed is not None}

    def snapshot(self) -> Any:
        """The LagSnapshot, or None when no script reads Kafka."""
        from posguard.streams.consumer_lag import LagMonitor

        groups = self.groups()
        if not groups:
            return None
        if self._monitor is None or self._monitor.groups != groups:
            s = self.host.services
            self._monitor = LagMonitor(s.bootstrap, groups, s.consumer_config, timeout=2.0)
        return self._monitor.snapshot()

    def reachable(self) -> bool | None:
        snap = self.snapshot()
        return None if snap is None else bool(snap.ok)


def scripts_probe(host: Any, settings: Settings) -> Any:
    """What `posguard scripts --http` reports: the host's counters (totals and per script),
    the scripts' states, and the lag of their consumer groups."""
    from posguard.console.probe_api import ProcessProbe, read_token

    lag = ScriptLag(host)

    def details() -> dict[str, Any]:
        states = {s.name: s.state for s in list(host.scripts.values())}
        return {"scripts": states,
                "problems": [f"script {n} failed" for n, st in states.items() if st == "failed"]}

    return ProcessProbe("scripts", host.services.bootstrap, {"scripts": host.metrics},
                        kafka_reachable=lag.reachable, details=details, lag=lag.snapshot,
                        token=read_token(settings.token_file))


def _serve(host: Any, args: argparse.Namespace, settings: Settings) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = None
    try:
        if args.http is not None:
            from posguard.console.probe_api import serve_probe

            server = serve_probe(scripts_probe(host, settings), args.http)
        while not stop.wait(1.0):
            pass
    finally:
        if server is not None:
            server.stop()
        print("posguard: stopping scripts (finalizers run)", flush=True)
        host.stop()
    return 0


def run_one(args: argparse.Namespace, settings: Settings) -> int:
    host = _host(args, settings)
    try:
        host.add(args.file)
    except BaseException:
        host.stop()
        raise
    return _serve(host, args, settings)


def run_dir(args: argparse.Namespace, settings: Settings) -> int:
    host = _host(args, settings)
    try:
        scripts = host.load_dir(args.dir)
    except BaseException:
        host.stop()
        raise
    print(f"posguard: running {len(scripts)} script(s) from {args.dir}: "
          f"{', '.join(s.name for s in scripts)}", flush=True)
    return _serve(host, args, settings)
