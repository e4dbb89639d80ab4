"""Node, Namespace, Event and Lease validation, as upstream does it for these kinds.

* Node: a DNS-1123 subdomain name; taints with qualified-name keys, label
  values and an effect, unique per (key, effect) (upstream reports them under
  ``metadata.taints``, sic); pod CIDRs valid, canonical, one per family; on
  update pod CIDRs and providerID may only go from unset to set, and status
  addresses may not repeat.
* Namespace: a DNS-1123 label name; ``spec.finalizers`` names; a status phase
  that agrees with ``deletionTimestamp``.
* Event (core/v1): the involved object's namespace agrees with the event's;
  "new-style" events (with ``eventTime``) need reporting fields, an action and
  a reason of bounded length. Upstream checks no name format for v1 events
  beyond the generic path-segment rules.
* Lease: a DNS-1123 subdomain name, a positive ``leaseDurationSeconds`` and a
  non-negative ``leaseTransitions``.
"""

from __future__ import annotations

from typing import Any

from svclab.apimachinery.validation import is_dns1123_subdomain, is_label_value, is_qualified_name

from .access import child, index, mapping, number, objects, seq, text
from .errors import (
    ErrorType,
    FieldError,
    GoLiteral,
    duplicate,
    forbidden,
    go_quote,
    go_slice,
    invalid,
    not_supported,
    required,
)
from .formats import (
    is_valid_cidr,
    name_is_dns_label,
    name_is_dns_subdomain,
    parse_ip_sloppy,
    validate_path_segment_name,
)
from .meta import validate_object_meta

__all__ = [
    "validate_event",
    "validate_lease",
    "validate_namespace",
    "validate_namespace_status_update",
    "validate_node",
    "validate_node_update",
]

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
EVENT_TEXT_LIMIT = 128
EVENT_NOTE_LIMIT = 1024
LEASE_STRATEGIES = ("OldestEmulationVersion",)


def _taint_literal(taint: dict[str, Any]) -> GoLiteral:
    return GoLiteral(
        f"core.Taint{{Key:{go_quote(text(taint, 'key'))}, Value:{go_quote(text(taint, 'value'))}, "
        f"Effect:{go_quote(text(taint, 'effect'))}, TimeAdded:(*v1.Time)(nil)}}"
    )


def _validate_taints(taints: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        taint_path = index(path, i)
        taint_key, value, effect = text(taint, "key"), text(taint, "value"), text(taint, "effect")
        errs += [invalid(child(taint_path, "key"), taint_key, msg) for msg in is_qualified_name(taint_key)]
        value_errs = is_label_value(value)
        if value_errs:
            errs.append(invalid(child(taint_path, "value"), value, ";".join(value_errs)))
        if not effect:
            errs.append(required(child(taint_path, "effect")))
        elif effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(taint_path, "effect"), effect, TAINT_EFFECTS))
        if (effect, taint_key) in seen:
            errs.append(
                FieldError(
                    ErrorType.DUPLICATE,
                    taint_path,
                    _taint_literal(taint),
                    "taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((effect, taint_key))
    return errs


def _pod_cidrs(spec: dict[str, Any]) -> list[str]:
    # The v1 podCIDR field is the first of podCIDRs; conversion fills one from the other.
    cidrs = [str(c) for c in seq(spec, "podCIDRs")]
    return cidrs or ([text(spec, "podCIDR")] if text(spec, "podCIDR") else [])


def _validate_pod_cidrs(spec: dict[str, Any]) -> list[FieldError]:
    path = "spec.podCIDRs"
    cidrs = _pod_cidrs(spec)
    errs: list[FieldError] = []
    for i, cidr in enumerate(cidrs):
        errs += is_valid_cidr(index(path, i), cidr)
    if len(cidrs) > 1:
        families = {ip.version for ip in (parse_ip_sloppy(c.partition("/")[0]) for c in cidrs) if ip is not None}
        if len(cidrs) > 2 or len(families) != 2:
            errs.append(invalid(path, go_slice(cidrs), "may specify no more than one CIDR for each IP family"))
        seen: set[str] = set()
        for i, cidr in enumerate(cidrs):
            if cidr in seen:
                errs.append(duplicate(index(path, i), cidr))
            seen.add(cidr)
    return errs


def validate_node(node: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateNode``. Side-effect-free."""
    spec = mapping(node, "spec")
    errs = validate_object_meta(mapping(node, "metadata"), namespaced=False, name_fn=name_is_dns_subdomain)
    errs += _validate_taints(objects(spec, "taints"), "metadata.taints")  # sic: upstream's path
    return errs + _validate_pod_cidrs(spec)


def validate_node_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateNode`` + ``ValidateNodeUpdate`` without the ObjectMeta part."""
    errs = validate_node(new)
    seen: set[tuple[str, str]] = set()
    for i, address in enumerate(objects(mapping(new, "status"), "addresses")):
        pair = (text(address, "type"), text(address, "address"))
        if pair in seen:
            literal = GoLiteral(f"core.NodeAddress{{Type:{go_quote(pair[0])}, Address:{go_quote(pair[1])}}}")
            errs.append(duplicate(index("status.addresses", i), literal))
        seen.add(pair)
    new_spec, old_spec = mapping(new, "spec"), mapping(old, "spec")
    old_cidrs, new_cidrs = _pod_cidrs(old_spec), _pod_cidrs(new_spec)
    message = 'node updates may not change podCIDR except from "" to valid'
    if old_cidrs and len(old_cidrs) != len(new_cidrs):
        errs.append(forbidden("spec.podCIDRs", message))
    elif old_cidrs:
        errs += [forbidden("spec.podCIDRs", message) for o, n in zip(old_cidrs, new_cidrs) if o != n]
    old_provider = text(old_spec, "providerID")
    if old_provider and old_provider != text(new_spec, "providerID"):
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    if text(new_spec, "externalID") != text(old_spec, "externalID"):
        errs.append(forbidden("spec.externalID", "may not be updated"))
    return errs


def _validate_namespace_finalizers(finalizers: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for item in finalizers:
        name = str(item)
        errs += [invalid(path, name, msg) for msg in is_qualified_name(name)]
        if "/" not in name and name not in STANDARD_FINALIZERS:
            errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_namespace(namespace: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateNamespace``. Side-effect-free."""
    errs = validate_object_meta(mapping(namespace, "metadata"), namespaced=False, name_fn=name_is_dns_label)
    return errs + _validate_namespace_finalizers(seq(mapping(namespace, "spec"), "finalizers"), "spec.finalizers")


def validate_namespace_status_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateNamespaceStatusUpdate`` without the ObjectMeta part."""
    del old
    phase = text(mapping(new, "status"), "phase", "Active")
    if not mapping(new, "metadata").get("deletionTimestamp"):
        if phase != "Active":
            return [invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
    elif phase != "Terminating":
        return [invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")]
    return []


def _validate_new_style_event(event: dict[str, Any], namespace: str, involved_namespace: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not involved_namespace and namespace not in ("default", "kube-system"):
        errs.append(invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace"))
    controller = text(event, "reportingComponent")
    if not controller:
        errs.append(required("reportingComponent"))
    errs += [invalid("reportingComponent", controller, msg) for msg in is_qualified_name(controller)]
    for name, limit in (
        ("reportingInstance", EVENT_TEXT_LIMIT),
        ("action", EVENT_TEXT_LIMIT),
        ("reason", EVENT_TEXT_LIMIT),
    ):
        value = text(event, name)
        if not value:
            errs.append(required(name))
        if len(value.encode()) > limit:
            errs.append(invalid(name, "", f"can have at most {limit} characters"))
    if len(text(event, "message").encode()) > EVENT_NOTE_LIMIT:
        errs.append(invalid("message", "", f"can have at most {EVENT_NOTE_LIMIT} characters"))
    return errs


def validate_event(event: dict[str, Any]) -> list[FieldError]:
    """Upstream ``legacyValidateEvent`` for core/v1 events, then the generic ObjectMeta rules.

    Side-effect-free. Like upstream's create path, the generic rules only run
    when the event-specific ones pass.
    """
    meta = mapping(event, "metadata")
    namespace = text(meta, "namespace")
    involved_namespace = text(mapping(event, "involvedObject"), "namespace")
    errs: list[FieldError] = []
    if not event.get("eventTime"):
        if (involved_namespace and namespace != involved_namespace) or (
            not involved_namespace and namespace not in ("", "default")
        ):
            errs.append(invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace"))
    else:
        errs += _validate_new_style_event(event, namespace, involved_namespace)
    errs += [invalid("namespace", namespace, msg) for msg in is_dns1123_subdomain(namespace)]
    if errs:
        return errs
    return validate_object_meta(meta, namespaced=True, name_fn=validate_path_segment_name, kube_finalizers=False)


def validate_lease(lease: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateLease`` (coordination.k8s.io/v1). Side-effect-free."""
    errs = validate_object_meta(
        mapping(lease, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain, kube_finalizers=False
    )
    spec = mapping(lease, "spec")
    duration = number(spec, "leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = number(spec, "leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if isinstance(strategy, str) and strategy not in LEASE_STRATEGIES:
        errs.append(not_supported("spec.strategy", strategy, LEASE_STRATEGIES))
    if text(spec, "preferredHolder") and not text(spec, "strategy"):
        errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs
