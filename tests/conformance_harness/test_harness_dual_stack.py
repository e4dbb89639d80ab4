"""``harness.dual_stack``: when is a cluster dual-stack, and the family helpers.

Address plan: Services 10.96.0.0/16 and fd00:10:96::/112; node ``n`` with
172.18.0.2 / fc00:f853:ccd:e793::2 and pod CIDRs 10.244.0.0/24 / fd00:10:244::/64.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.dual_stack import dual_stack_problem, family_of, in_family, service_networks

DUAL_SERVICES = "10.96.0.0/16,fd00:10:96::/112"


def _node(ips: list[str], cidrs: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "n"},
        "spec": {"podCIDRs": cidrs},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip} for ip in ips] + [{"type": "Hostname", "address": "n"}]
        },
    }


DUAL_NODE = _node(["172.18.0.2", "fc00:f853:ccd:e793::2"], ["10.244.0.0/24", "fd00:10:244::/64"])


def test_family_helpers() -> None:
    assert [family_of(a) for a in ("10.0.0.1", "fd00::1", "fd00:10:96::/112")] == ["IPv4", "IPv6", "IPv6"]
    assert in_family(["10.0.0.1", "fd00::1", "10.0.0.2"], "IPv4") == ["10.0.0.1", "10.0.0.2"]
    assert {k: str(v) for k, v in service_networks(DUAL_SERVICES).items()} == {
        "IPv4": "10.96.0.0/16",
        "IPv6": "fd00:10:96::/112",
    }


def test_a_dual_cluster_has_no_problem() -> None:
    assert dual_stack_problem(DUAL_SERVICES, [DUAL_NODE]) is None


@pytest.mark.parametrize(
    ("services", "node", "problem"),
    [
        pytest.param("10.96.0.0/16", DUAL_NODE, "its serviceSubnet 10.96.0.0/16 has one family", id="v4-services"),
        pytest.param(None, DUAL_NODE, "its serviceSubnet (unknown) has one family", id="unknown-services"),
        pytest.param(
            DUAL_SERVICES,
            _node(["172.18.0.2"], ["10.244.0.0/24", "fd00:10:244::/64"]),
            "node n has InternalIPs ['172.18.0.2'], not one per family",
            id="v4-node",
        ),
        pytest.param(
            DUAL_SERVICES,
            _node(["172.18.0.2", "fc00:f853:ccd:e793::2"], ["10.244.0.0/24"]),
            "node n has podCIDRs ['10.244.0.0/24'], not one per family",
            id="v4-pod-cidrs",
        ),
    ],
)
def test_single_stack_clusters_say_why(services: str | None, node: dict[str, Any], problem: str) -> None:
    assert dual_stack_problem(services, [node]) == problem
