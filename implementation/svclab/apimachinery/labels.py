"""Label selectors, parsed and matched as upstream ``k8s.io/apimachinery/pkg/labels`` does (pure).

A *label selector* is a comma-separated AND of requirements over an object's
``metadata.labels``::

    a=b   a==b   a!=b   a in (x,y)   a notin (x,y)   a   !a   a>3   a<3

``!=`` and ``notin`` also match objects that lack the key; ``in``/``=`` need it.
The grammar, the lexer's idea of an identifier (anything but whitespace and
``=!(),<>``), key/value validation and the error texts follow upstream's
``selector.go``; ``str()`` gives upstream's canonical form (requirements sorted
by key, ``in``/``notin`` values sorted).

Where selectors come from:

* :func:`parse_label_selector` - the text of ``?labelSelector=``;
* :func:`label_selector_from_map` - a plain map such as ``Service.spec.selector``,
  validated (upstream ``ValidatedSelectorFromSet``);
* :class:`ValidatedSetSelector` - the same map, trusted as already validated and
  wrapped without copying (upstream's type of that name): what controllers match
  cached pods with;
* :func:`label_selector_from_api` - a ``metav1.LabelSelector``.

An empty or missing map gives an empty selector, which *matches everything*.
Upstream's endpoints controllers instead treat such a Service as having no
selector and leave its endpoints alone, so callers must test ``.empty`` first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .selection import Operator, SelectorError
from .validation import is_label_value, is_qualified_name

__all__ = [
    "LabelSelector",
    "Requirement",
    "ValidatedSetSelector",
    "label_selector_from_api",
    "label_selector_from_map",
    "parse_label_selector",
]

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _invalid(path: str, value: str, details: list[str]) -> str:
    # Mirrors field.Invalid(...).Error(): "<path>: Invalid value: "<value>": <detail>".
    return f"{path}: Invalid value: {json.dumps(value)}: {'; '.join(details)}"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ANDed term of a label selector: ``key <operator> values``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def create(cls, key: str, operator: Operator, values: Sequence[str] = ()) -> Requirement:
        """Validate like upstream ``NewRequirement``; raise SelectorError on a bad term."""
        errors: list[str] = []
        if key_errors := is_qualified_name(key):
            errors.append(_invalid("key", key, key_errors))
        shown = "[" + " ".join(values) + "]"
        if operator in (Operator.IN, Operator.NOT_IN) and not values:
            errors.append(f"values: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty")
        elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
            errors.append(f"values: Invalid value: {shown}: exact-match compatibility requires one single value")
        elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            errors.append(f"values: Invalid value: {shown}: values set must be empty for exists and does not exist")
        elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if len(values) != 1:
                errors.append(
                    f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required"
                )
            for index, value in enumerate(values):
                if not _INTEGER.fullmatch(value):
                    errors.append(
                        _invalid(f"values[{index}]", value, ["for 'Gt', 'Lt' operators, the value must be an integer"])
                    )
        for index, value in enumerate(values):
            if value_errors := is_label_value(value):
                errors.append(_invalid(f"values[{index}][{key}]", value, value_errors))
        if errors:
            raise SelectorError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return cls(key, operator, tuple(values))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Upstream ``Requirement.Matches``: absent keys satisfy ``!=``, ``notin``, ``!``."""
        present = self.key in labels
        if self.operator in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return present
        if self.operator is Operator.DOES_NOT_EXIST:
            return not present
        if not present or not _INTEGER.fullmatch(labels[self.key]):
            return False
        if self.operator is Operator.GREATER_THAN:
            return int(labels[self.key]) > int(self.values[0])
        return int(labels[self.key]) < int(self.values[0])

    def __str__(self) -> str:
        if self.operator is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator is Operator.EXISTS:
            return self.key
        symbol = {
            Operator.EQUALS: "=",
            Operator.DOUBLE_EQUALS: "==",
            Operator.NOT_EQUALS: "!=",
            Operator.IN: " in ",
            Operator.NOT_IN: " notin ",
            Operator.GREATER_THAN: ">",
            Operator.LESS_THAN: "<",
        }[self.operator]
        values = ",".join(sorted(self.values))
        if self.operator in (Operator.IN, Operator.NOT_IN):
            values = f"({values})"
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """An AND of requirements, sorted by key. No requirements = matches everything.

    ``nothing`` marks upstream's ``labels.Nothing()``: it matches no object.
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (upstream ``Empty()``)."""
        return not self.requirements and not self.nothing

    @property
    def selects_everything(self) -> bool:
        """Alias of ``empty`` that reads better at Service call sites."""
        return self.empty

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels (None = no labels) is selected."""
        if self.nothing:
            return False
        present = labels or {}
        return all(requirement.matches(present) for requirement in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (``=``, ``==`` or one-value ``in``), else None."""
        for requirement in self.requirements:
            if requirement.key == key:
                exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                if requirement.operator in exact and len(requirement.values) == 1:
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


@dataclass(frozen=True, slots=True)
class ValidatedSetSelector:
    """``key=value`` for every pair of a map already known to be valid labels.

    Upstream's ``ValidatedSetSelector``: it wraps the map instead of building
    requirements, so matching cached objects against a Service's selector costs
    one dict lookup per pair. The caller must not mutate ``labels`` afterwards.
    An empty map matches everything.
    """

    labels: Mapping[str, str]

    @property
    def empty(self) -> bool:
        return not self.labels

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether ``labels`` carries every pair (None = no labels)."""
        present = labels or {}
        return all(present.get(key) == value for key, value in self.labels.items())

    def requires_exact_match(self, key: str) -> str | None:
        return self.labels.get(key)

    def __str__(self) -> str:
        return ",".join(f"{key}={self.labels[key]}" for key in sorted(self.labels))


def _sorted_selector(requirements: list[Requirement]) -> LabelSelector:
    # Upstream sorts by key only; a stable sort keeps same-key terms in input order.
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


_SPECIAL = frozenset("=!(),<>")
_WHITESPACE = frozenset(" \t\r\n")
_SYMBOLS = {"(", ")", ",", "!", "==", "=", ">", "<", "!=", "in", "notin"}


def _lex(text: str) -> list[tuple[str, str]]:
    """Split into (kind, literal) tokens; kind is "id", a symbol, "end" or "error"."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= len(text):
            tokens.append(("end", ""))
            return tokens
        if text[pos] in _SPECIAL:
            # Longest run of special characters that still spells a known symbol.
            end, best = pos, ""
            while end < len(text) and text[end] in _SPECIAL:
                candidate = text[pos : end + 1]
                if candidate in _SYMBOLS:
                    best = candidate
                elif best:
                    break
                end += 1
            if not best:
                tokens.append(("error", f"error expected: keyword found '{text[pos:end]}'"))
                return tokens
            tokens.append((best, best))
            pos += len(best)
            continue
        start = pos
        while pos < len(text) and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append((word if word in ("in", "notin") else "id", word))


class _LabelParser:
    """Recursive-descent parser over the token list, as upstream's ``Parser``."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.position = 0

    def peek(self, values_context: bool = True) -> tuple[str, str]:
        return self._as(self.tokens[self.position], values_context)

    def take(self, values_context: bool = True) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return self._as(token, values_context)

    @staticmethod
    def _as(token: tuple[str, str], values_context: bool) -> tuple[str, str]:
        # In a values context the keywords in/notin are plain identifiers.
        if values_context and token[0] in ("in", "notin"):
            return ("id", token[1])
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self.peek()
            if kind == "end":
                return requirements
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            kind, literal = self.take()
            if kind == "end":
                return requirements
            if kind != ",":
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            next_kind, next_literal = self.peek()
            if next_kind not in ("id", "!"):
                raise SelectorError(f"found '{next_literal}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        negated = False
        kind, literal = self.take()
        if kind == "!":
            negated = True
            kind, literal = self.take()
        if kind != "id":
            raise SelectorError(f"found '{literal}', expected: identifier")
        if errors := is_qualified_name(literal):
            raise SelectorError(_invalid("", literal, errors))
        if negated:
            return Requirement.create(literal, Operator.DOES_NOT_EXIST)
        if self.peek()[0] in ("end", ","):
            return Requirement.create(literal, Operator.EXISTS)
        operator = self.operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self.value_set()
        else:
            values = self.exact_value()
        return Requirement.create(literal, operator, sorted(values))

    def operator(self) -> Operator:
        kind, literal = self.take(values_context=False)
        operators = {
            "in": Operator.IN,
            "=": Operator.EQUALS,
            "==": Operator.DOUBLE_EQUALS,
            ">": Operator.GREATER_THAN,
            "<": Operator.LESS_THAN,
            "notin": Operator.NOT_IN,
            "!=": Operator.NOT_EQUALS,
        }
        if kind not in operators:
            raise SelectorError(f"found '{literal}', expected: in, notin, =, ==, !=, gt, lt")
        return operators[kind]

    def value_set(self) -> set[str]:
        kind, literal = self.take()
        if kind != "(":
            raise SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self.peek()
        if kind == ")":
            self.take()
            return {""}
        if kind not in ("id", ","):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.take()[0] != ")":
            raise SelectorError(f"found '{literal}', expected: ')'")
        return values

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            kind, literal = self.take()
            if kind == "id":
                values.add(literal)
                next_kind, next_literal = self.peek()
                if next_kind == ")":
                    return values
                if next_kind != ",":
                    raise SelectorError(f"found '{next_literal}', expected: ',' or ')'")
            elif kind == ",":
                # "(,a", "a,,b" and "a,)" each contribute the empty value.
                if not values:
                    values.add("")
                next_kind = self.peek()[0]
                if next_kind in (")", ","):
                    values.add("")
                if next_kind == ")":
                    return values
            else:
                raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.peek()[0] in ("end", ","):
            return {""}
        kind, literal = self.take()
        if kind == "id":
            return {literal}
        raise SelectorError(f"found '{literal}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse upstream label selector syntax; "" selects everything. Side-effect-free."""
    return _sorted_selector(_LabelParser(text).parse())


def label_selector_from_map(labels: Mapping[str, str] | None) -> LabelSelector:
    """``key=value`` requirements for a plain map such as ``Service.spec.selector``.

    An empty or missing map gives an empty selector (matches everything); see the
    module docstring for why Service callers must check ``.empty`` themselves.
    Raises SelectorError for keys or values a label could not have.
    """
    return _sorted_selector(
        [Requirement.create(key, Operator.EQUALS, [value]) for key, value in (labels or {}).items()]
    )


_API_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_from_api(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` (matchLabels + matchExpressions).

    As upstream ``LabelSelectorAsSelector``: None (a nil selector) matches nothing,
    an empty selector ``{}`` matches everything.
    """
    if selector is None:
        return LabelSelector(nothing=True)
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return LabelSelector()
    requirements = [
        Requirement.create(key, Operator.EQUALS, [value]) for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        name = expression.get("operator", "")
        if name not in _API_OPERATORS:
            raise SelectorError(f"{json.dumps(name)} is not a valid label selector operator")
        requirements.append(
            Requirement.create(expression.get("key", ""), _API_OPERATORS[name], list(expression.get("values") or []))
        )
    return _sorted_selector(requirements)
