"""`posguard detectors import|export` and `posguard process-archive`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

from posguard.console.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from posguard.console.cli import add_setting_flags

    p = sub.add_parser("detectors", help="import or export the detector configuration (XML)")
    dsub = p.add_subparsers(dest="action", required=True)
    imp = dsub.add_parser("import", help="replace the whole configuration if FILE validates")
    imp.add_argument("file", type=Path)
    exp = dsub.add_parser("export", help="print the current configuration")
    exp.add_argument("-o", "--output", type=Path, help="write to a file instead of stdout")
    for x in (imp, exp):
        add_setting_flags(x, "data", "api", "http", "config")
        x.set_defaults(func=run_detectors)

    a = sub.add_parser("process-archive", help="run one detector over stored events",
                       description="Read stored events of the range back in terminal order, "
                       "run the detector on them and store the incidents not stored before.")
    a.add_argument("guid", help="detector GUID (8 alphanumerics)")
    a.add_argument("--from", dest="from_", help="start: ISO time or epoch seconds/µs")
    a.add_argument("--to", help="end (default now)")
    a.add_argument("--last", help="instead of --from, e.g. 2d")
    add_setting_flags(a, "data", "api", "http", "config")
    a.set_defaults(func=run_archive)


def run_detectors(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.client import ApiClient
    from posguard.console.errors import ApiError

    client = ApiClient(settings)
    if args.action == "export":
        xml = client.get_bytes("/api/detectors")
        if args.output:
            args.output.write_bytes(xml)
        else:
            sys.stdout.write(xml.decode("utf-8"))
        return 0
    try:
        body = args.file.read_bytes()
    except OSError as e:
        raise ApiError(f"cannot read {args.file}: {e.strerror}") from None
    res = client._request("PUT", "/api/detectors", content=body,
                          headers={"Content-Type": "application/xml"}).json()
    print(f"imported {res['detectors']} detectors, {res['incident_types']} incident types")
    return 0


def run_archive(args: argparse.Namespace, settings: Settings) -> int:
    from posguard.console.client import ApiClient
    from posguard.console.errors import ApiError
    from posguard.console.timeargs import time_range

    t0, t1 = time_range(args.from_, args.to, args.last, default_last="1d")
    client = ApiClient(settings, timeout=3600)
    final: dict = {}  # type: ignore[type-arg]
    try:
        with client._client.stream("POST", f"/api/detectors/{args.guid}/process-archive",
                                   params={"from": t0, "to": t1}) as r:
            if r.status_code >= 400:
                r.read()
                raise ApiError(f"HTTP {r.status_code}: {r.text}")
            for line in r.iter_lines():
                doc = json.loads(line)
                if doc.get("done"):
                    final = doc
                else:
                    print(f"\rread {doc['events']:,} events...", end="", file=sys.stderr,
                          flush=True)
    except httpx.HTTPError as e:
        raise ApiError(f"cannot reach the node: {e}") from None
    print(f"\rprocessed {final['events']:,} events: {final['incidents']} incidents, "
          f"{final['new']} new", file=sys.stderr)
    return 0
