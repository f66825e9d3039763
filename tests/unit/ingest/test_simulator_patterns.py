"""--fraud-rate traffic makes the default detectors raise every terminal-side incident type."""

from collections import Counter

from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine, run_archive
from posguard.ingest.simulator import ChainSimulator


def test_fraud_patterns_raise_every_terminal_side_incident_type() -> None:
    sim = ChainSimulator(2, 3, seed=5, fraud_rate=0.3)
    events = list(sim.events(30_000, 1_796_000_000_000_000, 500_000))  # ~4 h of traffic
    engine = DetectorEngine.from_config(default_config())
    raised = Counter(i.detector for i in run_archive(engine, events))
    by_type = {d.guid: type(d).__name__ for d in engine.detectors}
    missing = {by_type[g] for g in by_type if raised[g] == 0}
    # Only the events filter stays silent: its default watches POS_FRAUD, which scripts raise.
    assert missing == {"EventsFilter"}, missing


def test_no_fraud_rate_means_few_incidents() -> None:
    sim = ChainSimulator(2, 3, seed=5, fraud_rate=0.0)
    events = list(sim.events(5_000, 1_796_000_000_000_000 + 12 * 3_600_000_000, 500_000))
    incidents = run_archive(DetectorEngine.from_config(default_config()), events)
    noisy = Counter(i.type_name for i in incidents)
    assert sum(noisy.values()) < len(events) * 0.02, noisy
