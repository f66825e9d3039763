"""Query parameters: the one way user values enter SQL (as `{name:Type}` placeholders)."""

from __future__ import annotations

from collections.abc import Iterable
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

    def strings(self, values: Iterable[str]) -> str:
        """The placeholder of a list of strings (Array(String))."""
        return self.add(list(values), "Array(String)")

    def any_of(self, column: str, values: Iterable[str]) -> str:
        """`column IN [values]`; `column` is one of the caller's own column names, never a
        user value.

        Example:
            >>> Params().any_of("cashier_name", ("Ivanov I",))
            'cashier_name IN {p0:Array(String)}'
        """
        return f"{column} IN {self.strings(values)}"
