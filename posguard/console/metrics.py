"""The node's Prometheus text (`/metrics`): flat counters, incidents per detector, lag.

    posguard_<group>_<name> N                       every number in NodeState.metrics[group]
    posguard_incidents_total{detector,type} N       worker counters `incidents_raised:<guid>`
    posguard_consumer_lag{group,topic,partition} N  high watermark - committed offset
    posguard_consumer_lag_up 0|1                    whether the last lag query reached Kafka

Counters are per process (a worker counts what it raised since it started); Prometheus
adds the processes up (`sum by (detector)`). Lag is a property of the consumer groups, read
from the brokers, so every process that serves /metrics reports the same figures: scrape
one console for it. `render_metrics` is pure; `node_lag_monitor` builds the cached lag query
of a node (the sink's group and the Faust workers' group).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from posguard.streams.consumer_lag import LagMonitor, LagSnapshot
from posguard.streams.topics import Topics

__all__ = ["render_metrics", "collect_metrics", "node_lag_monitor", "node_groups",
           "detector_types", "INCIDENTS_PREFIX"]

# The worker's per-detector counter: `incidents_raised:<detector guid>`.
INCIDENTS_PREFIX = "incidents_raised:"
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _name(*parts: str) -> str:
    return _BAD_NAME.sub("_", "_".join(parts))


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def _labels(**labels: object) -> str:
    return "{" + ",".join(f"{k}={_label(v)}" for k, v in labels.items()) + "}"


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def collect_metrics(sources: Mapping[str, Callable[[], Mapping[str, Any]]]
                    ) -> dict[str, Any]:
    """Call each metric group's function; a failing one reports {"error": ...} instead of
    breaking the scrape (render_metrics skips the non-numbers)."""
    out: dict[str, Any] = {}
    for name, fn in sources.items():
        try:
            out[name] = fn()
        except Exception as e:  # a broken gauge must not break health
            out[name] = {"error": str(e)}
    return out


def render_metrics(values: Mapping[str, Mapping[str, Any]],
                   lag: LagSnapshot | None = None,
                   types: Mapping[str, str] | None = None) -> str:
    """Prometheus text exposition (format 0.0.4) of the node's figures.

    Args:
        values: metric group ("sink", "worker", ...) -> counter name -> value; non-numbers
            are skipped. `incidents_raised:<guid>` keys become posguard_incidents_total.
        lag: the consumer lag snapshot, None when this process has no Kafka.
        types: detector GUID -> detector type, for the `type` label ("" when unknown).

    Example:
        >>> print(render_metrics({"worker": {"incidents_raised:PGD00002": 3}},
        ...                      types={"PGD00002": "delete_without_admin"}), end="")
        # HELP posguard_incidents_total Incidents raised per detector by this process.
        # TYPE posguard_incidents_total counter
        posguard_incidents_total{detector="PGD00002",type="delete_without_admin"} 3
    """
    lines: list[str] = []
    incidents: dict[str, float] = {}
    for group, counters in values.items():
        for key, v in counters.items():
            if not _number(v):
                continue
            if key.startswith(INCIDENTS_PREFIX):
                guid = key[len(INCIDENTS_PREFIX):]
                incidents[guid] = incidents.get(guid, 0) + v
            else:
                lines.append(f"posguard_{_name(group, key)} {v}")
    if incidents:
        lines += ["# HELP posguard_incidents_total Incidents raised per detector by this "
                  "process.", "# TYPE posguard_incidents_total counter"]
        lines += [f"posguard_incidents_total"
                  f"{_labels(detector=g, type=(types or {}).get(g, ''))} {incidents[g]}"
                  for g in sorted(incidents)]
    if lag is not None:
        lines += _lag_lines(lag)
    return "\n".join(lines) + "\n"


def _lag_lines(lag: LagSnapshot) -> list[str]:
    lines = []
    if lag.lags:
        lines += ["# HELP posguard_consumer_lag Messages a consumer group has not committed "
                  "yet, per partition (high watermark - committed offset).",
                  "# TYPE posguard_consumer_lag gauge"]
        lines += [f"posguard_consumer_lag"
                  f"{_labels(group=p.group, topic=p.topic, partition=p.partition)} {p.lag}"
                  for p in lag.lags]
    lines += ["# HELP posguard_consumer_lag_up 1 when the last consumer lag query reached "
              "Kafka.", "# TYPE posguard_consumer_lag_up gauge",
              f"posguard_consumer_lag_up {int(lag.ok)}"]
    return lines


def detector_types(config: Any) -> dict[str, str]:
    """Detector GUID -> type of a DetectorConfig (empty for None or anything else)."""
    return {d.guid: d.type for d in getattr(config, "detectors", ()) or ()}


def node_groups(app_id: str, topics: Topics) -> dict[str, tuple[str, ...]]:
    """The consumer groups of a node and the topics each reads (consumer_lag adds the
    topics a group has committed on, e.g. the workers' repartition topics)."""
    return {
        f"{app_id}.sink": (topics.events, topics.receipts, topics.incidents, topics.frauds),
        app_id: (topics.events,),
    }


def node_lag_monitor(bootstrap: str, app_id: str, topics: Topics,
                     kafka_config: Mapping[str, Any] | None = None,
                     max_age: float = 5.0) -> LagMonitor:
    """The cached lag query of the sink's group (`<app_id>.sink`) and the workers' group."""
    return LagMonitor(bootstrap, node_groups(app_id, topics), kafka_config, max_age=max_age)

