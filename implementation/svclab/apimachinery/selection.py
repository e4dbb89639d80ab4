"""The vocabulary label and field selectors share (upstream ``pkg/selection``).

:class:`Operator` carries upstream's ``selection.Operator`` spellings; a selector
that does not parse, or names a field its kind cannot be selected by, raises
:class:`SelectorError` with upstream's message text.
"""

from __future__ import annotations

import enum

__all__ = ["Operator", "SelectorError"]


class SelectorError(ValueError):
    """A selector that does not parse, or names a field the kind does not support."""


class Operator(str, enum.Enum):
    """Requirement operators, with upstream's ``selection.Operator`` values."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
