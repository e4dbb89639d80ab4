"""Label and field selectors, parsed and matched as the real API server does (pure).

A *label selector* (``?labelSelector=``) is a comma-separated AND of requirements
over an object's ``metadata.labels``::

    a=b   a==b   a!=b   a in (x,y)   a notin (x,y)   a   !a   a>3   a<3

``!=`` and ``notin`` also match objects that lack the key; ``in``/``=`` need it.
The grammar, the lexer's idea of an identifier (anything but whitespace and
``=!(),<>``), key/value validation and the error texts follow upstream
``k8s.io/apimachinery/pkg/labels/selector.go``; ``str()`` gives upstream's
canonical form (requirements sorted by key, ``in``/``notin`` values sorted).

A *field selector* (``?fieldSelector=``) is a comma-separated AND of
``field=value``, ``field==value`` or ``field!=value``; ``\\,`` ``\\=`` and ``\\\\``
escape inside values (upstream ``fields/selector.go``). Which fields a kind
supports comes from upstream's field label conversion functions
(``pkg/apis/core/v1/conversion.go`` and the default metav1 conversion); any other
field is a :class:`SelectorError` ``field label not supported: <field>``, which the
server answers with 400 BadRequest. A field missing from an object reads as "".

Service selectors (``Service.spec.selector``) are plain maps: an empty or missing
map gives an empty selector, which *matches everything* as a label selector.
Upstream's endpoints controllers instead treat such a Service as having no
selector and leave its endpoints alone, so callers must test ``.empty`` first.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SUPPORTED_FIELDS",
    "SelectorError",
    "field_selector_name",
    "label_selector_from_api",
    "label_selector_from_map",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector that does not parse, or names a field the kind does not support."""


class Operator(str, enum.Enum):
    """Label requirement operators, with upstream's ``selection.Operator`` values."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# ---------------------------------------------------------------------------
# Validation of label keys and values (upstream content.IsLabelKey/IsLabelValue)

_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _label_key_errors(key: str) -> list[str]:
    errors: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errors.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN_RE.match(prefix):
                errors.append(
                    "prefix part " + _regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com")
                )
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME_RE.match(name):
        errors.append(
            "name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def _label_value_errors(value: str) -> list[str]:
    errors: list[str] = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.match(value):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def _invalid(path: str, value: str, details: list[str]) -> str:
    # Mirrors field.Invalid(...).Error(): "<path>: Invalid value: "<value>": <detail>".
    return f"{path}: Invalid value: {json.dumps(value)}: {'; '.join(details)}"


# ---------------------------------------------------------------------------
# Label selectors


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
        if key_errors := _label_key_errors(key):
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
                if not re.fullmatch(r"[+-]?[0-9]+", value):
                    errors.append(
                        _invalid(f"values[{index}]", value, ["for 'Gt', 'Lt' operators, the value must be an integer"])
                    )
        for index, value in enumerate(values):
            if value_errors := _label_value_errors(value):
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
        if not present or not re.fullmatch(r"[+-]?[0-9]+", labels[self.key]):
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
        if errors := _label_key_errors(literal):
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


# ---------------------------------------------------------------------------
# Field selectors

FieldGetter = Callable[[Mapping[str, Any]], str]


def _path(*keys: str) -> FieldGetter:
    def get(obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return _field_text(value)

    return get


def _field_text(value: Any) -> str:
    # Upstream formats selectable fields as Go would: bools via FormatBool, absent = "".
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pod_ip(pod: Mapping[str, Any]) -> str:
    # Upstream PodToSelectableFields uses podIPs[0], which mirrors status.podIP.
    status = pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    if pod_ips and isinstance(pod_ips[0], Mapping):
        return _field_text(pod_ips[0].get("ip"))
    return _field_text(status.get("podIP"))


def _event_source(event: Mapping[str, Any]) -> str:
    # Upstream: source.component, falling back to reportingComponent when empty.
    component = _path("source", "component")(event)
    return component or _path("reportingComponent")(event)


_META_NAME = {"metadata.name": _path("metadata", "name")}
_META = {**_META_NAME, "metadata.namespace": _path("metadata", "namespace")}

# Field labels per kind, from upstream's AddFieldLabelConversionFunc tables; a kind
# that is not listed gets the default metav1 conversion (name and namespace).
SUPPORTED_FIELDS: Mapping[str, Mapping[str, FieldGetter]] = {
    "Pod": {
        **_META,
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda pod: _field_text(bool((pod.get("spec") or {}).get("hostNetwork"))),
        "status.phase": _path("status", "phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "Node": {
        **_META_NAME,
        "spec.unschedulable": lambda node: _field_text(bool((node.get("spec") or {}).get("unschedulable"))),
    },
    "Namespace": {**_META_NAME, "status.phase": _path("status", "phase")},
    "Service": {**_META, "spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
    "Event": {
        **_META,
        **{
            f"involvedObject.{name}": _path("involvedObject", name)
            for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _event_source,
        "type": _path("type"),
    },
}

# Old clients' spellings that upstream's conversion rewrites.
_FIELD_ALIASES: Mapping[tuple[str, str], str] = {("Pod", "spec.host"): "spec.nodeName"}


def _fields_of(kind: str) -> Mapping[str, FieldGetter]:
    return SUPPORTED_FIELDS.get(kind, _META)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field=value`` (or ``field!=value`` when ``negated``) on one selectable field."""

    field: str
    value: str
    negated: bool = False

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'!=' if self.negated else '='}{escaped}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """An AND of field requirements for one kind. No requirements = everything."""

    kind: str
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether `obj` (a JSON dict of this selector's kind) is selected."""
        fields = _fields_of(self.kind)
        for requirement in self.requirements:
            equal = fields[requirement.field](obj) == requirement.value
            if equal == requirement.negated:
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped (escapes are kept)."""
    terms, start, escaped = [], 0, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # At each position try "!=", then "==", then "=", as upstream's splitTerm does.
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Upstream prints the rune with %v, i.e. its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str, kind: str) -> FieldSelector:
    """Parse a field selector for `kind`; "" selects everything. Side-effect-free.

    Raises SelectorError for syntax errors and for fields the kind does not
    support (``field label not supported: <field>``).
    """
    requirements: list[FieldRequirement] = []
    fields = _fields_of(kind)
    for term in sorted(_split_terms(text)) if text else []:
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, raw_value = parts
        value = _unescape(raw_value)
        field = _FIELD_ALIASES.get((kind, field), field)
        if field not in fields:
            raise SelectorError(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, value, negated=operator == "!="))
    return FieldSelector(kind, tuple(requirements))


def field_selector_name(selector: FieldSelector) -> str | None:
    """The name a selector pins with ``metadata.name=X``, else None.

    Lets the server serve ``kubectl get -w NAME`` from one key instead of a scan.
    """
    for requirement in selector.requirements:
        if requirement.field == "metadata.name" and not requirement.negated:
            return requirement.value
    return None
