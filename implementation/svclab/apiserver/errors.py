"""API errors as metav1.Status objects, the way kube-apiserver words them.

ApiError            any error answered with a Status body
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "internal",
    "invalid",
    "method_not_allowed",
    "not_found",
    "unauthorized",
    "unsupported_media_type",
]


class ApiError(Exception):
    """An error the server answers with a `Status` body and an HTTP code."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    what = _qualified(group, plural)
    details = {"name": name, "kind": plural} | ({"group": group} if group else {})
    return ApiError(404, "NotFound", f'{what} "{name}" not found', details)


def already_exists(group: str, plural: str, name: str) -> ApiError:
    what = _qualified(group, plural)
    details = {"name": name, "kind": plural} | ({"group": group} if group else {})
    return ApiError(409, "AlreadyExists", f'{what} "{name}" already exists', details)


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    what = _qualified(group, plural)
    details = {"name": name, "kind": plural} | ({"group": group} if group else {})
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": {why}', details)


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(status: dict[str, Any]) -> ApiError:
    """Wrap a ready-made 422 Invalid Status (see validation.invalid_status)."""
    return ApiError(422, "Invalid", status["message"], status.get("details"))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(403, "Forbidden", message, details)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str, *, strategic: bool = True) -> ApiError:
    """415 for a PATCH body type; ``strategic=False`` for custom resources, which have none."""
    accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    if strategic:
        accepted += ", application/strategic-merge-patch+json"
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f"{accepted} (got {content_type})",
    )


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
