"""Testbed spec parsing and validation (pure; no root, no files except clusters/)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from svclab.testbed.spec import (
    ENDPOINT_CONTROLLERS,
    WORKLOAD_CONTROLLERS,
    Controller,
    Duration,
    NodeRole,
    ProxyMode,
    SpecError,
    load_spec,
    parse_duration,
    parse_spec,
)

REPO = Path(__file__).resolve().parents[2]

BASE: dict[str, Any] = {
    "apiVersion": "svclab.dev/v1alpha1",
    "kind": "Testbed",
    "metadata": {"name": "demo"},
    "spec": {
        "proxy": {"mode": "iptables", "minSyncPeriod": "500ms", "syncPeriod": "30s"},
        "cluster": {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "nodes": [{"role": "control-plane"}, {"role": "worker", "labels": {"topology.kubernetes.io/zone": "a"}}],
        },
    },
}


def spec_with(path: str, value: Any) -> dict[str, Any]:
    """BASE with one dotted path (list indexes as numbers) set to value."""
    document = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return document


def problems(document: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(document, "x.yaml")
    return list(caught.value.problems)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs", "userspace"])
def test_shipped_specs_are_three_nodes_in_zones(mode: str) -> None:
    testbed = load_spec(REPO / "clusters" / f"{mode}.yaml")
    assert testbed.name == mode
    assert testbed.proxy.mode == ProxyMode(mode)
    assert [n.role for n in testbed.nodes] == [NodeRole.CONTROL_PLANE, NodeRole.WORKER, NodeRole.WORKER]
    zones = [dict(n.labels)["topology.kubernetes.io/zone"] for n in testbed.nodes]
    assert zones == ["zone-a", "zone-a", "zone-b"]
    assert testbed.cluster["kind"] == "Cluster"  # kept verbatim for kind


def test_defaults() -> None:
    testbed = parse_spec(BASE, "x.yaml")
    assert testbed.provider == "local" and testbed.kernel == "auto"
    assert testbed.controllers == tuple(Controller)  # local: endpoint and workload controllers
    assert testbed.pod_subnet == "10.244.0.0/16"
    assert testbed.service_subnet == "10.96.0.0/16"
    assert testbed.proxy.min_sync_period == Duration("500ms", 0.5)
    assert testbed.nodes[1].labels == (("topology.kubernetes.io/zone", "a"),)


def test_kind_default_controllers_leave_the_workloads_to_kube_controller_manager() -> None:
    document = copy.deepcopy(BASE)
    document["spec"]["provider"] = "kind"
    assert parse_spec(document, "x.yaml").controllers == ENDPOINT_CONTROLLERS


def test_workload_controllers_are_accepted() -> None:
    document = copy.deepcopy(BASE)
    document["spec"]["controllers"] = ["deployment", "replicaset", "job", "daemonset", "replicationcontroller"]
    testbed = parse_spec(document, "x.yaml")
    assert set(testbed.controllers) == set(WORKLOAD_CONTROLLERS)


def test_ipvs_fallback() -> None:
    assert parse_spec(BASE, "x.yaml").proxy.ipvs_fallback is None
    document = spec_with("spec.proxy", {"mode": "ipvs", "ipvsFallback": "iptables"})
    assert parse_spec(document, "x.yaml").proxy.ipvs_fallback == "iptables"
    document = spec_with("spec.proxy", {"mode": "ipvs", "ipvsFallback": "nftables"})
    assert problems(document) == ["x.yaml: spec.proxy.ipvsFallback: must be iptables"]


def test_name_option_overrides_metadata() -> None:
    assert parse_spec(BASE, "x.yaml", name="other").name == "other"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "spec.cluster.nodes.1.role",
            "master",
            "x.yaml: spec.cluster.nodes[1].role: must be one of control-plane, worker",
        ),
        (
            "spec.proxy.mode",
            "ebpf",
            "x.yaml: spec.proxy.mode: must be one of none, iptables, nftables, ipvs, userspace, external",
        ),
        ("spec.proxy.syncPeriod", "soon", "x.yaml: spec.proxy.syncPeriod: must be a duration like 500ms, 1s or 1m30s"),
        ("spec.proxy.scheduler", "rr", "x.yaml: spec.proxy.scheduler: only allowed with mode: ipvs"),
        ("spec.proxy.color", "red", "x.yaml: spec.proxy.color: unknown field"),
        ("spec.proxy.ipvsFallback", "iptables", "x.yaml: spec.proxy.ipvsFallback: only allowed with mode: ipvs"),
        ("spec.kernel", "bsd", "x.yaml: spec.kernel: must be one of auto, host, uml"),
        ("spec.provider", "docker", "x.yaml: spec.provider: must be one of local, kind, kubeconfig"),
        (
            "spec.controllers",
            ["endpoints", "dns"],
            "x.yaml: spec.controllers[1]: must be one of endpoints, endpointslice, endpointslice-mirroring, "
            "replicaset, replicationcontroller, deployment, daemonset, job",
        ),
        ("spec.cluster.kind", "Pod", "x.yaml: spec.cluster.kind: must be Cluster"),
        (
            "spec.cluster.apiVersion",
            "kind.x-k8s.io/v1",
            "x.yaml: spec.cluster.apiVersion: must be kind.x-k8s.io/v1alpha4",
        ),
        (
            "spec.cluster.networking.podSubnet",
            "10.244.0.1/16",
            "x.yaml: spec.cluster.networking.podSubnet: '10.244.0.1/16' is not a CIDR like 10.244.0.0/16 "
            "or fd00:10:244::/56",
        ),
        (
            "spec.cluster.networking.kubeProxyMode",
            "userspace",
            "x.yaml: spec.cluster.networking.kubeProxyMode: must be one of iptables, ipvs, nftables, none",
        ),
        ("spec.cluster.nodes.0.cpus", 2, "x.yaml: spec.cluster.nodes[0].cpus: unknown field"),
        (
            "metadata.name",
            "Bad_Name",
            "x.yaml: metadata.name: must be 1-32 lowercase letters, "
            "digits or '-', starting and ending with a letter or digit",
        ),
        ("kind", "Cluster", "x.yaml: kind: must be Testbed"),
    ],
    ids=lambda v: v if isinstance(v, str) and "x.yaml" not in v else None,
)
def test_bad_values_name_file_field_and_choices(path: str, value: Any, expected: str) -> None:
    assert problems(spec_with(path, value)) == [expected]


def test_all_problems_reported_at_once() -> None:
    document = spec_with("spec.proxy.mode", "ebpf")
    document["spec"]["kernel"] = "bsd"
    document["spec"]["cluster"]["nodes"][1]["role"] = "boss"
    assert len(problems(document)) == 3


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ([{"role": "worker"}], "the local provider needs exactly one control-plane node"),
        (
            [{"role": "control-plane"}, {"role": "control-plane"}],
            "the local provider needs exactly one control-plane node",
        ),
    ],
)
def test_local_provider_needs_one_control_plane(nodes: list[Any], expected: str) -> None:
    assert problems(spec_with("spec.cluster.nodes", nodes)) == [f"x.yaml: spec.cluster.nodes: {expected}"]


def test_kind_provider_allows_several_control_planes() -> None:
    document = spec_with("spec.cluster.nodes", [{"role": "control-plane"}] * 3)
    document["spec"]["provider"] = "kind"
    assert len(parse_spec(document, "x.yaml").nodes) == 3


def test_local_provider_subnets_must_fit() -> None:
    assert problems(spec_with("spec.cluster.networking", {"ipFamily": "ipv6", "podSubnet": "fd00:10:244::/64"})) == [
        "x.yaml: spec.cluster.networking.podSubnet: too small for 2 nodes with a /64 each"
    ]
    assert problems(spec_with("spec.cluster.networking", {"podSubnet": "10.244.0.0/24"})) == [
        "x.yaml: spec.cluster.networking.podSubnet: too small for 2 nodes with a /24 each"
    ]
    assert problems(spec_with("spec.cluster.networking", {"serviceSubnet": "10.244.0.0/20"})) == [
        "x.yaml: spec.cluster.networking.serviceSubnet: overlaps podSubnet"
    ]


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SpecError, match=r"empty.yaml: apiVersion: must be svclab.dev/v1alpha1"):
        load_spec(empty)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == Duration(text, seconds)


@pytest.mark.parametrize("text", ["", "1", "s", "1 s", "-1s", "1d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
