"""`posguard search`: events by the search_pos_events filter over a time range."""

from __future__ import annotations

import argparse

from posguard.console.settings import Settings

COLUMNS = ("ts_received", "pos_terminal", "pos_terminal_name", "op_id", "cashier_name", "type",
           "position", "text", "article", "barcode", "price", "quantity", "weight", "discount")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser("search", help="search stored events",
                       description="Search events by receipt time range and the keys of "
                       "search_pos_events (each key may repeat; keys are AND-ed).")
    p.add_argument("--from", dest="from_", help="start: ISO time or epoch seconds/µs")
    p.add_argument("--to", help="end: ISO time or epoch seconds/µs (default now)")
    p.add_argument("--last", help="instead of --from: a duration back from --to, e.g. 1h")
    p.add_argument("--cashier", action="append", default=[], help="cashier name")
    p.add_argument("--event", action="append", default=[], help="event type, e.g. POS_POSITION_ADD")
    p.add_argument("--receipt", action="append", default=[], help="receipt number (op_id)")
    p.add_argument("--terminal", action="append", default=[], help="terminal GUID")
    p.add_argument("--text", action="append", default=[], help="text in text/article/barcode")
    p.add_argument("--text-mode", choices=("contains", "starts", "ends", "exact"),
                   default="contains")
    p.add_argument("--case-sensitive", action="store_true")
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    add_setting_flags(p, "data", "api", "http", "clickhouse", "database", "config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.output import render
    from posguard.console.timeargs import time_range

    t0, t1 = time_range(args.from_, args.to, args.last)
    if settings.clickhouse:
        import msgspec

        from posguard.model.filters import EventFilter, SearchFlags, StringFilter
        from posguard.store.search import search_events

        modes = {"contains": SearchFlags.CONTAINS, "starts": SearchFlags.STARTS_WITH,
                 "ends": SearchFlags.ENDS_WITH, "exact": SearchFlags.EXACT}
        flags = modes[args.text_mode] | (SearchFlags.CASE_SENSITIVE if args.case_sensitive else 0)
        backend = settings.open_store(migrate=False)
        f = EventFilter(cashiers=tuple(args.cashier), events=tuple(args.event),
                        receipt_number=tuple(args.receipt), terminals=tuple(args.terminal),
                        text=tuple(StringFilter(t, flags) for t in args.text))
        rows = [msgspec.structs.asdict(e) for e in search_events(backend, t0, t1, f, args.limit)]
    else:
        from posguard.console.client import ApiClient

        rows = ApiClient(settings).get("/api/events/search", params={
            "from": t0, "to": t1, "cashier": args.cashier, "event": args.event,
            "receipt": args.receipt, "terminal": args.terminal, "text": args.text,
            "text_mode": args.text_mode, "case_sensitive": args.case_sensitive,
            "limit": args.limit})
    print(render(rows, args.format, COLUMNS if args.format == "table" else None))
    return 0
