"""Field errors, printed exactly as apimachinery's ``field.Error`` prints them.

A validator returns a list of :class:`FieldError`. Each one knows its reason
(:class:`ErrorType`, the ``reason`` of a ``metav1.StatusCause``), the field path
(``spec.ports[0].port``), the offending value and a detail. :meth:`FieldError.message`
renders the body the way upstream's ``ErrorBody`` does: Required, Forbidden and
TooLong errors never show the value; other values are shown the way Go's ``fmt``
shows them (strings quoted with ``%q``, numbers and booleans plain, a nil pointer
as ``null``, structs and slices with ``%#v``). Values that upstream shows as Go
structs or typed slices are passed as :class:`GoLiteral` with their text.

:func:`invalid_status` builds the ``metav1.Status`` of a 422 Invalid answer with
upstream's aggregate message: one error as is, several de-duplicated inside
``[...]`` joined by ``", "``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ErrorType",
    "FieldError",
    "GoLiteral",
    "dedupe",
    "duplicate",
    "forbidden",
    "go_quote",
    "go_slice",
    "go_value",
    "invalid",
    "invalid_status",
    "not_supported",
    "required",
    "too_long",
    "too_many",
]


class ErrorType(str, Enum):
    """Upstream ``field.ErrorType``: the ``reason`` of a Status cause."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    DUPLICATE = "FieldValueDuplicate"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"

    @property
    def label(self) -> str:
        """The words upstream's ``ErrorType.String()`` prints for this type."""
        return _LABELS[self]


_LABELS = {
    ErrorType.REQUIRED: "Required value",
    ErrorType.INVALID: "Invalid value",
    ErrorType.NOT_SUPPORTED: "Unsupported value",
    ErrorType.DUPLICATE: "Duplicate value",
    ErrorType.FORBIDDEN: "Forbidden",
    ErrorType.TOO_LONG: "Too long",
    ErrorType.TOO_MANY: "Too many",
}

# Types whose value upstream never prints (ErrorBody's first switch arms).
_VALUE_HIDDEN = frozenset({ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG})


@dataclass(frozen=True, slots=True)
class GoLiteral:
    """A bad value whose Go ``%#v`` text is known, e.g. ``[]string{"a"}``."""

    text: str


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field-level validation error (upstream ``field.Error``)."""

    type: ErrorType
    field: str
    bad_value: object
    detail: str

    def message(self) -> str:
        """The error body without the field, exactly as upstream's ``ErrorBody``."""
        if self.type in _VALUE_HIDDEN:
            text = self.type.label
        else:
            text = f"{self.type.label}: {go_value(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.message()}"

    def cause(self) -> dict[str, str]:
        """The ``metav1.StatusCause`` of this error."""
        return {"reason": self.type.value, "message": self.message(), "field": self.field}


def go_quote(text: str) -> str:
    """``strconv.Quote``: double quotes, Go escapes, printable Unicode kept."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_value(value: object) -> str:
    """How upstream's ErrorBody prints a bad value (``%v``, ``%q`` or ``%#v``)."""
    if value is None:
        return "null"
    if isinstance(value, GoLiteral):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
        return "map[string]string{" + items + "}"
    if isinstance(value, Sequence):
        return go_slice(value).text
    return repr(value)


def go_slice(values: Iterable[object], type_name: str = "[]string") -> GoLiteral:
    """A Go slice literal as ``%#v`` prints it, e.g. ``[]string{"a", "b"}``."""
    return GoLiteral(type_name + "{" + ", ".join(go_value(v) for v in values) + "}")


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, path, "", detail)


def invalid(path: str, value: object, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, path, value, detail)


def not_supported(path: str, value: object, supported: Sequence[str]) -> FieldError:
    """Upstream ``field.NotSupported``: the supported values quoted, in the given order."""
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return FieldError(ErrorType.NOT_SUPPORTED, path, value, detail)


def duplicate(path: str, value: object) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, path, value, "")


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, path, "", detail)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, path, "", f"must have at most {max_length} bytes")


def too_many(path: str, actual: int, max_quantity: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, path, actual, f"must have at most {max_quantity} items")


def dedupe(errors: Iterable[FieldError]) -> list[FieldError]:
    """Drop repeated errors, keeping the first of each (update runs overlap)."""
    seen: set[tuple[ErrorType, str, str]] = set()
    out: list[FieldError] = []
    for err in errors:
        key = (err.type, err.field, err.message())
        if key not in seen:
            seen.add(key)
            out.append(err)
    return out


def _aggregate(errors: Sequence[FieldError]) -> str:
    """Upstream ``ErrorList.ToAggregate().Error()``: de-duplicated, bracketed if several."""
    texts: list[str] = []
    for err in errors:
        text = str(err)
        if text not in texts:
            texts.append(text)
    if len(texts) == 1:
        return texts[0]
    return "[" + ", ".join(texts) + "]"


def invalid_status(kind: str, group: str, name: str, errors: list[FieldError]) -> dict[str, object]:
    """The ``metav1.Status`` (422, reason Invalid) the API server answers with.

    Side-effect-free. The message names the qualified kind (``Kind.group`` for
    non-core groups), the object name and the aggregated errors, like
    ``apierrors.NewInvalid``; ``details.causes`` keeps every error in order.
    """
    qualified = f"{kind}.{group}" if group else kind
    message = f"{qualified} {go_quote(name)} is invalid"
    if errors:
        message += f": {_aggregate(errors)}"
    details: dict[str, object] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [err.cause() for err in errors]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }
