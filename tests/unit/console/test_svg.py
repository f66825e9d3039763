"""The hand-drawn SVG charts: well-formed, escaped, one mark per value."""

from __future__ import annotations

import math

from lxml import etree

from posguard.console.svg import horizontal_bars, line_chart, stacked_bars

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(text: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    return etree.fromstring(text.encode(), parser)


def test_stacked_bars_draw_one_rect_per_positive_value_and_escape_labels() -> None:
    doc = parse(stacked_bars("A <b> & c", ["t<1>", "t2"], {"new": [3, 0], "confirmed": [1, 2]}))
    bars = [r for r in doc.iterfind("s:rect", NS) if r.find("s:title", NS) is not None]
    assert len(bars) == 3
    assert doc.find("s:title", NS).text == "A <b> & c"
    heights = {r.find("s:title", NS).text: float(r.get("height")) for r in bars}
    # 4 is the tallest stack; the axis top is 5: heights are proportional to values
    assert math.isclose(heights["t<1> / new: 3"], 3 * heights["t<1> / confirmed: 1"], rel_tol=1e-2)


def test_horizontal_bars_and_lines() -> None:
    doc = parse(horizontal_bars("Void rate", ["Ivanov I", "Petrova A"], [4.5, 1.0], "%"))
    assert len([r for r in doc.iterfind("s:rect", NS) if r.get("height") != "380"]) == 2
    doc = parse(line_chart("Lag", ["00", "01", "02"], {"s1": [1.0, math.nan, 3.0],
                                                       "s2": [2.0, 2.0, 2.0]}))
    lines = doc.findall("s:polyline", NS)
    assert [len(p.get("points").split()) for p in lines] == [2, 3]


def test_empty_data_says_so() -> None:
    for svg in (stacked_bars("x", [], {}), horizontal_bars("x", [], []), line_chart("x", [], {})):
        assert "no data in this range" in svg
        parse(svg)
