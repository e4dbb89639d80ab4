"""Errors a controller sync raises; the work queue retries the key on any of them.

ControllerError
├── StaleCacheError      the informer has not caught up with our own writes
├── WriteError           an API call failed (verb, kind, ns/name, cause)
└── NodeNotFoundError    pods were left out because their Node is unknown
"""

from __future__ import annotations

__all__ = [
    "ControllerError",
    "NodeNotFoundError",
    "StaleCacheError",
    "WriteError",
]


class ControllerError(Exception):
    """Base of the errors of ``svclab.controllers``."""


class StaleCacheError(ControllerError):
    """The cache is older than what this controller wrote; retry later."""


class WriteError(ControllerError):
    """An API write failed.  ``str()`` names the verb, kind, object and cause."""

    def __init__(self, verb: str, kind: str, key: str, cause: BaseException) -> None:
        super().__init__(f"failed to {verb} {kind} {key}: {cause}")
        self.verb, self.kind, self.key = verb, kind, key


class NodeNotFoundError(ControllerError):
    """Some pods name a Node the cache does not hold; the rest was written."""
