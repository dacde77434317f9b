"""Paged, sorted, filtered lists, as every ``GET /…s`` endpoint of the service offers.

A ``ListSpec`` names what one list may be filtered and sorted by; a ``Query``
is what a caller asked for. ``ListSpec.compile`` checks the query against the
spec (bad field, operator, value, sort or page → ``ValidationFailed``) and
turns it into SQL with bound parameters, so user strings never reach the SQL
text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .clock import iso, parse_iso
from .errors import ValidationFailed

OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "starts_with", "ends_with", "in", "not_contains")
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10
#: Most sort keys one list request may give (the service's lists sort by a few fields; SQLite
#: refuses an ORDER BY of more than 10,000 terms).
MAX_SORT_KEYS = 20
#: Longest text a text filter may look for (SQLite refuses LIKE patterns past 50,000 bytes).
MAX_FILTER_TEXT = 10_000

#: An integer as .NET's ``int.Parse`` (``NumberStyles.Integer``) reads one: ASCII digits, an optional
#: sign, whitespace around. Python's ``int`` also takes ``1_000`` and other scripts' digits (``٥``).
_DOTNET_INT = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+[ \t\n\v\f\r]*")


def strict_int(text: str) -> int | None:
    """``text`` as the service parses an integer (``_DOTNET_INT``); None if it is not one."""
    if len(text) > 1000 or not _DOTNET_INT.fullmatch(text):
        return None
    return int(text)

Kind = Literal["str", "int", "bool", "time"]


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: str | list[str]


@dataclass
class Query:
    """A list request: 1-based page, page size, sort keys (``-`` = descending), filters."""

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    sort: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    logic: str = "and"


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size) if self.total else 0


@dataclass(frozen=True)
class ListSpec:
    """Filterable fields (API name -> column, kind) and sortable fields (API name -> column)."""

    filters: dict[str, tuple[str, Kind]]
    sorts: dict[str, str]
    default_sort: str = "-created_at"

    def compile(self, query: Query) -> tuple[str, list[Any], str]:
        errors: dict[str, list[str]] = {}
        if query.page < 1:
            errors.setdefault("page", []).append("'page' must be greater than or equal to '1'.")
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            errors.setdefault("page_size", []).append(
                f"'page_size' must be between 1 and {MAX_PAGE_SIZE}. You entered {query.page_size}.")
        if query.logic not in ("and", "or"):
            errors.setdefault("logic", []).append("'logic' must be 'and' or 'or'.")
        clauses: list[str] = []
        params: list[Any] = []
        for flt in query.filters:
            key = f"{flt.field}[{flt.op}]"
            if flt.field not in self.filters:
                errors.setdefault(flt.field, []).append(f"'{flt.field}' is not a filterable field.")
                continue
            if flt.op not in OPERATORS:
                errors.setdefault(key, []).append(f"'{flt.op}' is not a filter operator.")
                continue
            column, kind = self.filters[flt.field]
            try:
                clause, values = _clause(column, kind, flt.op, flt.value)
            except ValueError as exc:
                errors.setdefault(key, []).append(str(exc))
                continue
            if clause:
                clauses.append(clause)
                params.extend(values)
        order: list[str] = []
        if len(query.sort) > MAX_SORT_KEYS:
            errors.setdefault("sort", []).append(f"At most {MAX_SORT_KEYS} sort keys may be given; "
                                                 f"{len(query.sort)} were.")
        for key in (query.sort or [self.default_sort])[:MAX_SORT_KEYS]:
            name = key[1:] if key.startswith("-") else key
            if name not in self.sorts:
                errors.setdefault("sort", []).append(f"'{key}' is not a sortable field.")
                continue
            # Text sorts ignore case, as the service's database collation does ("Bravo" after "alpha").
            order.append(f"[{self.sorts[name]}] COLLATE NOCASE {'DESC' if key.startswith('-') else 'ASC'}")
        if errors:
            raise ValidationFailed(errors)
        joiner = " AND " if query.logic == "and" else " OR "
        where = "(" + joiner.join(clauses) + ")" if clauses else "1"
        order.append("rowid ASC")  # a stable tie-break: equal keys keep insertion order
        return where, params, ", ".join(order)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _coerce(kind: Kind, raw: str) -> Any:
    if kind == "int":
        value = strict_int(raw)
        if value is None or not -2**63 <= value < 2**63:  # beyond SQLite's integers
            raise ValueError(f"'{raw[:100]}' is not a valid integer.")
        return value
    if kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"'{raw}' is not a valid boolean.")
        return 1 if raw.lower() == "true" else 0
    if kind == "time":
        try:
            return iso(parse_iso(raw))
        except ValueError:
            raise ValueError(f"'{raw}' is not a valid date-time with offset.") from None
    return raw


def _clause(column: str, kind: Kind, op: str, value: str | list[str]) -> tuple[str, list[Any]]:
    col = f"[{column}]"
    if op == "in":
        raw = value if isinstance(value, list) else [value]
        if len(raw) == 1:  # field[in]=a,b is the same as field[in]=a&field[in]=b
            raw = [v for v in raw[0].split(",") if v != ""]
        items = [_coerce(kind, v) for v in raw]
        if not items:
            return "0", []
        return f"{col} IN ({', '.join('?' for _ in items)})", items
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"'{op}' takes one value.")
        value = value[0]
    if op in ("contains", "starts_with", "ends_with", "not_contains"):
        if kind != "str":
            raise ValueError(f"'{op}' applies to text fields only.")
        if len(value) > MAX_FILTER_TEXT:
            raise ValueError(f"'{op}' looks for at most {MAX_FILTER_TEXT} characters; {len(value)} were given.")
        if value == "" and op != "not_contains":
            return "", []  # the SDK always sends name[contains]= : empty matches everything
        pattern = {"contains": "%{}%", "not_contains": "%{}%", "starts_with": "{}%", "ends_with": "%{}"}[op]
        like = pattern.format(_like_escape(value))
        negate = "NOT " if op == "not_contains" else ""
        return f"{negate}(COALESCE({col}, '') LIKE ? ESCAPE '\\')", [like]
    sql_op = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    coerced = _coerce(kind, value)
    if op == "neq":
        return f"({col} IS NULL OR {col} != ?)", [coerced]
    return f"{col} {sql_op} ?", [coerced]
