"""PatchError: a PATCH body that cannot be decoded or applied, with the HTTP code to answer.

400 for undecodable bodies and malformed directives, 422 for patches that do
not apply; the dispatcher's unknown Content-Type (415) is its subclass
:class:`~.apply.UnsupportedMediaType`.
"""

from __future__ import annotations

__all__ = ["PatchError"]


class PatchError(ValueError):
    """A patch that cannot be decoded or applied; ``code`` is the HTTP status to answer."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code
