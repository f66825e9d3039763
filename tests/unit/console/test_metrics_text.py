"""The /metrics text: flat counters, incidents per detector, consumer lag (pure rendering)."""

from __future__ import annotations

import re

from posguard.console.metrics import detector_types, node_groups, render_metrics
from posguard.detectors.config import default_config
from posguard.streams.consumer_lag import LagSnapshot, PartitionLag
from posguard.streams.topics import Topics

# Prometheus text exposition 0.0.4: a sample line, a HELP line, a TYPE line.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(
    rf"^({_NAME})(\{{(?:[a-zA-Z_][a-zA-Z0-9_]*={_LABEL_VALUE})(?:,[a-zA-Z_][a-zA-Z0-9_]*="
    rf"{_LABEL_VALUE})*\}})? (-?[0-9.e+]+|NaN|[+-]Inf)$")
_HELP = re.compile(rf"^# HELP ({_NAME}) .+$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|untyped|summary|histogram)$")


def _check_exposition(text: str) -> dict[str, list[str]]:
    """Assert `text` is valid exposition; return metric name -> its sample lines."""
    assert text.endswith("\n")
    samples: dict[str, list[str]] = {}
    typed: set[str] = set()
    last = ""
    for line in text.splitlines():
        if m := _TYPE.match(line):
            assert m.group(1) not in typed and m.group(1) not in samples, line
            typed.add(m.group(1))
            continue
        if _HELP.match(line):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not an exposition line: {line!r}"
        name = m.group(1)
        # one family's samples are contiguous
        assert name == last or name not in samples, f"{name} split: {line!r}"
        samples.setdefault(name, []).append(line)
        last = name
    return samples


def _lags(*rows: tuple[str, str, int, int]) -> LagSnapshot:
    return LagSnapshot(tuple(PartitionLag(g, t, p, 0, lag, lag) for g, t, p, lag in rows),
                       ok=True)


def test_flat_counters_keep_their_names() -> None:
    text = render_metrics({"sink": {"batches": 3, "rows": 120.5, "paused": True,
                                    "last_error": "none"},
                           "ingest": {"rejected_bad-xml": 2}})
    samples = _check_exposition(text)
    assert samples == {"posguard_sink_batches": ["posguard_sink_batches 3"],
                       "posguard_sink_rows": ["posguard_sink_rows 120.5"],
                       "posguard_ingest_rejected_bad_xml": ["posguard_ingest_rejected_bad_xml 2"]}


def test_incidents_per_detector_are_labelled_with_their_type() -> None:
    text = render_metrics(
        {"worker": {"events_assembled": 50, "incidents_raised": 5,
                    "incidents_raised:PGD00002": 3, "incidents_raised:PGD00009": 2},
         "other": {"incidents_raised:PGD00002": 1}},
        types={"PGD00002": "delete_without_admin"})
    samples = _check_exposition(text)
    assert samples["posguard_worker_incidents_raised"] == ["posguard_worker_incidents_raised 5"]
    assert samples["posguard_incidents_total"] == [
        'posguard_incidents_total{detector="PGD00002",type="delete_without_admin"} 4',
        'posguard_incidents_total{detector="PGD00009",type=""} 2',
    ]
    assert "# TYPE posguard_incidents_total counter" in text
    assert "incidents_raised:" not in text


def test_no_incident_family_without_incident_counters() -> None:
    assert "incidents_total" not in render_metrics({"worker": {"events_assembled": 1}})


def test_consumer_lag_per_group_topic_partition() -> None:
    text = render_metrics({}, _lags(("posguard", "pos.events", 0, 7),
                                    ("posguard.sink", "pos.events", 1, 0)))
    samples = _check_exposition(text)
    assert samples["posguard_consumer_lag"] == [
        'posguard_consumer_lag{group="posguard",topic="pos.events",partition="0"} 7',
        'posguard_consumer_lag{group="posguard.sink",topic="pos.events",partition="1"} 0',
    ]
    assert samples["posguard_consumer_lag_up"] == ["posguard_consumer_lag_up 1"]
    assert "# TYPE posguard_consumer_lag gauge" in text


def test_failed_lag_query_says_so_without_series() -> None:
    samples = _check_exposition(render_metrics({}, LagSnapshot((), ok=False, error="down")))
    assert samples == {"posguard_consumer_lag_up": ["posguard_consumer_lag_up 0"]}
    assert "consumer_lag" not in render_metrics({"sink": {"rows": 1}}, None)


def test_label_values_are_escaped() -> None:
    text = render_metrics({"worker": {'incidents_raised:a"b\\c\nd': 1}})
    samples = _check_exposition(text)
    assert samples["posguard_incidents_total"] == [
        'posguard_incidents_total{detector="a\\"b\\\\c\\nd",type=""} 1']


def test_detector_types_from_the_configuration() -> None:
    config = default_config()
    types = detector_types(config)
    assert types and all(types[d.guid] == d.type for d in config.detectors)
    assert detector_types(None) == {}


def test_node_groups_are_the_sink_and_the_workers() -> None:
    groups = node_groups("posguard", Topics("x."))
    assert groups["posguard.sink"] == ("x.pos.events", "x.pos.receipts", "x.pos.incidents",
                                       "x.pos.frauds")
    assert groups["posguard"] == ("x.pos.events",)
