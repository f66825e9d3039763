"""`posguard report TYPE`: build an ODS report over a period and save it to a file."""

from __future__ import annotations

import argparse
import sys
import time

from posguard.console.settings import Settings

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags
    from posguard.reports.types import REPORT_TITLES

    kinds = "; ".join(f"{rt.value} ({title})" for rt, title in REPORT_TITLES.items())
    p = sub.add_parser(
        "report", help="build an ODS spreadsheet report",
        description="Build a report over a period as an OpenDocument spreadsheet (.ods). "
        f"Types: {kinds}. The period is [--from, --to): start included, end excluded.")
    p.add_argument("type", metavar="TYPE",
                   help="report type, e.g. violations or VIOLATIONS_REPORT")
    p.add_argument("--from", dest="from_", help="start: ISO time or epoch seconds/µs")
    p.add_argument("--to", help="end: ISO time or epoch seconds/µs (default now)")
    p.add_argument("--last", help="instead of --from: a duration back from --to (default 1d)")
    p.add_argument("--store", default="", help="only this store (default: all stores)")
    p.add_argument("--tz", default="",
                   help="IANA timezone for days, hours and times shown (default: the store's "
                   "timezone from the terminal registry; for all stores the terminals' one "
                   "timezone when they share it; else UTC)")
    p.add_argument("-o", "--output", required=True,
                   help="file to write (FILE.ods), or an existing folder for a generated name")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_setting_flags(p, "data", "api", "http", "clickhouse", "database", "config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build the report (directly from ClickHouse with --clickhouse, else through the node's
    API), then save it; errors are PosguardErrors the CLI prints with exit status 1."""
    from posguard.console.commands.ingest import config_path
    from posguard.console.timeargs import time_range
    from posguard.ingest.files import store_zones
    from posguard.model.times import zone
    from posguard.reports.output import report_filename, resolve_output, save_report
    from posguard.reports.timezone import report_timezone
    from posguard.reports.types import parse_report_type

    rt = parse_report_type(args.type)
    if args.tz:
        zone(args.tz)
    t0, t1 = time_range(args.from_, args.to, args.last, default_last="1d")
    # Through the node's API the node picks the timezone from its registry; this file's
    # registry names the timezone of the generated file name (the same file on one machine).
    chosen = report_timezone(() if args.tz else store_zones(config_path(settings)),
                             args.store, explicit=args.tz)
    # Refuse a bad output before spending time on the report.
    out = resolve_output(args.output, report_filename(rt, t0, t1, args.store, chosen.tz),
                         args.force)
    started = time.perf_counter()

    def say(text: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.2f}s] {text}", file=sys.stderr, flush=True)

    if settings.clickhouse:
        from posguard.reports.build import build_report

        if chosen.note:
            say(f"timezone {chosen.tz}: {chosen.note}")

        backend = settings.open_store(migrate=False)
        try:
            built = build_report(
                backend, rt, t0, t1, args.store or None, chosen.tz,
                progress=lambda step, done, total: say(f"{done + 1}/{total} {step}"),
                tz_note=chosen.note)
        finally:
            backend.close()
        data = built.data
        say(f"queries {built.query_seconds:.2f}s, ODS {built.write_seconds:.2f}s")
    else:
        from posguard.console.client import ApiClient

        say(f"asking the node at {settings.api_url} for the {rt.value} report")
        data = ApiClient(settings, timeout=900.0).get_bytes(
            f"/api/reports/{rt.value}",
            params={"from": t0, "to": t1, "store": args.store, "tz": args.tz})
    save_report(data, out, args.force)
    say(f"wrote {len(data):,} bytes")
    print(out)
    return 0
