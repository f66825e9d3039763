"""Small SVG charts drawn by hand (no plotting dependency): stacked bars, horizontal bars,
lines. Pure functions: data in, SVG text out. Every label is XML-escaped."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

__all__ = ["stacked_bars", "horizontal_bars", "line_chart", "PALETTE"]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
W, H = 760, 380
LEFT, RIGHT, TOP, BOTTOM = 110, 170, 40, 90


def _nice_max(v: float) -> float:
    """The smallest 1/2/5×10^k at or above v (axis top)."""
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if m * e >= v:
            return float(m * e)
    return float(10 * e)


def _fmt(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.3g}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _frame(title: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{W}" height="{H}" fill="#fff"/>',
        f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14" '
        f'font-weight="bold">{escape(title)}</text>',
        *body, "</svg>", ""])


def _empty(title: str) -> str:
    return _frame(title, [f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" '
                          'fill="#888">no data in this range</text>'])


def _y_axis(top: float, unit: str) -> list[str]:
    out = []
    ph = H - TOP - BOTTOM
    for k in range(5):
        v = top * k / 4
        y = H - BOTTOM - ph * k / 4
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f"{escape(_fmt(v))}</text>")
    if unit:
        out.append(f'<text x="14" y="{TOP + ph / 2}" transform="rotate(-90 14 {TOP + ph / 2})" '
                   f'text-anchor="middle">{escape(unit)}</text>')
    return out


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for k, name in enumerate(names[:20]):
        y = TOP + 8 + k * 16
        out.append(f'<rect x="{W - RIGHT + 12}" y="{y - 9}" width="10" height="10" '
                   f'fill="{PALETTE[k % len(PALETTE)]}"/>')
        out.append(f'<text x="{W - RIGHT + 28}" y="{y}">{escape(name[:22])}</text>')
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    step = max(1, math.ceil(len(labels) / 16))  # at most ~16 labels under the axis
    out = []
    for k in range(0, len(labels), step):
        x, y = xs[k], H - BOTTOM + 12
        out.append(f'<text x="{x:.1f}" y="{y}" text-anchor="end" '
                   f'transform="rotate(-35 {x:.1f} {y})">{escape(labels[k][:20])}</text>')
    return out


def stacked_bars(title: str, categories: Sequence[str], series: Mapping[str, Sequence[float]],
                 unit: str = "") -> str:
    """Vertical bars, one per category, each stacked from the series' values.

    Args:
        title: chart title.
        categories: x-axis labels.
        series: series name -> one value per category.
        unit: y-axis label.
    """
    if not categories or not series:
        return _empty(title)
    totals = [sum(s[k] for s in series.values()) for k in range(len(categories))]
    top = _nice_max(max(totals))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = pw / len(categories)
    bw = max(1.0, slot * 0.7)
    body = _y_axis(top, unit)
    xs = []
    for k, cat in enumerate(categories):
        x = LEFT + slot * k + (slot - bw) / 2
        xs.append(x + bw / 2)
        base = 0.0
        for j, (name, vals) in enumerate(series.items()):
            v = vals[k]
            if v <= 0:
                continue
            h = ph * v / top
            y = H - BOTTOM - ph * base / top - h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>'
                        f"{escape(f'{cat} / {name}: {_fmt(v)}')}</title></rect>")
            base += v
    body += _x_labels(categories, xs) + _legend(list(series))
    return _frame(title, body)


def horizontal_bars(title: str, labels: Sequence[str], values: Sequence[float],
                    unit: str = "", value_format: str = "{:.3g}") -> str:
    """One horizontal bar per label, longest first as given.

    Args:
        title: chart title.
        labels: bar labels (top to bottom).
        values: one value per label.
        unit: shown after the axis maximum.
        value_format: how each bar's value is printed beside it.
    """
    if not labels:
        return _empty(title)
    top = _nice_max(max(values))
    left, pw = 190, W - 190 - 80
    rh = (H - TOP - 30) / len(labels)
    body = []
    for k, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = TOP + k * rh
        w = pw * max(v, 0) / top
        body.append(f'<text x="{left - 6}" y="{y + rh * 0.6:.1f}" text-anchor="end">'
                    f"{escape(lab[:32])}</text>")
        body.append(f'<rect x="{left}" y="{y + rh * 0.15:.1f}" width="{w:.1f}" '
                    f'height="{rh * 0.7:.1f}" fill="{PALETTE[0]}"><title>'
                    f"{escape(lab)}: {escape(value_format.format(v))}</title></rect>")
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + rh * 0.6:.1f}">'
                    f"{escape(value_format.format(v))}</text>")
    body.append(f'<text x="{left + pw}" y="{H - 10}" text-anchor="end" fill="#666">'
                f"axis to {escape(value_format.format(top))} {escape(unit)}</text>")
    return _frame(title, body)


def line_chart(title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[float]],
               unit: str = "") -> str:
    """One line per series over shared x positions.

    Args:
        title: chart title.
        x_labels: one label per x position.
        series: series name -> one value per x position (NaN = gap).
        unit: y-axis label.
    """
    if not x_labels or not series:
        return _empty(title)
    finite = [v for s in series.values() for v in s if not math.isnan(v)]
    top = _nice_max(max(finite) if finite else 0)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(x_labels)
    xs = [LEFT + (pw * k / (n - 1) if n > 1 else pw / 2) for k in range(n)]
    body = _y_axis(top, unit)
    for j, (name, vals) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        pts = [(xs[k], H - BOTTOM - ph * v / top) for k, v in enumerate(vals)
               if not math.isnan(v)]
        if pts:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            body.append(f"<polyline points={quoteattr(path)} fill=\"none\" stroke=\"{color}\" "
                        f'stroke-width="2"><title>{escape(name)}</title></polyline>')
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>'
                     for x, y in pts]
    body += _x_labels(x_labels, xs) + _legend(list(series))
    return _frame(title, body)
