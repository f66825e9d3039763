"""Query parameters: the one way user values enter SQL (as `{name:Type}` placeholders)."""

from __future__ import annotations

from typing import Any

__all__ = ["Params"]


class Params:
    """Collects parameter values and hands out their placeholders.

    Example:
        >>> p = Params()
        >>> p.add("O'Brien", "String"), p.values
        ('{p0:String}', {'p0': "O'Brien"})
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, typ: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{typ}}}"
