"""The caches the three controllers share, and the lookups they answer.

* ``SharedInformers``: one informer per resource kind, shared by every
  controller of the process (as client-go's shared informer factory), with the
  indexes the controllers need: pods by namespace (built in), slices by the
  Service they belong to.
* ``pods_for_service`` / ``services_for_pod``: selector matching over caches,
  narrowed by two indexes (pods by label pair, Services by selector pair) so
  a sync or a pod event costs the size of the match, not of the namespace.
* ``managed_slices`` / ``is_managed_by`` / ``service_key_of_slice``: a
  Service's slices as one controller manages them.

Lookups read the caches only; nothing here writes to the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lightkube.resources.core_v1 import Endpoints, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.apimachinery.labels import ValidatedSetSelector
from svclab.kube.informer import Informer, wait_for_sync
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName
from svclab.kube.reflector import RECONNECT_BACKOFF, ReflectorOptions

from .pods_and_services import svc_spec
from .well_known import LABEL_MANAGED_BY, LABEL_SERVICE_NAME

__all__ = [
    "POD_LABEL_INDEX",
    "SERVICE_INDEX",
    "SERVICE_SELECTOR_INDEX",
    "SharedInformers",
    "is_managed_by",
    "managed_slices",
    "pods_for_service",
    "service_key_of_slice",
    "services_for_pod",
]

T = TypeVar("T")

# Index of EndpointSlices: "<namespace>/<kubernetes.io/service-name label>".
SERVICE_INDEX = "service"
# Index of Pods by each of their labels, and of Services by each pair of their
# selector: both keyed by ``_label_pair_value``.
POD_LABEL_INDEX = "label"
SERVICE_SELECTOR_INDEX = "selector"


def _label_pair_value(namespace: str, key: str, value: str) -> str:
    # NUL appears in no namespace, label key or label value, so it is unambiguous.
    return f"{namespace}\0{key}\0{value}"


def _pod_label_index(pod: Pod) -> Iterable[str]:
    namespace = meta(pod).namespace or ""
    return [_label_pair_value(namespace, k, v) for k, v in (meta(pod).labels or {}).items()]


def _service_selector_index(service: Service) -> Iterable[str]:
    selector = svc_spec(service).selector if service.spec else None
    namespace = meta(service).namespace or ""
    return [_label_pair_value(namespace, k, v) for k, v in (selector or {}).items()]


def service_key_of_slice(slice_: EndpointSlice) -> NamespacedName | None:
    """The Service a slice belongs to, by its service-name label (None without one)."""
    name = (meta(slice_).labels or {}).get(LABEL_SERVICE_NAME)
    return NamespacedName(meta(slice_).namespace or "", name) if name else None


def _slice_service_index(slice_: EndpointSlice) -> Iterable[str]:
    key = service_key_of_slice(slice_)
    return (str(key),) if key else ()


@dataclass(slots=True)
class SharedInformers:
    """Lazily created informers over one client; ``run()`` runs those created."""

    client: Any
    _informers: dict[type[Any], Informer[Any]] = field(default_factory=dict)

    def _get(self, resource: type[T]) -> Informer[T]:
        informer = self._informers.get(resource)
        if informer is None:
            # A lost API server is retried every second or so (issue 15).
            informer = Informer(self.client, resource, ReflectorOptions(backoff=RECONNECT_BACKOFF))
            if resource is EndpointSlice:
                informer.store.add_index(SERVICE_INDEX, _slice_service_index)
            elif resource is Pod:
                informer.store.add_index(POD_LABEL_INDEX, _pod_label_index)
            elif resource is Service:
                informer.store.add_index(SERVICE_SELECTOR_INDEX, _service_selector_index)
            self._informers[resource] = informer
        return informer

    def of(self, resource: type[T]) -> Informer[T]:
        """The shared informer of ``resource`` (any kind; the workload controllers' own kinds)."""
        return self._get(resource)

    @property
    def pods(self) -> Informer[Pod]:
        return self._get(Pod)

    @property
    def services(self) -> Informer[Service]:
        return self._get(Service)

    @property
    def endpoints(self) -> Informer[Endpoints]:
        return self._get(Endpoints)

    @property
    def slices(self) -> Informer[EndpointSlice]:
        return self._get(EndpointSlice)

    @property
    def nodes(self) -> Informer[Node]:
        return self._get(Node)

    async def run(self) -> None:
        """Run every informer created so far until cancelled."""
        async with asyncio.TaskGroup() as group:
            for resource, informer in self._informers.items():
                group.create_task(informer.run(), name=f"informer-{resource.__name__}")

    async def wait_for_sync(self) -> bool:
        return await wait_for_sync(*self._informers.values())


def _selects(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    # The API server validated the Service's selector: wrap it, as upstream's controllers do.
    return ValidatedSetSelector(selector).matches(labels)


def pods_for_service(informers: SharedInformers, service: Service) -> list[Pod]:
    """Pods in the Service's namespace matching its (non-empty) selector, ordered by key."""
    selector = dict(svc_spec(service).selector or {}) if service.spec else {}
    if not selector:
        return []
    namespace = meta(service).namespace or ""
    store = informers.pods.store
    # Every match carries every selector pair: start from the rarest pair's pods.
    narrowest = min(
        (_label_pair_value(namespace, k, v) for k, v in selector.items()),
        key=lambda value: store.index_size(POD_LABEL_INDEX, value),
    )
    return [p for p in store.by_index(POD_LABEL_INDEX, narrowest) if _selects(selector, meta(p).labels)]


def services_for_pod(informers: SharedInformers, pod: Pod) -> list[NamespacedName]:
    """Keys of the Services (with a selector) that select ``pod``, sorted."""
    namespace = meta(pod).namespace or ""
    labels = meta(pod).labels or {}
    store = informers.services.store
    # A Service selecting the pod has each selector pair among the pod's
    # labels, so it is filed under at least one of them.
    candidates: set[NamespacedName] = set()
    for k, v in labels.items():
        candidates.update(store.index_keys(SERVICE_SELECTOR_INDEX, _label_pair_value(namespace, k, v)))
    matches = []
    for key in sorted(candidates, key=lambda name: (name.namespace, name.name)):
        svc = store.get(key)
        if (
            svc is not None
            and svc.spec
            and svc_spec(svc).selector
            and _selects(dict(svc_spec(svc).selector or {}), labels)
        ):
            matches.append(NamespacedName.of(svc))
    return matches


def is_managed_by(slice_: EndpointSlice, controller: str) -> bool:
    """Whether ``slice_`` carries the managed-by label of ``controller``."""
    return (meta(slice_).labels or {}).get(LABEL_MANAGED_BY) == controller


def managed_slices(informers: SharedInformers, key: NamespacedName, controller: str) -> list[EndpointSlice]:
    """Cached slices of Service ``key`` carrying managed-by ``controller``."""
    return [s for s in informers.slices.store.by_index(SERVICE_INDEX, str(key)) if is_managed_by(s, controller)]
