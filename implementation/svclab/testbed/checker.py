"""Validation plumbing of the testbed spec: problem lines, durations, the error.

``Checker`` collects problems as ``SOURCE: FIELD.PATH: message`` lines so a
user sees every problem of a file at once; ``SpecError`` carries them.
Split from ``svclab.testbed.spec`` so the spec module stays about the spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from svclab.testbed import networking

__all__ = ["Checker", "Duration", "SpecError", "parse_duration"]


class SpecError(ValueError):
    """A spec failed validation; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class Duration:
    """A Go-style duration (``500ms``, ``1s``, ``1m30s``) kept with its text."""

    text: str
    seconds: float


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> Duration:
    """Parse a Go duration string; raises ValueError. Side-effect-free."""
    if not isinstance(text, str) or not text:
        raise ValueError("must be a duration like 500ms, 1s or 1m30s")
    position, seconds = 0, 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            raise ValueError("must be a duration like 500ms, 1s or 1m30s")
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return Duration(text, seconds)


class Checker:
    """Collects problems as ``SOURCE: PATH: message`` lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}")

    def mapping(self, value: Any, path: str, allowed: frozenset[str] | None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping")
            return {}
        for key in value:
            if allowed is not None and key not in allowed:
                self.fail(f"{path}.{key}", "unknown field")
        return dict(value)

    def choice(self, value: Any, path: str, enum: type[StrEnum], default: str) -> Any:
        if value is None:
            return enum(default)
        allowed = [member.value for member in enum]
        if value not in allowed:
            self.fail(path, "must be one of " + ", ".join(allowed))
            return enum(default)
        return enum(value)

    def subnets(self, value: Any, path: str, ip_family: str, default: str) -> str:
        """kind's podSubnet / serviceSubnet: one CIDR, or two (dual); kind's default."""
        if value is None:
            return default
        text, problem = networking.check_subnets(value, ip_family)
        if problem:
            self.fail(path, problem)
            return default
        return text

    def duration(self, value: Any, path: str, default: Duration) -> Duration:
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return default
