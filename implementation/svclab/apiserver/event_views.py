"""``events.k8s.io/v1`` Events: a second view of the core Event storage.

kube-apiserver keeps one Event storage and serves it in both groups, converting
field names on the way in and out (upstream ``pkg/apis/events/v1/conversion.go``):
an event posted through one group is listed and watched through the other.
kube-proxy, the scheduler and other new-style recorders post through
``events.k8s.io/v1`` (issue 19). The renames, all at the top level:

    events.k8s.io/v1            core/v1
    regarding                   involvedObject
    note                        message
    reportingController         reportingComponent
    deprecatedSource            source
    deprecatedFirstTimestamp    firstTimestamp
    deprecatedLastTimestamp     lastTimestamp
    deprecatedCount             count

Everything here is side-effect-free: the server converts request bodies and
patches to core form, lets the core Event registry do the work, and converts
what it answers back.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "API_VERSION",
    "GROUP",
    "from_core",
    "patch_to_core",
    "response_from_core",
    "to_core",
]

Obj = dict[str, Any]
GROUP = "events.k8s.io"
API_VERSION = "events.k8s.io/v1"
_TO_CORE = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_FROM_CORE = {core: view for view, core in _TO_CORE.items()}


def _rename(obj: Obj, names: dict[str, str]) -> Obj:
    return {names.get(key, key): value for key, value in obj.items()}


def to_core(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event in core/v1 form (a body that is not an object is returned as is)."""
    if not isinstance(event, dict):
        return event
    core = _rename(event, _TO_CORE)
    if core.get("apiVersion") == API_VERSION:
        core["apiVersion"] = "v1"
    return core


def from_core(event: Obj) -> Obj:
    """A stored core/v1 Event in events.k8s.io/v1 form."""
    view = _rename(event, _FROM_CORE)
    view["apiVersion"] = API_VERSION
    view["kind"] = "Event"
    return view


def patch_to_core(content_type: str, patch: Any) -> Any:
    """A PATCH body written against the events.k8s.io/v1 form, rewritten for the core form:
    top-level keys for merge, strategic and apply patches, first path segments for JSON patch."""
    if isinstance(patch, list):
        return [_json_patch_op(op) for op in patch]
    if isinstance(patch, dict):
        return to_core(patch)
    return patch


def _json_patch_op(op: Any) -> Any:
    if not isinstance(op, dict):
        return op
    converted = dict(op)
    for key in ("path", "from"):
        value = converted.get(key)
        if isinstance(value, str) and value.startswith("/"):
            first, sep, rest = value[1:].partition("/")
            converted[key] = "/" + _TO_CORE.get(first, first) + sep + rest
    return converted


def response_from_core(body: Any) -> Any:
    """An answer of the core Event registry, as the events.k8s.io/v1 client expects it: an
    Event or EventList converted, a Status with its causes' field names converted; a
    Table (printed from core fields, as upstream prints both) left alone."""
    if not isinstance(body, dict):
        return body
    kind = body.get("kind")
    if kind == "Event":
        return from_core(body)
    if kind == "EventList":
        return dict(body, apiVersion=API_VERSION, items=[from_core(item) for item in body.get("items") or []])
    if kind == "Status" and isinstance(body.get("details"), dict):
        causes = body["details"].get("causes") or []
        converted = [dict(c, field=_view_field(c["field"])) if "field" in c else c for c in causes]
        return dict(body, details=dict(body["details"], causes=converted, group=GROUP))
    return body


def _view_field(field: str) -> str:
    first, sep, rest = field.partition(".")
    return _FROM_CORE.get(first, first) + sep + rest
