"""One result row format and its table printer, shared by every benchmark."""

from __future__ import annotations

from typing import Any

__all__ = ["row", "print_table"]


def row(figure: str, value: float, unit: str, baseline: float | None = None,
        baseline_name: str = "", target: str = "", higher_is_better: bool = True,
        **extra: Any) -> dict[str, Any]:
    """A result: value, the baseline measured in the same run, their ratio, the target."""
    ratio = None
    if baseline:
        ratio = value / baseline if higher_is_better else baseline / value if value else None
    return {"figure": figure, "value": value, "unit": unit, "baseline": baseline,
            "baseline_name": baseline_name, "ratio": ratio, "target": target, **extra}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ("figure", "value", "unit", "baseline", "baseline_name", "ratio", "target")
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) if cells else len(c)
              for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for x in cells:
        print("  ".join(v.ljust(w) for v, w in zip(x, widths, strict=True)))
