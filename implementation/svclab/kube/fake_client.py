"""FakeClient: an in-memory ``lightkube.AsyncClient`` for unit tests.

It implements the calls svclab's controllers and proxy make (``get``,
``list``, ``watch``, ``create``, ``replace``, ``patch``, ``apply``,
``delete``) with the API server's rules that matter to them: resourceVersions
increase on every write, ``replace`` with a stale ``metadata.resourceVersion``
gets 409 Conflict, missing objects 404, duplicate creates 409 AlreadyExists.
Every call is recorded as an ``Action`` (verb, kind, namespace, name, body).

Objects are stored as JSON dicts and re-decoded on the way out, so neither
side can mutate the other's instances.  Strategic merge patches are applied
as JSON merge patches (lists are replaced, not merged by key): enough for the
status/count/annotation patches controllers send.

The workload kinds (``apps/v1`` Deployment, ReplicaSet, DaemonSet,
StatefulSet, ``v1`` ReplicationController, ``batch/v1`` Job, CronJob) follow
kube-apiserver's strategies for objects with a ``status`` subresource:
``metadata.generation`` is 1 on create and grows when a write changes the
spec; a write to the object keeps the stored status, a write to ``/status``
(lightkube's ``...Status`` resources) changes only the status.

Watches see every write as ADDED/MODIFIED/DELETED; tests can also send
BOOKMARKs (``send_bookmark``), expire watches with 410 (``expire_watches``)
or close them cleanly (``close_watches``).  Re-exported by
``svclab.kube.testing``.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
from lightkube import ApiError
from lightkube.core.generic_client import ListAsyncIterable
from lightkube.core.resource import NamespacedResource, NamespacedSubResource, api_info
from lightkube.models.meta_v1 import Status
from lightkube.types import PatchType

from svclab.apimachinery.fields import FieldSelector, parse_field_selector, read_field
from svclab.apimachinery.labels import LabelSelector, parse_label_selector
from svclab.apimachinery.merge_patch import merge_patch
from svclab.apimachinery.selection import SelectorError

from .list_watch import selector_text
from .names import NamespacedName

__all__ = ["Action", "FakeClient", "api_error"]

ALL_NAMESPACES = "*"
DEFAULT_NAMESPACE = "default"

# (group, kind) of the workload kinds described in the module docstring.
_STATUS_SUBRESOURCE_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
        ("", "ReplicationController"),
        ("batch", "Job"),
        ("batch", "CronJob"),
    }
)

_REASONS = {400: "BadRequest", 404: "NotFound", 409: "Conflict", 410: "Expired", 422: "Invalid", 500: "InternalError"}


def api_error(code: int, message: str, reason: str | None = None) -> ApiError:
    """An ``ApiError`` as lightkube raises it for an HTTP error ``code``."""
    return ApiError(
        status=Status(code=code, reason=reason or _REASONS.get(code, ""), message=message, status="Failure")
    )


@dataclass(frozen=True, slots=True)
class Action:
    """One recorded client call; ``body`` is the JSON sent (object or patch)."""

    verb: str
    kind: str
    namespace: str
    name: str
    body: Any = None


@dataclass(slots=True)
class _Watcher:
    kind_key: tuple[str, str]
    namespace: str
    labels: LabelSelector
    fields: FieldSelector
    queue: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)


def _spec_part(body: dict[str, Any]) -> dict[str, Any]:
    """Everything a generation counts: the object without metadata and status."""
    return {k: v for k, v in body.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _to_json(obj: Any) -> dict[str, Any]:
    data = obj if isinstance(obj, Mapping) else obj.to_dict()
    return copy.deepcopy(dict(data))


class FakeClient:
    """Records calls and serves objects from memory; see the module docstring."""

    def __init__(self, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.namespace = namespace
        self.actions: list[Action] = []
        self._objects: dict[tuple[str, str], dict[NamespacedName, dict[str, Any]]] = {}
        self._rv = itertools.count(1)
        self._last_rv = 0
        self._uids = itertools.count(1)
        self._history: list[tuple[int, tuple[str, str], str, dict[str, Any]]] = []
        self._compacted_rv = 0
        self._watchers: list[_Watcher] = []
        self._errors: dict[tuple[str, str], list[Exception]] = {}

    # -- test helpers ---------------------------------------------------------

    def seed(self, *objs: Any) -> None:
        """Store objects as if created earlier (not recorded as actions); a given uid is kept."""
        for obj in objs:
            self._store_new(type(obj), obj, None, keep_uid=True)

    def objects(self, res: type[Any]) -> builtins.list[Any]:
        """Stored objects of ``res``, ordered by key, decoded afresh."""
        stored = self._objects.get(self._kind_key(res), {})
        return [res.from_dict(copy.deepcopy(stored[key])) for key in sorted(stored)]

    def verbs(self) -> builtins.list[tuple[str, str]]:
        """The recorded (verb, kind) pairs, in order (reads included)."""
        return [(action.verb, action.kind) for action in self.actions]

    def writes(self) -> builtins.list[Action]:
        """Recorded actions other than get/list/watch."""
        return [a for a in self.actions if a.verb not in ("get", "list", "watch")]

    def clear_actions(self) -> None:
        self.actions.clear()

    def fail_next(self, verb: str, kind: str, error: Exception) -> None:
        """Make the next ``verb`` call on ``kind`` raise ``error`` (queued per pair)."""
        self._errors.setdefault((verb, kind), []).append(error)

    @property
    def resource_version(self) -> str:
        """The latest resourceVersion handed out."""
        return str(self._last_rv)

    def send_bookmark(self) -> None:
        """Send a BOOKMARK at the current resourceVersion to every watch."""
        for watcher in self._watchers:
            bookmark = {"kind": "", "metadata": {"resourceVersion": self.resource_version}}
            watcher.queue.put_nowait(("BOOKMARK", bookmark))

    def expire_watches(self) -> None:
        """Compact history: open watches get an ERROR 410, old RVs become 410."""
        self._compacted_rv = self._last_rv
        self._history.clear()
        for watcher in self._watchers:
            watcher.queue.put_nowait(("ERROR", api_error(410, "too old resource version")))

    def close_watches(self) -> None:
        """End every open watch cleanly, as a server-side timeout does."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(("CLOSE", None))

    def watch_count(self) -> int:
        """Number of open watch streams."""
        return len(self._watchers)

    # -- the lightkube AsyncClient surface ------------------------------------

    async def get(self, res: type[Any], name: str, *, namespace: str | None = None) -> Any:
        ns = self._namespace(res, namespace)
        self._record("get", res, ns, name)
        stored = self._objects.get(self._kind_key(res), {}).get(NamespacedName(ns, name))
        if stored is None:
            raise self._not_found(res, ns, name)
        return res.from_dict(copy.deepcopy(stored))

    def list(
        self,
        res: type[Any],
        *,
        namespace: str | None = None,
        chunk_size: int | None = None,
        labels: Any = None,
        fields: Any = None,
    ) -> ListAsyncIterable[Any]:
        ns = self._namespace(res, namespace)
        self.actions.append(Action("list", self._kind(res), "" if ns == ALL_NAMESPACES else ns, ""))
        selected = self._select(res, ns, labels, fields)
        resource_version = self.resource_version

        async def chunks() -> AsyncIterator[tuple[str | None, builtins.list[Any]]]:
            self._raise_injected("list", res)
            yield resource_version, [res.from_dict(obj) for obj in selected]

        return ListAsyncIterable(chunks())

    def watch(
        self,
        res: type[Any],
        *,
        namespace: str | None = None,
        labels: Any = None,
        fields: Any = None,
        server_timeout: int | None = None,
        resource_version: str | None = None,
        on_error: Any = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """One watch stream; ends on ``close_watches``, raises on errors (410...)."""
        ns = self._namespace(res, namespace)
        self.actions.append(Action("watch", self._kind(res), "" if ns == ALL_NAMESPACES else ns, "", resource_version))
        return self._stream(res, ns, labels, fields, resource_version)

    async def create(self, obj: Any, *, namespace: str | None = None, **_: Any) -> Any:
        res = type(obj)
        body = self._with_type(res, _to_json(obj))
        ns = self._namespace(res, namespace or body.get("metadata", {}).get("namespace"))
        self._record("create", res, ns, body.get("metadata", {}).get("name", ""), body)
        return res.from_dict(self._store_new(res, body, ns))

    async def replace(self, obj: Any, name: str | None = None, *, namespace: str | None = None, **_: Any) -> Any:
        res = type(obj)
        body = self._with_type(res, _to_json(obj))
        meta = body.setdefault("metadata", {})
        ns = self._namespace(res, namespace or meta.get("namespace"))
        name = name or meta.get("name", "")
        self._record("replace", res, ns, name, body)
        current = self._existing(res, ns, name)
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"].get("resourceVersion"):
            raise api_error(
                409, f'Operation cannot be fulfilled on {self._kind(res)} "{name}": object has been modified'
            )
        for kept in ("uid", "creationTimestamp"):
            if kept in current["metadata"]:
                meta[kept] = current["metadata"][kept]
        body = self._status_subresource_rules(res, current, body)
        return res.from_dict(self._write(res, "MODIFIED", ns, name, body))

    async def patch(
        self,
        res: type[Any],
        name: str,
        obj: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.STRATEGIC,
        **_: Any,
    ) -> Any:
        ns = self._namespace(res, namespace)
        body: Any = obj if isinstance(obj, builtins.list) else _to_json(obj)
        self._record("patch", res, ns, name, body)
        current = self._objects.get(self._kind_key(res), {}).get(NamespacedName(ns, name))
        if current is None:
            if patch_type is not PatchType.APPLY:
                raise self._not_found(res, ns, name)
            return res.from_dict(self._store_new(res, self._with_type(res, body), ns))
        if patch_type is PatchType.JSON:
            patched = jsonpatch.apply_patch(current, body)
        else:
            patched = merge_patch(current, body)
        sent_rv = body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
        if sent_rv and sent_rv != current["metadata"].get("resourceVersion"):
            raise api_error(
                409, f'Operation cannot be fulfilled on {self._kind(res)} "{name}": object has been modified'
            )
        patched = self._status_subresource_rules(res, current, patched)
        return res.from_dict(self._write(res, "MODIFIED", ns, name, patched))

    async def apply(self, obj: Any, name: str | None = None, *, namespace: str | None = None, **_: Any) -> Any:
        meta = _to_json(obj).get("metadata", {})
        return await self.patch(
            type(obj),
            name or meta.get("name", ""),
            obj,
            namespace=namespace or meta.get("namespace"),
            patch_type=PatchType.APPLY,
        )

    async def delete(self, res: type[Any], name: str, *, namespace: str | None = None, **_: Any) -> None:
        ns = self._namespace(res, namespace)
        self._record("delete", res, ns, name)
        current = self._existing(res, ns, name)
        del self._objects[self._kind_key(res)][NamespacedName(ns, name)]
        rv = self._next_rv()
        current["metadata"]["resourceVersion"] = rv
        self._publish(res, "DELETED", current)

    async def close(self) -> None:
        """Nothing to release."""

    aclose = close

    # -- internals ------------------------------------------------------------

    @staticmethod
    def _kind(res: type[Any]) -> str:
        kind: str = api_info(res).resource.kind
        return kind

    @staticmethod
    def _kind_key(res: type[Any]) -> tuple[str, str]:
        resource = api_info(res).resource
        return resource.group, resource.kind

    def _namespace(self, res: type[Any], namespace: str | None) -> str:
        if not issubclass(res, (NamespacedResource, NamespacedSubResource)):
            return ""
        return namespace or self.namespace

    def _record(self, verb: str, res: type[Any], namespace: str, name: str, body: Any = None) -> None:
        self.actions.append(Action(verb, self._kind(res), namespace, name, copy.deepcopy(body)))
        self._raise_injected(verb, res)

    def _raise_injected(self, verb: str, res: type[Any]) -> None:
        pending = self._errors.get((verb, self._kind(res)))
        if pending:
            raise pending.pop(0)

    def _not_found(self, res: type[Any], namespace: str, name: str) -> ApiError:
        where = f"{namespace}/{name}" if namespace else name
        return api_error(404, f'{api_info(res).plural} "{where}" not found')

    def _existing(self, res: type[Any], namespace: str, name: str) -> dict[str, Any]:
        current = self._objects.get(self._kind_key(res), {}).get(NamespacedName(namespace, name))
        if current is None:
            raise self._not_found(res, namespace, name)
        return current

    def _with_type(self, res: type[Any], body: dict[str, Any]) -> dict[str, Any]:
        resource = api_info(res).resource
        body.setdefault("apiVersion", resource.api_version)
        body.setdefault("kind", resource.kind)
        return body

    def _next_rv(self) -> str:
        self._last_rv = next(self._rv)
        return str(self._last_rv)

    def _store_new(self, res: type[Any], obj: Any, namespace: str | None, *, keep_uid: bool = False) -> dict[str, Any]:
        body = self._with_type(res, _to_json(obj))
        meta = body.setdefault("metadata", {})
        ns = self._namespace(res, namespace or meta.get("namespace"))
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{next(self._uids):05x}"
        name = meta.get("name", "")
        if not name:
            raise api_error(422, f"{self._kind(res)}: metadata.name: Required value")
        if NamespacedName(ns, name) in self._objects.get(self._kind_key(res), {}):
            raise api_error(409, f'{api_info(res).plural} "{name}" already exists', "AlreadyExists")
        uid = f"fake-uid-{next(self._uids)}"
        if not (keep_uid and meta.get("uid")):
            meta["uid"] = uid
        if self._kind_key(res) in _STATUS_SUBRESOURCE_KINDS:
            meta["generation"] = 1
        return self._write(res, "ADDED", ns, name, body)

    def _status_subresource_rules(
        self, res: type[Any], current: dict[str, Any], sent: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply the workload kinds' status-subresource rules to a write (see the module docstring)."""
        if self._kind_key(res) not in _STATUS_SUBRESOURCE_KINDS:
            return sent
        if api_info(res).action == "status":
            merged = copy.deepcopy(current)
            merged.pop("status", None)
            if sent.get("status") is not None:
                merged["status"] = copy.deepcopy(sent["status"])
            return merged
        merged = {k: v for k, v in sent.items() if k != "status"}
        if current.get("status") is not None:
            merged["status"] = copy.deepcopy(current["status"])
        generation = current["metadata"].get("generation", 1)
        if _spec_part(merged) != _spec_part(current):
            generation += 1
        merged.setdefault("metadata", {})["generation"] = generation
        return merged

    def _write(self, res: type[Any], event: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        meta["name"] = name
        if namespace:
            meta["namespace"] = namespace
        meta["resourceVersion"] = self._next_rv()
        self._objects.setdefault(self._kind_key(res), {})[NamespacedName(namespace, name)] = body
        self._publish(res, event, body)
        return copy.deepcopy(body)

    def _publish(self, res: type[Any], event: str, body: dict[str, Any]) -> None:
        kind_key = self._kind_key(res)
        snapshot = copy.deepcopy(body)
        self._history.append((self._last_rv, kind_key, event, snapshot))
        for watcher in self._watchers:
            if watcher.kind_key == kind_key and self._visible(watcher, snapshot):
                watcher.queue.put_nowait((event, snapshot))

    @staticmethod
    def _visible(watcher: _Watcher, body: dict[str, Any]) -> bool:
        meta = body.get("metadata", {})
        if watcher.namespace not in ("", ALL_NAMESPACES) and meta.get("namespace", "") != watcher.namespace:
            return False
        if not watcher.labels.matches(meta.get("labels") or {}):
            return False
        return watcher.fields.matches({field: read_field(body, field) for field in watcher.fields.fields})

    def _watcher(self, res: type[Any], namespace: str, labels: Any, fields: Any) -> _Watcher:
        """A watcher (or a list's probe) for the selectors given as strings or lightkube mappings.

        A selector that does not parse is answered 400, as the API server does;
        any dotted field path can be selected on.
        """
        try:
            label_selector = parse_label_selector(selector_text(labels, for_fields=False) or "")
            field_selector = parse_field_selector(selector_text(fields, for_fields=True) or "")
        except SelectorError as exc:
            raise api_error(400, str(exc)) from exc
        return _Watcher(self._kind_key(res), namespace, label_selector, field_selector)

    def _select(self, res: type[Any], namespace: str, labels: Any, fields: Any) -> builtins.list[dict[str, Any]]:
        probe = self._watcher(res, namespace, labels, fields)
        stored = self._objects.get(self._kind_key(res), {})
        return [copy.deepcopy(stored[k]) for k in sorted(stored) if self._visible(probe, stored[k])]

    async def _stream(
        self, res: type[Any], namespace: str, labels: Any, fields: Any, resource_version: str | None
    ) -> AsyncIterator[tuple[str, Any]]:
        self._raise_injected("watch", res)
        watcher = self._watcher(res, namespace, labels, fields)
        start = int(resource_version) if resource_version not in (None, "", "0") else self._last_rv
        if start < self._compacted_rv:
            raise api_error(410, f"too old resource version: {start} ({self._compacted_rv})")
        for rv, kind_key, event, body in self._history:
            if rv > start and kind_key == watcher.kind_key and self._visible(watcher, body):
                watcher.queue.put_nowait((event, body))
        self._watchers.append(watcher)
        try:
            while True:
                event, payload = await watcher.queue.get()
                if event == "CLOSE":
                    return
                if event == "ERROR":
                    raise payload
                yield event, res.from_dict(copy.deepcopy(payload))
        finally:
            self._watchers.remove(watcher)
