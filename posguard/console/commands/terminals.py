"""`posguard terminals list|add|remove`: the terminal registry in the config file.

The registry is the `[[terminals]]` tables of the node's TOML file; a running node or
`posguard ingest` notices the change within seconds and opens or closes ports.
"""

from __future__ import annotations

import argparse

from posguard.console.settings import Settings

_COLUMNS = ("guid", "name", "store", "protocol", "transport", "port", "location",
            "associated_channel", "timezone", "raw_dump")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser("terminals", help="list, add or remove terminals",
                       description="Edit the terminal registry ([[terminals]] in the config "
                       "file). A running node reloads it by itself.")
    tsub = p.add_subparsers(dest="terminals_command", metavar="ACTION", required=True)

    ls = tsub.add_parser("list", help="show the registered terminals")
    ls.add_argument("--format", choices=("table", "json", "csv"), default="table")
    add_setting_flags(ls, "data", "config")
    ls.set_defaults(func=run_list)

    add = tsub.add_parser("add", help="register a terminal (or change one with --replace)")
    add.add_argument("guid", help="the terminal's id, e.g. T1RuoVF7")
    add.add_argument("--protocol", choices=("dssl-xml", "json", "text"), default="dssl-xml")
    add.add_argument("--transport", choices=("tcp", "udp", "http"), default="tcp")
    add.add_argument("--port", type=int, default=0, help="listening port (not for http)")
    add.add_argument("--name", default="")
    add.add_argument("--store", default="")
    add.add_argument("--location", default="",
                     help="location the terminal sends (tells terminals apart on a shared port)")
    add.add_argument("--channel", dest="associated_channel", default="",
                     help="associated video channel")
    add.add_argument("--timezone", default="UTC", help="IANA zone of the store")
    add.add_argument("--encoding", default="utf-8")
    add.add_argument("--date-format", default="%d/%m/%Y")
    add.add_argument("--decimal-separator", choices=("auto", ".", ","), default="auto")
    add.add_argument("--definition", dest="transaction_definition", default="",
                     help="printer-text transaction definition name (protocol text)")
    add.add_argument("--raw-dump", action="store_true", help="write incoming bytes to a file")
    add.add_argument("--replace", action="store_true", help="replace a terminal with this guid")
    add_setting_flags(add, "data", "config")
    add.set_defaults(func=run_add)

    rm = tsub.add_parser("remove", help="unregister a terminal")
    rm.add_argument("guid")
    add_setting_flags(rm, "data", "config")
    rm.set_defaults(func=run_remove)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from msgspec import structs

    from posguard.console.commands.ingest import config_path
    from posguard.console.output import render
    from posguard.ingest.files import load_registry

    rows = [structs.asdict(t) for t in load_registry(config_path(settings))]
    print(render(rows, args.format, _COLUMNS if args.format == "table" else None))
    return 0


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.commands.ingest import config_path
    from posguard.ingest.errors import TerminalExists
    from posguard.ingest.registry import new_terminal
    from posguard.ingest.registry_file import add_terminal, put_terminal

    path = config_path(settings)
    t = new_terminal({
        "guid": args.guid, "name": args.name, "store": args.store, "protocol": args.protocol,
        "transport": args.transport, "port": args.port, "location": args.location,
        "associated_channel": args.associated_channel, "timezone": args.timezone,
        "encoding": args.encoding, "date_format": args.date_format,
        "decimal_separator": args.decimal_separator, "raw_dump": args.raw_dump,
        "transaction_definition": args.transaction_definition})
    if args.replace:
        replaced = put_terminal(path, t)
    else:
        try:
            add_terminal(path, t)
        except TerminalExists as e:
            raise TerminalExists(f"{e} (use --replace to change it)") from None
        replaced = False
    print(f"terminal {t.guid} {'replaced' if replaced else 'added'} in {path}")
    return 0


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.commands.ingest import config_path
    from posguard.ingest.registry_file import remove_terminal

    path = config_path(settings)
    remove_terminal(path, args.guid)
    print(f"terminal {args.guid} removed from {path}")
    return 0
