"""What a list or watch selects: label and field selectors applied to stored objects (pure).

The selectors themselves (grammar, matching, error texts) are
:mod:`svclab.apimachinery.labels` and :mod:`svclab.apimachinery.fields`. What
is the server's own is which fields each kind can be selected by and how each
reads from an object: upstream's field label conversion functions
(``pkg/apis/core/v1/conversion.go`` and the default metav1 conversion, name and
namespace) and its ``ToSelectableFields``. Any other field is a
:class:`SelectorError` ``field label not supported: <field>``, which the server
answers with 400 BadRequest. A field missing from an object reads as "".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from svclab.apimachinery.fields import FieldSelector, format_field_value, parse_field_selector, read_field
from svclab.apimachinery.labels import parse_label_selector
from svclab.apimachinery.selection import SelectorError

__all__ = ["SUPPORTED_FIELDS", "field_selector_for", "object_matcher", "selectable_fields"]

FieldGetter = Callable[[Mapping[str, Any]], str]
Obj = dict[str, Any]


def _path(path: str) -> FieldGetter:
    return lambda obj: read_field(obj, path)


def _spec_flag(name: str) -> FieldGetter:
    # A boolean field reads "false" when absent (Go's zero value), not "".
    return lambda obj: format_field_value(bool((obj.get("spec") or {}).get(name)))


def _pod_ip(pod: Mapping[str, Any]) -> str:
    # Upstream PodToSelectableFields uses podIPs[0], which mirrors status.podIP.
    status = pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    if pod_ips and isinstance(pod_ips[0], Mapping):
        return format_field_value(pod_ips[0].get("ip"))
    return format_field_value(status.get("podIP"))


def _event_source(event: Mapping[str, Any]) -> str:
    # Upstream: source.component, falling back to reportingComponent when empty.
    return read_field(event, "source.component") or read_field(event, "reportingComponent")


_META_NAME = {"metadata.name": _path("metadata.name")}
_META = {**_META_NAME, "metadata.namespace": _path("metadata.namespace")}

# Field labels per kind, from upstream's AddFieldLabelConversionFunc tables; a kind
# that is not listed gets the default metav1 conversion (name and namespace).
SUPPORTED_FIELDS: Mapping[str, Mapping[str, FieldGetter]] = {
    "Pod": {
        **_META,
        **{
            f"spec.{name}": _path(f"spec.{name}")
            for name in ("nodeName", "restartPolicy", "schedulerName", "serviceAccountName")
        },
        "spec.hostNetwork": _spec_flag("hostNetwork"),
        "status.phase": _path("status.phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _path("status.nominatedNodeName"),
    },
    "Node": {**_META_NAME, "spec.unschedulable": _spec_flag("unschedulable")},
    "Namespace": {**_META_NAME, "status.phase": _path("status.phase")},
    "Service": {**_META, "spec.clusterIP": _path("spec.clusterIP"), "spec.type": _path("spec.type")},
    "Secret": {**_META, "type": _path("type")},
    "ReplicationController": {**_META, "status.replicas": _path("status.replicas")},
    "ReplicaSet": {**_META, "status.replicas": _path("status.replicas")},
    "Job": {**_META, "status.successful": _path("status.succeeded")},
    "Event": {
        **_META,
        **{
            f"involvedObject.{name}": _path(f"involvedObject.{name}")
            for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _event_source,
        "type": _path("type"),
    },
}

# Old clients' spellings that upstream's conversion rewrites.
_FIELD_ALIASES: Mapping[tuple[str, str], str] = {("Pod", "spec.host"): "spec.nodeName"}


def _fields_of(kind: str) -> Mapping[str, FieldGetter]:
    return SUPPORTED_FIELDS.get(kind, _META)


def field_selector_for(kind: str, text: str) -> FieldSelector:
    """Parse ``?fieldSelector=`` for ``kind``, old spellings rewritten. Side-effect-free.

    Raises SelectorError for syntax errors and for fields the kind does not
    support (``field label not supported: <field>``).
    """
    supported = _fields_of(kind)

    def convert(field: str, value: str) -> tuple[str, str]:
        field = _FIELD_ALIASES.get((kind, field), field)
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        return field, value

    return parse_field_selector(text).transform(convert)


def selectable_fields(kind: str, obj: Mapping[str, Any], fields: Iterable[str]) -> dict[str, str]:
    """The named selectable ``fields`` of ``obj`` (all supported by ``kind``) as strings."""
    getters = _fields_of(kind)
    return {field: getters[field](obj) for field in fields}


def object_matcher(kind: str, label_selector: str, field_selector: str) -> Callable[[Obj], bool]:
    """Whether a stored object of ``kind`` passes both selectors of a request.

    Raises SelectorError (the server's 400) when either does not parse.
    """
    labels = parse_label_selector(label_selector)
    fields = field_selector_for(kind, field_selector)
    if labels.empty and fields.empty:
        return lambda obj: True
    names = fields.fields
    return lambda obj: (
        labels.matches(obj["metadata"].get("labels") or {}) and fields.matches(selectable_fields(kind, obj, names))
    )
