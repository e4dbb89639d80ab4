"""IP families of a Service: ``ipFamilyPolicy`` and ``ipFamilies`` from what the user
asked for and what the cluster has, as upstream's allocator initialises them.

Upstream does this in the Service REST storage (``initIPFamilyFields`` in
``pkg/registry/core/service/storage/alloc.go``), not in the v1 defaults: the
defaults depend on the cluster's service CIDRs (one family or two) and, on
update, on the old Service. The rules, in upstream's order:

* ExternalName Services have no families; nothing is touched.
* An update that keeps a PreferDualStack Service's clusterIPs and families is
  left alone, so a cluster turned dual-stack (or back) never silently upgrades
  (or downgrades) it.
* A missing policy is the old Service's on update, ``RequireDualStack`` for a
  headless Service without selector, else ``SingleStack``.
* ``SingleStack`` on update with clusterIPs / families left as they were drops the
  secondary ones (the downgrade); any other policy may not shrink them.
* Families missing behind given clusterIPs are inferred from the IPs.
* A headless Service without selector may take any family, even one the cluster
  lacks, and gets both unless SingleStack.
* Otherwise RequireDualStack needs a dual-stack cluster, every family must be
  configured, the default is the cluster's primary family and a non-SingleStack
  policy on a dual-stack cluster gets the other family appended.

:func:`init_ip_family_fields` fills in the spec it is given and returns upstream's
field errors (empty when the Service is fine).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from ..validation.errors import FieldError, go_slice, invalid
from ..validation.service import validate_cluster_ips_related_fields
from .spec import EXTERNAL_NAME, HEADLESS, LOAD_BALANCER, NODE_PORT

__all__ = [
    "IPV4",
    "IPV6",
    "PREFER_DUAL_STACK",
    "REQUIRE_DUAL_STACK",
    "SINGLE_STACK",
    "family_of",
    "init_ip_family_fields",
    "is_matching_prefer_dual_stack",
]

IPV4, IPV6 = "IPv4", "IPv6"
SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK = "SingleStack", "PreferDualStack", "RequireDualStack"
_POLICY = "spec.ipFamilyPolicy"


def family_of(ip: str) -> str:
    """``IPv4`` / ``IPv6`` for an address; ``unknown`` (as upstream) for anything else."""
    try:
        return IPV6 if ipaddress.ip_address(ip).version == 6 else IPV4
    except ValueError:
        return "unknown"


def _other(family: str) -> str:
    return IPV6 if family == IPV4 else IPV4


def is_matching_prefer_dual_stack(spec: dict[str, Any], old_spec: dict[str, Any] | None) -> bool:
    """Upstream ``isMatchingPreferDualStackClusterIPFields``: an update of a
    PreferDualStack Service that leaves its type, clusterIPs and families alone."""
    if old_spec is None or spec.get("ipFamilyPolicy") is None:
        return False
    if old_spec.get("type") != spec.get("type") or spec.get("type") not in ("ClusterIP", NODE_PORT, LOAD_BALANCER):
        return False
    if spec.get("ipFamilyPolicy") != PREFER_DUAL_STACK:
        return False
    if old_spec.get("ipFamilyPolicy") not in (None, PREFER_DUAL_STACK):
        return False
    return list(spec.get("clusterIPs") or []) == list(old_spec.get("clusterIPs") or []) and list(
        spec.get("ipFamilies") or []
    ) == list(old_spec.get("ipFamilies") or [])


def _default_policy(spec: dict[str, Any], old_spec: dict[str, Any] | None) -> None:
    if spec.get("ipFamilyPolicy") is not None:
        return
    if old_spec is not None and old_spec.get("ipFamilyPolicy") is not None:
        spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
    elif spec.get("clusterIP") == HEADLESS and not spec.get("selector"):
        spec["ipFamilyPolicy"] = REQUIRE_DUAL_STACK
    else:
        spec["ipFamilyPolicy"] = SINGLE_STACK


def _shrink_or_refuse(spec: dict[str, Any], old_spec: dict[str, Any]) -> list[FieldError]:
    """Update only: SingleStack drops untouched secondaries; other policies may not shrink."""
    ips, families = list(spec.get("clusterIPs") or []), list(spec.get("ipFamilies") or [])
    old_ips, old_families = list(old_spec.get("clusterIPs") or []), list(old_spec.get("ipFamilies") or [])
    policy = spec["ipFamilyPolicy"]
    if policy == SINGLE_STACK:
        if ips == old_ips and len(ips) > 1:
            spec["clusterIPs"] = ips[:1]
        if families == old_families and len(families) > 1:
            spec["ipFamilies"] = families[:1]
        return []
    errs = []
    if ips and len(ips) < len(old_ips):
        errs.append(invalid(_POLICY, policy, "must be 'SingleStack' to release the secondary cluster IP"))
    if families and len(families) < len(old_families):
        errs.append(invalid(_POLICY, policy, "must be 'SingleStack' to release the secondary IP family"))
    return errs


def _check_single_stack(spec: dict[str, Any]) -> list[FieldError]:
    if spec["ipFamilyPolicy"] != SINGLE_STACK:
        return []
    errs = []
    if len(spec.get("clusterIPs") or []) == 2:
        errs.append(
            invalid(
                _POLICY,
                SINGLE_STACK,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            )
        )
    if len(spec.get("ipFamilies") or []) == 2:
        errs.append(
            invalid(
                _POLICY,
                SINGLE_STACK,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            )
        )
    return errs


def _infer_families_from_ips(spec: dict[str, Any], cluster_families: Sequence[str]) -> list[FieldError]:
    ips = list(spec.get("clusterIPs") or [])
    families = list(spec.get("ipFamilies") or [])
    errs = []
    for i, ip in enumerate(ips):
        if ip == HEADLESS:
            break
        if i < len(families):
            continue
        family = family_of(ip)
        if family in cluster_families:
            families.append(family)
        else:
            errs.append(invalid(f"spec.clusterIPs[{i}]", go_slice(ips), f"{family} is not configured on this cluster"))
    if families:
        spec["ipFamilies"] = families
    return errs


def _headless_selectorless(spec: dict[str, Any], primary: str) -> None:
    families = list(spec.get("ipFamilies") or []) or [primary]
    if len(families) < 2 and spec["ipFamilyPolicy"] != SINGLE_STACK:
        families.append(_other(families[0]))
    spec["ipFamilies"] = families


def _check_configured(spec: dict[str, Any], cluster_families: Sequence[str]) -> list[FieldError]:
    errs = []
    if spec["ipFamilyPolicy"] == REQUIRE_DUAL_STACK and len(cluster_families) < 2:
        errs.append(invalid(_POLICY, REQUIRE_DUAL_STACK, "this cluster is not configured for dual-stack services"))
    for i, family in enumerate(spec.get("ipFamilies") or []):
        if family not in cluster_families:
            errs.append(invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
    return errs


def init_ip_family_fields(
    spec: dict[str, Any], old_spec: dict[str, Any] | None, cluster_families: Sequence[str]
) -> list[FieldError]:
    """Fill in ``spec``'s ``ipFamilyPolicy`` / ``ipFamilies`` (and, on a downgrade, trim
    ``clusterIPs``) as upstream's ``initIPFamilyFields``; returns its field errors.

    ``cluster_families`` are the families of the service CIDRs, primary first.
    ``old_spec`` is the stored Service's spec on update, None on create. Mutates
    ``spec`` only; when errors are returned the caller must not store it.
    """
    if spec.get("type") == EXTERNAL_NAME or is_matching_prefer_dual_stack(spec, old_spec):
        return []
    _default_policy(spec, old_spec)
    loose = validate_cluster_ips_related_fields(spec)
    if loose:
        return loose
    errs = _shrink_or_refuse(spec, old_spec) if old_spec is not None else []
    errs += _check_single_stack(spec)
    errs += _infer_families_from_ips(spec, cluster_families)
    if errs:
        return errs
    if spec.get("clusterIP") == HEADLESS and not spec.get("selector"):
        _headless_selectorless(spec, cluster_families[0])
        return []
    errs = _check_configured(spec, cluster_families)
    if errs:
        return errs
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = [cluster_families[0]]
    if spec["ipFamilyPolicy"] != SINGLE_STACK and len(spec["ipFamilies"]) == 1 and len(cluster_families) == 2:
        spec["ipFamilies"].append(_other(spec["ipFamilies"][0]))
    return []
