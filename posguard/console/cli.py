"""`posguard ...`: the command line. Each subcommand is a module in console/commands/ that
exposes `register(subparsers)`; they are discovered here, so a new command is one new file."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from posguard import __version__
from posguard.console import commands
from posguard.console.settings import FIELDS, env_name, load_settings
from posguard.errors import PosguardError

__all__ = ["main", "build_parser", "add_setting_flags"]


def add_setting_flags(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add `--name` flags for settings, each help naming its POSGUARD_* variable."""
    for name in names:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, dest=f"setting_{name}", default=None, metavar=name.upper(),
                            help=f"{FIELDS[name]} [{env_name(name)}]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posguard", description="Watch point-of-sale terminals: ingest, detect, search.")
    parser.add_argument("--version", action="version", version=f"posguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    flags = {k[len("setting_"):]: v for k, v in vars(args).items() if k.startswith("setting_")}
    try:
        settings = load_settings(flags)
        logging.basicConfig(
            level=getattr(logging, settings.log_level.upper(), logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # One INFO line per request of the CLI's own API client would sit above every answer.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return int(args.func(args, settings) or 0)
    except PosguardError as e:
        print(f"posguard: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
