"""`make bench`: run every benchmark module, print one table, write bench/results/latest.json.

Each figure is measured in the same run as its baseline, so machine noise cancels in the
ratio. `python -m bench NAME ...` runs only the named modules (e.g. `pipeline detectors`).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

from bench.table import print_table

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                   if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv or n in argv]
    rows, failures = [], []
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            if not hasattr(module, "run"):
                print(f"   {name} has no run(): run it alone with python -m bench.{name}\n")
                continue
            mod_rows = module.run()
        except Exception:
            traceback.print_exc()
            failures.append(name)
            continue
        for r in mod_rows:
            r["bench"] = name
        rows += mod_rows
        print_table(mod_rows)
        print(f"   ({time.monotonic() - t0:.1f} s)\n", flush=True)
    print("== all figures")
    print_table(rows)
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "machine": platform.platform(), "rows": rows,
                               "failed": failures}, indent=1))
    print(f"written {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
