"""kind's networking section in a testbed spec: ipFamily, dual subnets, kind's defaults.

Address plan: kind's defaults 10.244.0.0/16 + fd00:10:244::/56 (pods) and
10.96.0.0/16 + fd00:10:96::/112 (services); 2001:db8::/64 as a foreign IPv6 range.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from svclab.testbed import networking
from svclab.testbed.kind.cluster import kind_config
from svclab.testbed.kind.manifests import proxy_cluster_cidr
from svclab.testbed.spec import SpecError, parse_spec

KIND_BASE: dict[str, Any] = {
    "apiVersion": "svclab.dev/v1alpha1",
    "kind": "Testbed",
    "metadata": {"name": "d18"},
    "spec": {
        "provider": "kind",
        "proxy": {"mode": "iptables"},
        "cluster": {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [{"role": "control-plane"}]},
    },
}


def with_networking(provider: str = "kind", **net: Any) -> dict[str, Any]:
    document = copy.deepcopy(KIND_BASE)
    document["spec"]["provider"] = provider
    document["spec"]["cluster"]["networking"] = net
    return document


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(document, "x.yaml")
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("family", "pods", "services"),
    [
        ("ipv4", "10.244.0.0/16", "10.96.0.0/16"),
        ("ipv6", "fd00:10:244::/56", "fd00:10:96::/112"),
        ("dual", "10.244.0.0/16,fd00:10:244::/56", "10.96.0.0/16,fd00:10:96::/112"),
    ],
)
def test_kind_defaults_per_family(family: str, pods: str, services: str) -> None:
    testbed = parse_spec(with_networking(ipFamily=family), "x.yaml")
    assert (testbed.ip_family, testbed.pod_subnet, testbed.service_subnet) == (family, pods, services)


def test_ipv4_stays_the_default() -> None:
    testbed = parse_spec(with_networking(), "x.yaml")
    assert (testbed.ip_family, testbed.pod_subnet, testbed.service_subnet) == ("ipv4", "10.244.0.0/16", "10.96.0.0/16")


def test_dual_subnets_given_ipv6_primary() -> None:
    testbed = parse_spec(
        with_networking(
            ipFamily="dual", podSubnet="fd00:1::/56, 10.1.0.0/16", serviceSubnet="fd00:2::/112,10.2.0.0/16"
        ),
        "x.yaml",
    )
    assert testbed.pod_subnet == "fd00:1::/56,10.1.0.0/16"
    assert networking.split_subnets(testbed.service_subnet) == ("fd00:2::/112", "10.2.0.0/16")


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        pytest.param(
            {"ipFamily": "dual", "podSubnet": "10.244.0.0/16"},
            "x.yaml: spec.cluster.networking.podSubnet: ipFamily dual needs two CIDRs, one IPv4 and one IPv6, "
            "comma-separated (primary first)",
            id="dual-one-cidr",
        ),
        pytest.param(
            {"ipFamily": "dual", "serviceSubnet": "10.96.0.0/16,10.97.0.0/16"},
            "x.yaml: spec.cluster.networking.serviceSubnet: ipFamily dual needs two CIDRs, one IPv4 and one IPv6, "
            "comma-separated (primary first)",
            id="dual-same-family",
        ),
        pytest.param(
            {"podSubnet": "10.244.0.0/16,fd00:10:244::/56"},
            "x.yaml: spec.cluster.networking.podSubnet: ipFamily ipv4 takes one CIDR (two, comma-separated, only "
            "with ipFamily: dual)",
            id="pair-without-dual",
        ),
        pytest.param(
            {"ipFamily": "ipv6", "serviceSubnet": "10.96.0.0/16"},
            "x.yaml: spec.cluster.networking.serviceSubnet: must be an IPv6 CIDR for ipFamily ipv6",
            id="ipv6-with-v4-range",
        ),
        pytest.param(
            {"podSubnet": "2001:db8::/64"},
            "x.yaml: spec.cluster.networking.podSubnet: must be an IPv4 CIDR for ipFamily ipv4",
            id="ipv4-with-v6-range",
        ),
        pytest.param(
            {"ipFamily": "ipv5"},
            "x.yaml: spec.cluster.networking.ipFamily: must be one of ipv4, ipv6, dual",
            id="unknown-family",
        ),
    ],
)
def test_bad_combinations_are_one_clear_line(net: dict[str, Any], expected: str) -> None:
    assert problems(with_networking(**net)) == [expected]


@pytest.mark.parametrize(
    ("net", "pods", "services"),
    [
        pytest.param(
            {"ipFamily": "dual"}, "10.244.0.0/16,fd00:10:244::/56", "10.96.0.0/16,fd00:10:96::/112", id="dual"
        ),
        pytest.param(
            {
                "ipFamily": "dual",
                "podSubnet": "fd00:10:244::/56,10.244.0.0/16",
                "serviceSubnet": "fd00:10:96::/112,10.96.0.0/16",
            },
            "fd00:10:244::/56,10.244.0.0/16",
            "fd00:10:96::/112,10.96.0.0/16",
            id="dual-ipv6-primary",
        ),
        pytest.param({"ipFamily": "ipv6"}, "fd00:10:244::/56", "fd00:10:96::/112", id="ipv6"),
    ],
)
def test_local_provider_takes_dual_and_ipv6_with_kinds_defaults(net: dict[str, Any], pods: str, services: str) -> None:
    testbed = parse_spec(with_networking("local", **net), "x.yaml")
    assert (testbed.pod_subnet, testbed.service_subnet) == (pods, services)


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        pytest.param(
            {"podSubnet": "10.244.0.0/16,fd00:10:244::/64"},
            "podSubnet: too small for 2 nodes with a /64 each",
            id="ipv6-pods-too-small",
        ),
        pytest.param(
            {"serviceSubnet": "10.96.0.0/16,fd00:10:244::/112"},
            "serviceSubnet: overlaps podSubnet",
            id="ipv6-services-in-pods",
        ),
    ],
)
def test_local_provider_dual_limits(net: dict[str, Any], expected: str) -> None:
    document = with_networking("local", ipFamily="dual", **net)
    document["spec"]["cluster"]["nodes"].append({"role": "worker"})
    assert problems(document) == [f"x.yaml: spec.cluster.networking.{expected}"]


def test_kind_config_carries_the_family_and_subnets_verbatim() -> None:
    testbed = parse_spec(with_networking(ipFamily="dual", podSubnet="10.1.0.0/16,fd00:1::/56"), "x.yaml")
    config = kind_config(testbed)
    assert config["networking"] == {"ipFamily": "dual", "podSubnet": "10.1.0.0/16,fd00:1::/56", "kubeProxyMode": "none"}


@pytest.mark.parametrize(
    ("family", "expected"),
    [("ipv4", "10.244.0.0/16"), ("dual", "10.244.0.0/16"), ("ipv6", "fd00:10:244::/56")],
)
def test_proxy_cluster_cidr_is_one_family(family: str, expected: str) -> None:
    # The proxies program one family today (IPv6 rules come with the proxy half of
    # issue 18): a dual pod subnet gives them its IPv4 member, never the comma pair.
    assert proxy_cluster_cidr(parse_spec(with_networking(ipFamily=family), "x.yaml")) == expected
