"""Pure detector rules over ordered events, their state, and their XML configuration.

No I/O here: the same code runs live in Faust agents and over the archive. Entry points:

- `DetectorEngine` (engine.py): the enabled detectors grouped by scope; key/initial/step.
- `run_archive` (engine.py): the incidents a live run raises, over stored events.
- `parse_config` / `export_config` / `default_config` (config.py): the XML configuration.
- `testing.py`: `run_detector`, `CRASH`, and a receipt builder for tests.
"""

from posguard.detectors.base import Detector, DetectorState, IncidentType, Params, Scope
from posguard.detectors.config import (
    DetectorConfig,
    DetectorSpec,
    config_from_bytes,
    config_to_bytes,
    default_config,
    export_config,
    parse_config,
)
from posguard.detectors.engine import (
    DetectorEngine,
    ScopeState,
    archive_order,
    decode_state,
    encode_state,
    run_archive,
    run_scope,
)
from posguard.detectors.errors import ConfigError, DetectorError, StateError
from posguard.detectors.localtime import Zones
from posguard.detectors.ordering import OrderBuffer
from posguard.detectors.registry import STANDARD_DETECTORS

__all__ = [
    "Detector",
    "DetectorState",
    "IncidentType",
    "Params",
    "Scope",
    "DetectorConfig",
    "DetectorSpec",
    "config_from_bytes",
    "config_to_bytes",
    "default_config",
    "export_config",
    "parse_config",
    "DetectorEngine",
    "ScopeState",
    "archive_order",
    "OrderBuffer",
    "decode_state",
    "encode_state",
    "run_archive",
    "run_scope",
    "ConfigError",
    "DetectorError",
    "StateError",
    "Zones",
    "STANDARD_DETECTORS",
]
