"""What the HTTP API reads from the running node: its settings, store and counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from posguard.console.settings import Settings
from posguard.store.backends.base import Backend

__all__ = ["NodeState"]


@dataclass
class NodeState:
    """Shared handles of one node process, given to the API's routes."""

    settings: Settings
    backend: Backend
    api_token: str
    bootstrap: str = ""
    metrics: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
