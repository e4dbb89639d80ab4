"""Controller references: who owns an object, and which objects a controller claims.

Upstream ``ControllerRefManager.ClaimObject``: an object with our controller
reference stays ours while our selector matches it, and is released
(reference removed) when it no longer does; an orphan (no controller
reference) that the selector matches and that is not being deleted is
adopted; objects of another controller are left alone.  A controller that is
itself being deleted neither adopts nor releases.  ``plan_claims`` decides,
the shell writes the adoption and release patches (``adoption_patch`` and
``release_patch``, JSON merge patches guarded by the object's
resourceVersion).  Side-effect-free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lightkube.models.meta_v1 import OwnerReference

from svclab.kube.models import meta

__all__ = [
    "Claims",
    "adoption_patch",
    "controller_of",
    "new_controller_ref",
    "plan_claims",
    "release_patch",
]

T = TypeVar("T")


def controller_of(obj: Any) -> OwnerReference | None:
    """The ownerReference with ``controller: true`` (upstream ``GetControllerOf``)."""
    for ref in meta(obj).ownerReferences or []:
        if ref.controller:
            return ref
    return None


def new_controller_ref(owner: Any, *, api_version: str, kind: str) -> OwnerReference:
    """Upstream ``NewControllerRef``: controller and blockOwnerDeletion set."""
    return OwnerReference(
        apiVersion=api_version,
        kind=kind,
        name=meta(owner).name or "",
        uid=meta(owner).uid or "",
        controller=True,
        blockOwnerDeletion=True,
    )


@dataclass(frozen=True, slots=True)
class Claims(Generic[T]):
    """What a controller does with the objects it looked at.

    ``owned``: already ours and still selected; ``adopt``: orphans to take;
    ``release``: ours but no longer selected.
    """

    owned: tuple[T, ...]
    adopt: tuple[T, ...]
    release: tuple[T, ...]


def plan_claims(
    owner: Any, candidates: Sequence[T], selects: Callable[[T], bool], *, owner_deleting: bool = False
) -> Claims[T]:
    """Sort ``candidates`` into owned, to adopt and to release (see the module docstring)."""
    uid = meta(owner).uid
    owned: list[T] = []
    adopt: list[T] = []
    release: list[T] = []
    for obj in candidates:
        ref = controller_of(obj)
        if ref is not None:
            if ref.uid != uid:
                continue
            if selects(obj):
                owned.append(obj)
            elif not owner_deleting:
                release.append(obj)
            continue
        if owner_deleting or meta(obj).deletionTimestamp is not None or not selects(obj):
            continue
        adopt.append(obj)
    return Claims(tuple(owned), tuple(adopt), tuple(release))


def _refs(obj: Any) -> list[dict[str, Any]]:
    return [ref.to_dict() for ref in meta(obj).ownerReferences or []]


def adoption_patch(obj: Any, controller_ref: OwnerReference) -> dict[str, Any]:
    """The merge patch adding ``controller_ref`` to ``obj``'s ownerReferences."""
    return {
        "metadata": {
            "ownerReferences": [*_refs(obj), controller_ref.to_dict()],
            "resourceVersion": meta(obj).resourceVersion,
        }
    }


def release_patch(obj: Any, owner_uid: str) -> dict[str, Any]:
    """The merge patch removing the ownerReference to ``owner_uid`` from ``obj``."""
    kept = [ref for ref in _refs(obj) if ref.get("uid") != owner_uid]
    return {"metadata": {"ownerReferences": kept or None, "resourceVersion": meta(obj).resourceVersion}}
