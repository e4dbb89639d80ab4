"""Pod validation: the parts of upstream's ``ValidatePodSpec`` the local testbed uses.

Checked on create: at least one container; container names (DNS-1123 labels,
unique across init and regular containers) and images; container ports
(IANA_SVC_NAME names, unique, containerPort and hostPort 1-65535, protocol);
probes (one handler, non-negative timings, ``successThreshold`` 1 for liveness
and startup probes); restartPolicy, dnsPolicy, nodeSelector, serviceAccountName,
nodeName, activeDeadlineSeconds, hostname and subdomain.

On update the spec is immutable except container images, activeDeadlineSeconds
(may only shrink), added tolerations and removed scheduling gates. Upstream
appends a ``cmp.Diff`` of the spec to that message; we append a line per
changed field instead. Status updates may not move the pod to another node or
resurrect terminated containers of pods that do not restart them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from svclab.apimachinery.validation import is_dns1123_label, is_qualified_name

from .access import child, index, mapping, number, objects, seq, text
from .errors import FieldError, GoLiteral, duplicate, forbidden, go_quote, go_slice, invalid, not_supported, required
from .formats import (
    inclusive_range_error,
    is_port_name,
    is_port_num,
    is_valid_ip,
    name_is_dns_subdomain,
    parse_ip_sloppy,
    validate_port_num_or_name,
    validate_protocol,
)
from .meta import validate_immutable, validate_labels, validate_object_meta

__all__ = ["validate_pod", "validate_pod_status_update", "validate_pod_update"]

SPEC = "spec"
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
HTTP_SCHEMES = ("HTTP", "HTTPS")
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
MAX_INT32 = 2**31 - 1
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
SYSTEM_CONDITIONS = frozenset({"PodScheduled", "Ready", "Initialized"})


def _validate_ports(ports: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port_path = index(path, i)
        name = text(port, "name")
        if name:
            messages = is_port_name(name)
            if messages:
                errs += [invalid(child(port_path, "name"), name, msg) for msg in messages]
            elif name in names:
                errs.append(duplicate(child(port_path, "name"), name))
            names.add(name)
        container_port = number(port, "containerPort") or 0
        if not container_port:
            errs.append(required(child(port_path, "containerPort")))
        else:
            errs += [invalid(child(port_path, "containerPort"), container_port, m) for m in is_port_num(container_port)]
        host_port = number(port, "hostPort") or 0
        if host_port:
            errs += [invalid(child(port_path, "hostPort"), host_port, m) for m in is_port_num(host_port)]
        errs += validate_protocol(port, port_path)
    return errs


def _validate_handler(probe: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for name in HANDLERS:
        action = probe.get(name)
        if not isinstance(action, dict):
            continue
        if count:
            errs.append(forbidden(child(path, name), "may not specify more than 1 handler type"))
            continue
        count += 1
        action_path = child(path, name)
        if name == "exec" and not seq(action, "command"):
            errs.append(required(child(action_path, "command")))
        if name == "httpGet":
            if not text(action, "path", "/"):
                errs.append(required(child(action_path, "path")))
            errs += validate_port_num_or_name(action.get("port"), child(action_path, "port"))
            scheme = text(action, "scheme", "HTTP")
            if scheme not in HTTP_SCHEMES:
                errs.append(not_supported(child(action_path, "scheme"), scheme, HTTP_SCHEMES))
        if name == "tcpSocket":
            errs += validate_port_num_or_name(action.get("port"), child(action_path, "port"))
        if name == "grpc":
            grpc_port = number(action, "port") or 0
            errs += [invalid(child(action_path, "port"), grpc_port, m) for m in is_port_num(grpc_port)]
    if not count:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_probe(probe: object, kind: str, path: str) -> list[FieldError]:
    """A liveness, readiness or startup probe; absent timings read as their defaults."""
    if not isinstance(probe, dict):
        return []
    errs = _validate_handler(probe, path)
    defaults = {
        "initialDelaySeconds": 0,
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    for name, default in defaults.items():
        value = number(probe, name)
        value = default if value is None else value
        if value < 0:
            errs.append(invalid(child(path, name), value, "must be greater than or equal to 0"))
    grace = number(probe, "terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), grace, "must be greater than 0"))
    success = number(probe, "successThreshold")
    if kind in ("livenessProbe", "startupProbe") and success is not None and success != 1:
        errs.append(invalid(child(path, "successThreshold"), success, "must be 1"))
    if kind == "readinessProbe" and grace is not None:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), grace, "must not be set for readinessProbes"))
    return errs


def _validate_container(container: dict[str, Any], names: set[str], path: str, regular: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = text(container, "name")
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs += [invalid(child(path, "name"), name, msg) for msg in is_dns1123_label(name)]
    if name in names:
        errs.append(duplicate(child(path, "name"), name))
    names.add(name)
    if not text(container, "image"):
        errs.append(required(child(path, "image")))
    errs += _validate_ports(objects(container, "ports"), child(path, "ports"))
    if regular:
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            errs += _validate_probe(container.get(kind), kind, child(path, kind))
    return errs


def _validate_containers(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    containers = objects(spec, "containers")
    if not containers:
        errs.append(required(child(SPEC, "containers")))
    for i, container in enumerate(containers):
        errs += _validate_container(container, names, index(child(SPEC, "containers"), i), True)
    for i, container in enumerate(objects(spec, "initContainers")):
        errs += _validate_container(container, names, index(child(SPEC, "initContainers"), i), False)
    return errs


def _validate_policies(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for name, allowed, default in (
        ("restartPolicy", RESTART_POLICIES, "Always"),
        ("dnsPolicy", DNS_POLICIES, "ClusterFirst"),
    ):
        value = text(spec, name, default)
        if not value:
            errs.append(required(child(SPEC, name)))
        elif value not in allowed:
            errs.append(not_supported(child(SPEC, name), value, allowed))
    return errs


def _validate_pod_names(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    account = text(spec, "serviceAccountName")
    if account:
        errs += [invalid(child(SPEC, "serviceAccountName"), account, m) for m in name_is_dns_subdomain(account, False)]
    node_name = text(spec, "nodeName")
    if node_name:
        errs += [invalid(child(SPEC, "nodeName"), node_name, m) for m in name_is_dns_subdomain(node_name, False)]
    deadline = number(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(invalid(child(SPEC, "activeDeadlineSeconds"), deadline, inclusive_range_error(1, MAX_INT32)))
    for name in ("hostname", "subdomain"):
        value = text(spec, name)
        if value:
            errs += [invalid(child(SPEC, name), value, msg) for msg in is_dns1123_label(value)]
    return errs


def validate_pod(pod: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidatePodCreate`` for the fields svclab uses. Side-effect-free."""
    spec = mapping(pod, "spec")
    errs = validate_object_meta(mapping(pod, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain)
    errs += _validate_containers(spec)
    errs += _validate_policies(spec)
    errs += validate_labels(mapping(spec, "nodeSelector"), child(SPEC, "nodeSelector"))
    errs += _validate_pod_names(spec)
    for i, container in enumerate(objects(spec, "containers")):
        image = text(container, "image")
        if image != image.strip():
            errs.append(
                invalid(
                    child(index(child(SPEC, "containers"), i), "image"),
                    image,
                    "must not have leading or trailing whitespace",
                )
            )
    return errs


def _munge_updatable_fields(new_spec: dict[str, Any], old_spec: dict[str, Any]) -> dict[str, Any]:
    """The new spec with every field a pod update may change reset to its old value."""
    munged = copy.deepcopy(new_spec)
    for list_name in ("containers", "initContainers"):
        for new_container, old_container in zip(seq(munged, list_name), objects(old_spec, list_name)):
            if isinstance(new_container, dict):
                new_container["image"] = old_container.get("image")
    for name in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(name, None)
        if name in old_spec:
            munged[name] = copy.deepcopy(old_spec[name])
    old_grace = number(old_spec, "terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and number(munged, "terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    lines = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            lines.append(f"-\t{name}: {json.dumps(old.get(name), sort_keys=True)}")
            lines.append(f"+\t{name}: {json.dumps(new.get(name), sort_keys=True)}")
    return "\n".join(["  core.PodSpec{", *lines, "  }"])


def _validate_update_deadline(new_spec: dict[str, Any], old_spec: dict[str, Any]) -> list[FieldError]:
    path = child(SPEC, "activeDeadlineSeconds")
    new, old = number(new_spec, "activeDeadlineSeconds"), number(old_spec, "activeDeadlineSeconds")
    if new is None:
        return [invalid(path, None, "must not update from a positive integer to nil value")] if old is not None else []
    if not 0 <= new <= MAX_INT32:
        return [invalid(path, new, inclusive_range_error(0, MAX_INT32))]
    if old is not None and old < new:
        return [invalid(path, new, "must be less than or equal to previous value")]
    return []


def _without_seconds(toleration: Any) -> Any:
    return (
        {k: v for k, v in toleration.items() if k != "tolerationSeconds"}
        if isinstance(toleration, dict)
        else toleration
    )


def validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidatePodUpdate`` without the ObjectMeta part. Side-effect-free."""
    errs = validate_pod(new)
    new_spec, old_spec = mapping(new, "spec"), mapping(old, "spec")
    for list_name in ("containers", "initContainers"):
        new_list, old_list = objects(new_spec, list_name), objects(old_spec, list_name)
        if len(new_list) != len(old_list):
            return errs + [forbidden(child(SPEC, list_name), "pod updates may not add or remove containers")]
        errs += [
            invalid(
                child(index(child(SPEC, list_name), i), "image"),
                text(c, "image"),
                "must not have leading or trailing whitespace",
            )
            for i, c in enumerate(new_list)
            if text(c, "image") != text(c, "image").strip()
        ]
    deadline_errs = _validate_update_deadline(new_spec, old_spec)
    errs += deadline_errs
    if deadline_errs and number(new_spec, "activeDeadlineSeconds") is not None:
        return errs
    new_tolerations = [_without_seconds(t) for t in seq(new_spec, "tolerations")]
    if any(_without_seconds(t) not in new_tolerations for t in seq(old_spec, "tolerations")):
        errs.append(
            forbidden(
                child(SPEC, "tolerations"), "existing toleration can not be modified except its tolerationSeconds"
            )
        )
    munged = _munge_updatable_fields(new_spec, old_spec)
    if munged != old_spec:
        message = "pod updates may not change fields other than " + ",".join(UPDATABLE_POD_SPEC_FIELDS)
        errs.append(forbidden(SPEC, message + "\n" + _spec_diff(old_spec, munged)))
    return errs


def _validate_pod_ips(status: dict[str, Any], list_name: str, type_name: str) -> list[FieldError]:
    """``status.podIPs`` / ``status.hostIPs``: valid IPs, at most one per family, no repeats."""
    path = child("status", list_name)
    ips = [text(entry, "ip") for entry in objects(status, list_name)]
    errs: list[FieldError] = []
    for i, ip in enumerate(ips):
        errs += is_valid_ip(index(path, i), ip)
    if len(ips) <= 1 or errs:
        return errs
    entries = [GoLiteral(f"core.{type_name}{{IP:{go_quote(ip)}}}") for ip in ips]
    families = {parsed.version for parsed in map(parse_ip_sloppy, ips) if parsed is not None}
    if len(ips) > 2 or len(families) != 2:
        errs.append(
            invalid(
                path, go_slice(entries, f"[]core.{type_name}"), "may specify no more than one IP for each IP family"
            )
        )
    seen: set[str] = set()
    for i, ip in enumerate(ips):
        if ip in seen:
            errs.append(duplicate(index(path, i), entries[i]))
        seen.add(ip)
    return errs


def _validate_container_transitions(
    new_status: dict[str, Any], old_status: dict[str, Any], restart: str
) -> list[FieldError]:
    if restart == "Always":
        return []
    errs: list[FieldError] = []
    new_statuses = objects(new_status, "containerStatuses")
    for i, old in enumerate(objects(old_status, "containerStatuses")):
        terminated = mapping(mapping(old, "state"), "terminated")
        if not terminated or (restart == "OnFailure" and number(terminated, "exitCode")):
            continue
        for new in new_statuses:
            if text(new, "name") == text(old, "name") and not mapping(mapping(new, "state"), "terminated"):
                errs.append(
                    forbidden(
                        child(index("status.containerStatuses", i), "state"),
                        "may not be transitioned to non-terminated state",
                    )
                )
    return errs


def validate_pod_status_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidatePodStatusUpdate`` without the ObjectMeta part. Side-effect-free."""
    new_status, old_status = mapping(new, "status"), mapping(old, "status")
    errs: list[FieldError] = []
    for i, condition in enumerate(objects(new_status, "conditions")):
        kind = text(condition, "type")
        if kind not in SYSTEM_CONDITIONS:
            # sic: upstream roots this path at metadata.
            errs += [invalid(f"metadata.conditions[{i}].Type", kind, m) for m in is_qualified_name(kind)]
    if text(mapping(new, "spec"), "nodeName") != text(mapping(old, "spec"), "nodeName"):
        errs.append(forbidden("status.nodeName", "may not be changed directly"))
    nominated = text(new_status, "nominatedNodeName")
    if nominated and nominated != text(old_status, "nominatedNodeName"):
        errs += [invalid("status.nominatedNodeName", nominated, m) for m in name_is_dns_subdomain(nominated, False)]
    errs += validate_immutable(text(new_status, "qosClass"), text(old_status, "qosClass"), "status.qosClass")
    restart = text(mapping(old, "spec"), "restartPolicy", "Always")
    errs += _validate_container_transitions(new_status, old_status, restart)
    return errs + _validate_pod_ips(new_status, "podIPs", "PodIP") + _validate_pod_ips(new_status, "hostIPs", "HostIP")
