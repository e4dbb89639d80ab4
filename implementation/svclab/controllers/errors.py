"""Errors a controller sync raises; the work queue retries the key on any of them.

ControllerError
├── StaleCacheError      the informer has not caught up with our own writes
├── WriteError           an API call failed (verb, kind, ns/name, cause)
└── NodeNotFoundError    pods were left out because their Node is unknown

``write`` is the one place where an API call's failure becomes a ``WriteError``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from svclab.kube.models import meta
from svclab.kube.reflector import error_status_code

__all__ = [
    "ControllerError",
    "NodeNotFoundError",
    "StaleCacheError",
    "WriteError",
    "write",
]

T = TypeVar("T")


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


async def write(verb: str, obj: Any, call: Awaitable[T], *, missing_ok: bool = False) -> T | None:
    """Await an API call; 404 is ``None`` when ``missing_ok``; other failures ``WriteError``."""
    try:
        return await call
    except Exception as error:
        if missing_ok and error_status_code(error) == 404:
            return None
        target = meta(obj)
        name = target.name or f"{target.generateName or ''}*"
        raise WriteError(
            verb, getattr(obj, "kind", None) or type(obj).__name__, f"{target.namespace}/{name}", error
        ) from error
