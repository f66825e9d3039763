"""Printer transaction definitions: how the text a receipt printer prints becomes events.

A definition (one TOML file) names the line that starts a receipt, the lines that end one,
templates for the lines in between, and a timeout:

    name = "shop-a"
    timeout = 300                     # s without a line: the open receipt is incomplete
    escpos = true                     # strip ESC/POS printer commands first (default)

    [[start]]                         # opens a receipt (several [[start]] are allowed)
    regex = '^\\s*CHECK\\s+No\\s*(?P<op_id>\\d+)'
    event = "POS_RECEIPT_OPEN"

    [[end]]                           # closes it
    regex = '^\\s*TOTAL\\s+(?P<price>\\d+[.,]\\d\\d)'
    event = "POS_RECEIPT_CLOSE"

    [[lines]]                         # any number of line templates
    regex = '^(?P<text>.+?)\\s+(?P<quantity>\\d+)\\s*x\\s*(?P<price_per_unit>[\\d.,]+)'
    event = "POS_POSITION_ADD"

A template matches with one of `regex` (searched in the line; named groups become event
fields, see posguard.ingest.fields), `exact` (the whole line, spaces around ignored) or
`wildcard` (`*` and `?`, the whole line). `event` may be left out for a line that only
carries context (a cashier line); `outside = true` lets a template match between receipts
(sign-in, drawer, reports). Groups `op_id`, `cashier_name`, `discount_card` captured once
apply to the following events of the receipt; `date` + `time` set the terminal's clock.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import msgspec

from posguard.ingest.errors import DefinitionError
from posguard.ingest.fields import event_type

__all__ = ["LineTemplate", "TransactionDefinition", "definition_from_dict", "GROUP_NAMES"]

GROUP_NAMES = frozenset({
    "op_id", "cashier_name", "date", "time", "position", "quantity", "flags", "price",
    "price_per_unit", "discount", "weight", "volume", "barcode", "article", "text",
    "location", "discount_card",
})


class LineTemplate(msgspec.Struct, frozen=True):
    """One line rule: a compiled pattern, the event type it makes (or ""), and where."""

    pattern: re.Pattern[str]
    event: str = ""
    outside: bool = False
    source: str = ""  # the template as written, for messages

    def match(self, line: str) -> dict[str, str] | None:
        """The named groups of `line` (empty dict for no groups), or None."""
        m = self.pattern.search(line)
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}


class TransactionDefinition(msgspec.Struct, frozen=True):
    """A whole printer layout (see the module docstring)."""

    name: str
    start: tuple[LineTemplate, ...]
    end: tuple[LineTemplate, ...]
    lines: tuple[LineTemplate, ...] = ()
    timeout: float = 300.0
    escpos: bool = True
    description: str = ""


class _RawTemplate(msgspec.Struct, forbid_unknown_fields=True):
    regex: str | None = None
    exact: str | None = None
    wildcard: str | None = None
    event: str = ""
    outside: bool = False


class _RawDefinition(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    start: list[_RawTemplate] | _RawTemplate
    end: list[_RawTemplate] | _RawTemplate
    lines: list[_RawTemplate] = []
    timeout: float = 300.0
    escpos: bool = True
    description: str = ""


def _template(raw: _RawTemplate, where: str) -> LineTemplate:
    given = [k for k in ("regex", "exact", "wildcard") if getattr(raw, k) is not None]
    if len(given) != 1:
        raise DefinitionError(f"{where}: give exactly one of regex, exact, wildcard")
    try:
        if raw.regex is not None:
            pattern = re.compile(raw.regex)
            src = raw.regex
        elif raw.exact is not None:
            pattern = re.compile(r"\A\s*" + re.escape(raw.exact.strip()) + r"\s*\Z")
            src = raw.exact
        else:
            assert raw.wildcard is not None
            glob = fnmatch.translate(raw.wildcard.strip())  # "(?s:...)\\Z"
            glob = glob[:-2] if glob.endswith("\\Z") else glob
            pattern = re.compile(r"\A\s*(?:" + glob + r")\s*\Z", re.S)
            src = raw.wildcard
    except re.error as e:
        raise DefinitionError(f"{where}: bad regular expression: {e}") from None
    unknown = set(pattern.groupindex) - GROUP_NAMES
    if unknown:
        raise DefinitionError(f"{where}: group names {sorted(unknown)} are not event fields "
                              f"({', '.join(sorted(GROUP_NAMES))})")
    ev = ""
    if raw.event:
        try:
            ev = event_type(raw.event)
        except Exception as e:
            raise DefinitionError(f"{where}: {e}") from None
    return LineTemplate(pattern, ev, raw.outside, src)


def definition_from_dict(d: dict[str, Any]) -> TransactionDefinition:
    """A compiled definition from a parsed TOML file.

    Raises:
        DefinitionError: unknown keys, bad patterns, unknown group names or event types.
    """
    try:
        raw = msgspec.convert(d, _RawDefinition)
    except msgspec.ValidationError as e:
        raise DefinitionError(f"definition {d.get('name', '?')!r}: {e}") from None
    if not raw.name.strip():
        raise DefinitionError("a definition needs a name")
    if raw.timeout <= 0:
        raise DefinitionError(f"definition {raw.name}: timeout must be positive")

    def many(x: list[_RawTemplate] | _RawTemplate, what: str) -> tuple[LineTemplate, ...]:
        items = x if isinstance(x, list) else [x]
        if what != "lines" and not items:
            raise DefinitionError(f"definition {raw.name}: needs at least one [[{what}]]")
        return tuple(_template(t, f"definition {raw.name} [[{what}]] #{i + 1}")
                     for i, t in enumerate(items))

    return TransactionDefinition(
        name=raw.name.strip(), start=many(raw.start, "start"), end=many(raw.end, "end"),
        lines=many(raw.lines, "lines"), timeout=raw.timeout, escpos=raw.escpos,
        description=raw.description)
