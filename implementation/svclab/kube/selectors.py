"""Label and field selector matching (the subset the fakes need).

``parse_selector`` turns a selector string (``a=b,c!=d,e,!f,g in (x,y)``) or
a lightkube selector mapping into requirements; ``matches`` checks a flat
``{key: value}`` mapping (labels, or field paths such as ``metadata.name``)
against them.  Side-effect-free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from lightkube.core.selector import build_selector

__all__ = ["Operator", "Requirement", "field_values", "matches", "parse_selector"]


class Operator(str, Enum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, values: Mapping[str, str]) -> bool:
        present = self.key in values
        value = values.get(self.key)
        match self.operator:
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
            case Operator.EQUALS | Operator.IN:
                return present and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return value not in self.values


_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


def _parse_term(term: str) -> Requirement:
    if set_match := _SET_TERM.match(term):
        key, op, raw = set_match.groups()
        values = frozenset(v.strip() for v in raw.split(",") if v.strip())
        return Requirement(key, Operator.IN if op == "in" else Operator.NOT_IN, values)
    for token, operator in (("!=", Operator.NOT_EQUALS), ("==", Operator.EQUALS), ("=", Operator.EQUALS)):
        if token in term:
            key, _, value = term.partition(token)
            return Requirement(key.strip(), operator, frozenset({value.strip()}))
    if term.startswith("!"):
        return Requirement(term[1:].strip(), Operator.DOES_NOT_EXIST)
    return Requirement(term, Operator.EXISTS)


def parse_selector(selector: str | Mapping[str, Any] | None, *, for_fields: bool = False) -> list[Requirement]:
    """Parse a selector string or lightkube selector mapping; None means everything."""
    if selector is None:
        return []
    text = selector if isinstance(selector, str) else build_selector(dict(selector), for_fields=for_fields)
    return [_parse_term(term) for term in _split_terms(text)]


def matches(requirements: list[Requirement], values: Mapping[str, str]) -> bool:
    """Whether ``values`` satisfies every requirement."""
    return all(requirement.matches(values) for requirement in requirements)


def field_values(obj: Mapping[str, Any], paths: list[str]) -> dict[str, str]:
    """Flatten the dotted ``paths`` of a JSON object to strings (missing -> "")."""
    result = {}
    for path in paths:
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        result[path] = "" if node is None else str(node).lower() if isinstance(node, bool) else str(node)
    return result
