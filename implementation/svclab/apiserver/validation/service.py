"""Service validation, as upstream's ``ValidateService`` / ``ValidateServiceUpdate`` do it.

The Service reaching these functions is defaulted and allocated, as upstream
validates after its REST layer has run: ``clusterIPs`` mirrors ``clusterIP``,
``ipFamilies`` / ``ipFamilyPolicy`` / traffic policies / ``sessionAffinityConfig``
and ``allocateLoadBalancerNodePorts`` are set where upstream sets them, and a
``LoadBalancer`` with ``externalTrafficPolicy: Local`` has a health-check port.
Range checks of NodePorts and ClusterIPs belong to the allocators, not here.

On update the primary ClusterIP and IP family may not change (``may not change
once set``) unless the Service is, or was, of type ExternalName.
"""

from __future__ import annotations

from typing import Any

from svclab.apimachinery.validation import is_dns1123_subdomain, is_qualified_name

from .access import child, index, mapping, number, objects, seq, text
from .errors import (
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
    is_port_num,
    is_valid_cidr,
    is_valid_ip,
    name_is_dns1035_label,
    parse_ip_sloppy,
    validate_app_protocol,
    validate_non_special_ip,
    validate_port_name,
    validate_port_num_or_name,
    validate_protocol,
)
from .meta import validate_labels, validate_object_meta

__all__ = [
    "validate_cluster_ips_related_fields",
    "validate_service",
    "validate_service_status_update",
    "validate_service_update",
]

SPEC = "spec"
PORTS = "spec.ports"
CLUSTER_IPS = "spec.clusterIPs"
IP_FAMILIES = "spec.ipFamilies"
IP_FAMILY_POLICY = "spec.ipFamilyPolicy"

# Sorted, as upstream prints sets.List(...) of these vocabularies.
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILY_NAMES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
# sorted as upstream lists them in the error; PreferSameZone and PreferSameNode: KEP-3015 (v1.33+)
TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameNode", "PreferSameZone")
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"


def _is_headless(spec: dict[str, Any]) -> bool:
    return seq(spec, "clusterIPs") == ["None"]


def _externally_accessible(spec: dict[str, Any]) -> bool:
    kind = text(spec, "type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(seq(spec, "externalIPs")))


def _needs_health_check(spec: dict[str, Any]) -> bool:
    return text(spec, "type") == "LoadBalancer" and text(spec, "externalTrafficPolicy") == "Local"


def _validate_type_specifics(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = text(spec, "type")
    if kind in ("LoadBalancer", "NodePort") and _is_headless(spec):
        errs.append(invalid(index(CLUSTER_IPS, 0), "None", f"may not be set to 'None' for {kind} services"))
    if kind != "ExternalName":
        return errs
    if seq(spec, "clusterIPs") or text(spec, "clusterIP"):
        errs.append(forbidden(CLUSTER_IPS, "may not be set for ExternalName services"))
    if seq(spec, "ipFamilies"):
        errs.append(forbidden(IP_FAMILIES, "may not be set for ExternalName services"))
    if spec.get("ipFamilyPolicy") is not None:
        errs.append(forbidden(IP_FAMILY_POLICY, "may not be set for ExternalName services"))
    # The CNAME may end in a dot to mark it fully qualified.
    cname = text(spec, "externalName").removesuffix(".")
    if cname:
        errs += [invalid(child(SPEC, "externalName"), cname, msg) for msg in is_dns1123_subdomain(cname)]
    else:
        errs.append(required(child(SPEC, "externalName")))
    return errs


def _validate_port(port: dict[str, Any], require_name: bool, names: set[str], path: str) -> list[FieldError]:
    errs = validate_port_name(port, require_name, path)
    name = text(port, "name")
    if name:
        if name in names:
            errs.append(duplicate(child(path, "name"), name))
        names.add(name)
    number_ = number(port, "port") or 0
    errs += [invalid(child(path, "port"), number_, msg) for msg in is_port_num(number_)]
    errs += validate_protocol(port, path)
    errs += validate_port_num_or_name(port.get("targetPort", number_), child(path, "targetPort"))
    return errs + validate_app_protocol(port, path)


def _service_port_literal(protocol: str, port: int) -> GoLiteral:
    """The ``%#v`` of the core.ServicePort key upstream reports for a duplicate port."""
    return GoLiteral(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), Port:{port}, '
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def _validate_ports(spec: dict[str, Any]) -> list[FieldError]:
    ports = objects(spec, "ports")
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _validate_port(port, len(ports) > 1, names, index(PORTS, i))
    return errs


def _validate_port_uniqueness(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    ports = objects(spec, "ports")
    if text(spec, "type") == "ClusterIP":
        for i, port in enumerate(ports):
            if number(port, "nodePort"):
                errs.append(forbidden(child(index(PORTS, i), "nodePort"), "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = number(port, "nodePort") or 0
        if node_port:
            pair = (text(port, "protocol", "TCP"), node_port)
            if pair in node_ports:
                errs.append(duplicate(child(index(PORTS, i), "nodePort"), node_port))
            node_ports.add(pair)
    seen: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        pair = (text(port, "protocol", "TCP"), number(port, "port") or 0)
        if pair in seen:
            errs.append(duplicate(index(PORTS, i), _service_port_literal(*pair)))
        seen.add(pair)
    return errs


def _validate_session_affinity(spec: dict[str, Any]) -> list[FieldError]:
    path = child(SPEC, "sessionAffinity")
    affinity = text(spec, "sessionAffinity", "None")
    if not affinity:
        return [required(path)]
    if affinity not in SESSION_AFFINITIES:
        return [not_supported(path, affinity, SESSION_AFFINITIES)]
    config_path = child(SPEC, "sessionAffinityConfig")
    config = spec.get("sessionAffinityConfig")
    if affinity == "None":
        return [forbidden(config_path, "must not be set when session affinity is None")] if config is not None else []
    reason = "when session affinity type is ClientIP"
    if not isinstance(config, dict):
        return [required(config_path, reason)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [required(child(config_path, "clientIP"), reason)]
    timeout_path = child(child(config_path, "clientIP"), "timeoutSeconds")
    timeout = number(client_ip, "timeoutSeconds")
    if timeout is None:
        return [required(timeout_path, reason)]
    if timeout <= 0 or timeout > MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [
            invalid(timeout_path, timeout, f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}")
        ]
    return []


def _validate_ip_families(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, family in enumerate(seq(spec, "ipFamilies")):
        if family not in IP_FAMILY_NAMES:
            errs.append(not_supported(index(IP_FAMILIES, i), family, IP_FAMILY_NAMES))
        if family in seen:
            errs.append(duplicate(index(IP_FAMILIES, i), family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported(IP_FAMILY_POLICY, policy, IP_FAMILY_POLICIES))
    return errs


def _validate_cluster_ip_values(cluster_ips: list[Any]) -> tuple[list[FieldError], bool]:
    errs: list[FieldError] = []
    has_invalid = False
    for i, cluster_ip in enumerate(cluster_ips):
        if i == 0 and cluster_ip == "None":
            if len(cluster_ips) > 1:
                has_invalid = True
                errs.append(invalid(CLUSTER_IPS, go_slice(cluster_ips), "'None' must be the first and only value"))
            continue
        ip_errs = is_valid_ip(index(CLUSTER_IPS, i), str(cluster_ip))
        has_invalid = has_invalid or bool(ip_errs)
        errs += ip_errs
    if len(cluster_ips) > 2:
        errs.append(invalid(CLUSTER_IPS, go_slice(cluster_ips), "may only hold up to 2 values"))
    return errs, has_invalid


def _is_ipv6(value: str) -> bool:
    ip = parse_ip_sloppy(value)
    return ip is not None and ip.version == 6 and getattr(ip, "ipv4_mapped", None) is None


def validate_cluster_ips_related_fields(spec: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateServiceClusterIPsRelatedFields`` (also the allocator's loose
    pre-check of the IP-family fields). Side-effect-free."""
    if text(spec, "type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    cluster_ip, cluster_ips = text(spec, "clusterIP"), seq(spec, "clusterIPs")
    if cluster_ip:
        if not cluster_ips:
            errs.append(required(CLUSTER_IPS))
        elif cluster_ips[0] != cluster_ip:
            errs.append(invalid(CLUSTER_IPS, go_slice(cluster_ips), "first value must match `clusterIP`"))
    elif cluster_ips:
        errs.append(invalid(CLUSTER_IPS, go_slice(cluster_ips), "must be empty when `clusterIP` is not specified"))
    errs += _validate_ip_families(spec)
    value_errs, has_invalid = _validate_cluster_ip_values(cluster_ips)
    errs += value_errs
    if has_invalid:
        return errs
    if len(cluster_ips) > 1 and len({_is_ipv6(str(ip)) for ip in cluster_ips}) != 2:
        errs.append(invalid(CLUSTER_IPS, go_slice(cluster_ips), "may specify no more than one IP for each IP family"))
    families = seq(spec, "ipFamilies")
    if not _is_headless(spec):
        for i, ip in enumerate(cluster_ips[: len(families)]):
            expected = families[i]
            if (expected == "IPv4" and _is_ipv6(str(ip))) or (expected == "IPv6" and not _is_ipv6(str(ip))):
                errs.append(
                    invalid(
                        index(CLUSTER_IPS, i), ip, f"expected an {expected} value as indicated by `ipFamilies[{i}]`"
                    )
                )
    return errs


def _validate_external_ips(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ip in enumerate(seq(spec, "externalIPs")):
        path = index(child(SPEC, "externalIPs"), i)
        ip_errs = is_valid_ip(path, str(ip))
        errs += ip_errs or validate_non_special_ip(str(ip), path)
    return errs


def _validate_load_balancer_fields(spec: dict[str, Any], annotations: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    is_lb = text(spec, "type") == "LoadBalancer"
    ranges = seq(spec, "loadBalancerSourceRanges")
    annotation = "service.beta.kubernetes.io/load-balancer-source-ranges"
    if ranges:
        path = child(SPEC, "LoadBalancerSourceRanges")  # sic: upstream's capital L
        if not is_lb:
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            errs += is_valid_cidr(index(path, i), str(value).strip())
    elif annotation in annotations:
        path = f"metadata.annotations[{annotation}]"
        if not is_lb:
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        value = str(annotations[annotation]).strip()
        for cidr in value.split(",") if value else []:
            errs += is_valid_cidr(path, cidr.strip())
    if spec.get("allocateLoadBalancerNodePorts") is not None and not is_lb:
        errs.append(
            forbidden(child(SPEC, "allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'")
        )
    if is_lb and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))  # sic: upstream omits "spec."
    lb_class = spec.get("loadBalancerClass")
    if isinstance(lb_class, str):
        path = child(SPEC, "loadBalancerClass")
        if is_lb:
            errs += [invalid(path, lb_class, msg) for msg in is_qualified_name(lb_class)]
        else:
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
    return errs


def _validate_traffic_policies(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    etp_path, hc_path = child(SPEC, "externalTrafficPolicy"), child(SPEC, "healthCheckNodePort")
    etp = text(spec, "externalTrafficPolicy")
    if not _externally_accessible(spec):
        if etp:
            errs.append(invalid(etp_path, etp, "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required(etp_path))
    elif etp not in TRAFFIC_POLICIES:
        errs.append(not_supported(etp_path, etp, TRAFFIC_POLICIES))
    health_port = number(spec, "healthCheckNodePort") or 0
    if not _needs_health_check(spec):
        if health_port:
            errs.append(
                invalid(
                    hc_path,
                    health_port,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                )
            )
    elif health_port:
        # Upstream also requires the port here, but validates after allocation so that
        # never fires; our registry validates before the allocator assigns it.
        errs += [invalid(hc_path, health_port, msg) for msg in is_port_num(health_port)]
    itp_path = child(SPEC, "internalTrafficPolicy")
    itp = spec.get("internalTrafficPolicy")
    if itp is None and text(spec, "type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(required(itp_path))
    elif itp is not None and itp not in TRAFFIC_POLICIES:
        errs.append(not_supported(itp_path, itp, TRAFFIC_POLICIES))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution not in TRAFFIC_DISTRIBUTIONS:
        errs.append(not_supported(child(SPEC, "trafficDistribution"), distribution, TRAFFIC_DISTRIBUTIONS))
    return errs


def _validate_topology_annotations(annotations: dict[str, Any]) -> list[FieldError]:
    if TOPOLOGY_MODE in annotations and TOPOLOGY_HINTS in annotations:
        if annotations[TOPOLOGY_MODE] != annotations[TOPOLOGY_HINTS]:
            return [
                invalid(
                    f"metadata.annotations[{TOPOLOGY_MODE}]",
                    annotations[TOPOLOGY_MODE],
                    f"must match annotations[{TOPOLOGY_HINTS}] when both are specified",
                )
            ]
    return []


def validate_service(service: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateService``: a defaulted Service on create or update. Side-effect-free."""
    meta, spec = mapping(service, "metadata"), mapping(service, "spec")
    annotations = mapping(meta, "annotations")
    errs = validate_object_meta(meta, namespaced=True, name_fn=name_is_dns1035_label)
    errs += _validate_topology_annotations(annotations)
    if not seq(spec, "ports") and not _is_headless(spec) and text(spec, "type") != "ExternalName":
        errs.append(required(PORTS))
    errs += _validate_type_specifics(spec)
    errs += _validate_ports(spec)
    if isinstance(spec.get("selector"), dict):
        errs += validate_labels(mapping(spec, "selector"), child(SPEC, "selector"))
    errs += _validate_session_affinity(spec)
    errs += validate_cluster_ips_related_fields(spec)
    errs += _validate_external_ips(spec)
    kind = text(spec, "type", "ClusterIP")
    if not kind:
        errs.append(required(child(SPEC, "type")))
    elif kind not in SERVICE_TYPES:
        errs.append(not_supported(child(SPEC, "type"), kind, SERVICE_TYPES))
    errs += _validate_port_uniqueness(spec)
    errs += _validate_load_balancer_fields(spec, annotations)
    errs += _validate_traffic_policies(spec)
    return errs


def _validate_cluster_ips_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``validateUpgradeDowngradeClusterIPs``."""
    if "ExternalName" in (text(new, "type"), text(old, "type")):
        return []
    if _is_headless(new) and _is_headless(old):
        return []
    new_ips, old_ips = seq(new, "clusterIPs"), seq(old, "clusterIPs")
    shown = go_slice(new_ips)
    errs: list[FieldError] = []
    if len(new_ips) == len(old_ips):
        errs += [
            invalid(index(CLUSTER_IPS, i), shown, "may not change once set")
            for i, ip in enumerate(old_ips)
            if ip != new_ips[i]
        ]
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(invalid(index(CLUSTER_IPS, 0), shown, "primary clusterIP can not be unset"))
        elif new_ips[0] != old_ips[0]:
            errs.append(invalid(index(CLUSTER_IPS, 0), shown, "may not change once set"))
        if len(new_ips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(
                invalid(
                    IP_FAMILY_POLICY,
                    new.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                )
            )
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid(index(CLUSTER_IPS, 0), shown, "may not change once set"))
    return errs


def _validate_ip_families_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``validateUpgradeDowngradeIPFamilies`` (its bad values included, sic)."""
    if "ExternalName" in (text(new, "type"), text(old, "type")) or _is_headless(new) or _is_headless(old):
        return []
    new_families, old_families = seq(new, "ipFamilies"), seq(old, "ipFamilies")
    families_shown = go_slice(new_families, "[]core.IPFamily")
    ips_shown = go_slice(seq(new, "clusterIPs"))
    first = index(IP_FAMILIES, 0)
    errs: list[FieldError] = []
    if len(new_families) == len(old_families):
        errs += [
            invalid(first, families_shown, "may not change once set")
            for i, family in enumerate(old_families)
            if family != new_families[i]
        ]
    elif len(old_families) > len(new_families):
        if not seq(new, "clusterIPs"):
            errs.append(invalid(first, families_shown, "primary ipFamily can not be unset"))
        if new_families and new_families[0] != old_families[0]:
            errs.append(invalid(first, ips_shown, "may not change once set"))
        if len(new_families) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(
                invalid(
                    IP_FAMILY_POLICY,
                    new.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
    elif old_families and new_families and new_families[0] != old_families[0]:
        errs.append(invalid(first, ips_shown, "may not change once set"))
    return errs


def validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateServiceUpdate`` without the ObjectMeta part. Side-effect-free."""
    new_spec, old_spec = mapping(new, "spec"), mapping(old, "spec")
    errs = _validate_cluster_ips_update(new_spec, old_spec)
    errs += _validate_ip_families_update(new_spec, old_spec)
    if text(new_spec, "type") == "LoadBalancer" == text(old_spec, "type"):
        if new_spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass"):
            errs.append(
                invalid(child(SPEC, "loadBalancerClass"), new_spec.get("loadBalancerClass"), "may not change once set")
            )
    if _needs_health_check(new_spec) and _needs_health_check(old_spec):
        if number(new_spec, "healthCheckNodePort") != number(old_spec, "healthCheckNodePort"):
            errs.append(forbidden(child(SPEC, "healthCheckNodePort"), "field is immutable"))
    return errs + validate_service(new)


def validate_service_status_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Upstream ``ValidateLoadBalancerStatus`` for ``status.loadBalancer``."""
    del old  # only the new status is checked; ObjectMeta rules run in the dispatcher
    path = "status.loadBalancer.ingress"
    ingress = objects(mapping(mapping(new, "status"), "loadBalancer"), "ingress")
    if ingress and text(mapping(new, "spec"), "type") != "LoadBalancer":
        return [forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'")]
    errs: list[FieldError] = []
    for i, entry in enumerate(ingress):
        entry_path = index(path, i)
        ip, hostname, mode = text(entry, "ip"), text(entry, "hostname"), entry.get("ipMode")
        if ip:
            errs += is_valid_ip(child(entry_path, "ip"), ip)
        if mode is not None and not ip:
            errs.append(forbidden(child(entry_path, "ipMode"), "may not be specified when `ip` is not set"))
        elif mode is not None and mode not in ("Proxy", "VIP"):
            errs.append(not_supported(child(entry_path, "ipMode"), mode, ("Proxy", "VIP")))
        if hostname:
            errs += [invalid(child(entry_path, "hostname"), hostname, msg) for msg in is_dns1123_subdomain(hostname)]
            if parse_ip_sloppy(hostname) is not None:
                errs.append(invalid(child(entry_path, "hostname"), hostname, "must be a DNS name, not an IP address"))
    return errs
