"""Unit tests for the scheduler's pure core.

Cluster plan: ``cp`` (control plane, tainted NoSchedule, zone a), ``w1`` and
``w2`` (workers, zones a and b), all Ready unless a test says otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.testbed.local.scheduler import FitError, choose_node

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node(
    name: str,
    *,
    zone: str = "a",
    taints: list[dict[str, str]] | None = None,
    ready: bool = True,
    unschedulable: bool = False,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "allocatable": {"pods": "110"},
        },
    }


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c"}], **spec}}


CLUSTER = [node("cp", taints=[CP_TAINT]), node("w1"), node("w2", zone="b")]


def test_spreads_to_the_worker_with_fewest_pods() -> None:
    assert choose_node(pod(), CLUSTER, {"w1": 3, "w2": 1}) == "w2"
    assert choose_node(pod(), CLUSTER, {}) == "w1"  # tie: by name


def test_control_plane_taint_can_be_tolerated() -> None:
    tolerate = [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]
    assert choose_node(pod(tolerations=tolerate), CLUSTER, {"w1": 1, "w2": 1}) == "cp"
    assert choose_node(pod(tolerations=[{"operator": "Exists"}]), CLUSTER, {"w1": 1, "w2": 1}) == "cp"


def test_node_selector_and_required_affinity() -> None:
    assert choose_node(pod(nodeSelector={"topology.kubernetes.io/zone": "b"}), CLUSTER, {"w2": 50}) == "w2"
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["w1"]}]}
                ]
            }
        }
    }
    assert choose_node(pod(affinity=affinity), CLUSTER, {}) == "w2"
    by_field = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w2"]}]}]
            }
        }
    }
    assert choose_node(pod(affinity=by_field), CLUSTER, {}) == "w2"


def test_not_ready_and_unschedulable_nodes_are_skipped() -> None:
    nodes = [node("w1", ready=False), node("w2", unschedulable=True), node("w3")]
    assert choose_node(pod(), nodes, {"w3": 100}) == "w3"


def test_fit_error_message_has_upstream_format() -> None:
    result = choose_node(pod(nodeSelector={"disk": "ssd"}), CLUSTER, {})
    assert isinstance(result, FitError)
    assert result.message == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (
            [node("cp", taints=[CP_TAINT]), node("w1", ready=False), node("w2", unschedulable=True)],
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable.",
        ),
        ([], "0/0 nodes are available."),
    ],
    ids=["mixed-reasons-sorted", "no-nodes"],
)
def test_fit_error_reasons(nodes: list[dict[str, Any]], expected: str) -> None:
    result = choose_node(pod(), nodes, {})
    assert isinstance(result, FitError) and result.message.startswith(expected)


def test_full_node_is_too_many_pods() -> None:
    result = choose_node(pod(), [node("w1")], {"w1": 110})
    assert isinstance(result, FitError) and "1 Too many pods." in result.message


def test_the_scheduler_retries_a_lost_api_server_about_every_second() -> None:
    from svclab.kube import RECONNECT_BACKOFF
    from svclab.kube.testing import FakeClient
    from svclab.testbed.local.scheduler import Scheduler

    scheduler = Scheduler(FakeClient())  # before the loopback port was fixed it never came back (issue 15)
    assert scheduler.pods.options.backoff == scheduler.nodes.options.backoff == RECONNECT_BACKOFF
