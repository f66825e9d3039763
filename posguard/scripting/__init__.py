"""scripting: the ActivePOS script API, pos_utils and the script host.

    handle = start_script_host(settings, backend, bootstrap, topics, scripts_dir, notify)
    ...
    handle.stop()

See docs/scripting.md for the API reference, and host.py for how scripts are isolated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from posguard.scripting.errors import ScriptApiError, ScriptingError, ScriptLoadError
from posguard.scripting.host import Script, ScriptHost
from posguard.scripting.services import ScriptServices

__all__ = ["ScriptHost", "Script", "ScriptServices", "start_script_host", "ScriptingError",
           "ScriptApiError", "ScriptLoadError", "node_config_file"]


def node_config_file(settings: Any) -> Path | None:
    """The node's TOML file (terminal registry): --config, or DATA/posguard.toml."""
    cfg = getattr(settings, "config", None)
    if cfg:
        return Path(cfg)
    data = getattr(settings, "data", None)
    return Path(data) / "posguard.toml" if data else None


def start_script_host(settings: Any, backend: Any, bootstrap: str, topics: Any,
                      scripts_dir: Path | str, notify: Callable[[str, str, str], None] | None
                      = None) -> ScriptHost:
    """Start a script host running every script of `scripts_dir` (the node calls this).

    Args:
        settings: the process's Settings (Kafka client settings, session timeout).
        backend: the store backend (None: searches and reports fail with a clear error).
        bootstrap: Kafka bootstrap servers.
        topics: the Topics of the deployment.
        scripts_dir: the folder of `*.py` scripts.
        notify: notify(level, text, source) to the console; None = log only.

    Returns:
        The running host; call `.stop()` to stop it (finalizers run).
    """
    from posguard.scripting.services import log_notify, registry_access

    kafka_config = dict(getattr(settings, "kafka_config", {}) or {})
    consumer = dict(kafka_config)
    timeout = getattr(settings, "session_timeout", None)
    if timeout:
        consumer.setdefault("session.timeout.ms", int(float(timeout) * 1000))
    registered, zones = registry_access(node_config_file(settings))
    services = ScriptServices.connect(bootstrap, topics, backend, notify=notify or log_notify,
                                      kafka_config=kafka_config, consumer_config=consumer,
                                      terminal_exists=registered, zones=zones)
    host = ScriptHost(services)
    try:
        host.load_dir(Path(scripts_dir))
    except BaseException:
        host.stop()
        raise
    return host
