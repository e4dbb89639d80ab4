"""DaemonSets: placement rules, the planner and the shell.

Plan: DaemonSet ``agent`` in ``test`` selects ``app: agent``; nodes
``node-1`` .. ``node-n`` (labels ``disk: ssd`` unless told otherwise).
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.models.apps_v1 import DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet
from lightkube.models.core_v1 import NodeSpec, Taint
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet
from lightkube.resources.core_v1 import Node, Pod

from svclab.controllers.workloads.daemons import daemon_template_hash, node_should_run, plan_daemon_set
from svclab.kube.names import NamespacedName

from .builders import NAMESPACE, NOW, kubelet_run, pod, template

pytestmark = pytest.mark.timeout(10)

AGENT = {"app": "agent"}


def daemon_set(
    *, node_selector: dict[str, str] | None = None, max_unavailable: Any = 1, image: str = "img:1"
) -> DaemonSet:
    tpl = template(image, labels=AGENT)
    tpl.spec.nodeSelector = node_selector
    return DaemonSet(
        metadata=ObjectMeta(name="agent", namespace=NAMESPACE, uid="uid-ds-agent", generation=1),
        spec=DaemonSetSpec(
            selector=LabelSelector(matchLabels=dict(AGENT)),
            template=tpl,
            updateStrategy=DaemonSetUpdateStrategy(
                type="RollingUpdate", rollingUpdate=RollingUpdateDaemonSet(maxUnavailable=max_unavailable)
            ),
        ),
    )


def node(n: int, *, labels: dict[str, str] | None = None, taints: list[Taint] | None = None) -> Node:
    return Node(
        metadata=ObjectMeta(name=f"node-{n}", labels={"disk": "ssd"} if labels is None else labels),
        spec=NodeSpec(taints=taints),
    )


def daemon_pod(n: int, ds: DaemonSet, node_name: str, *, current: bool = True, phase: str = "Running") -> Any:
    found = pod(n, node=node_name, labels=AGENT, owner=ds, phase=phase)
    found.metadata.labels["controller-revision-hash"] = daemon_template_hash(ds) if current else "old"
    return found


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (node(1), (True, True)),
        (node(1, labels={"disk": "hdd"}), (False, False)),
        (node(1, taints=[Taint(key="dedicated", value="db", effect="NoSchedule")]), (False, True)),
        (node(1, taints=[Taint(key="dedicated", value="db", effect="NoExecute")]), (False, False)),
        (node(1, taints=[Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")]), (True, True)),
        (node(1, taints=[Taint(key="node.kubernetes.io/not-ready", effect="NoExecute")]), (True, True)),
        (node(1, taints=[Taint(key="x", effect="PreferNoSchedule")]), (True, True)),
    ],
    ids=["eligible", "selector-mismatch", "noschedule", "noexecute", "cordoned", "not-ready", "prefer"],
)
def test_node_should_run(target: Node, expected: tuple[bool, bool]) -> None:
    assert node_should_run(daemon_set(node_selector={"disk": "ssd"}), target) == expected


def test_tolerations_and_required_node_affinity() -> None:
    ds = daemon_set()
    ds.spec.template.spec.tolerations = [
        {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute"}
    ]  # type: ignore[list-item]
    ds = DaemonSet.from_dict(ds.to_dict())
    assert node_should_run(ds, node(1, taints=[Taint(key="dedicated", value="db", effect="NoExecute")])) == (True, True)
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}
                ]
            }
        }
    }
    data = ds.to_dict()
    data["spec"]["template"]["spec"]["affinity"] = affinity
    pinned = DaemonSet.from_dict(data)
    assert [node_should_run(pinned, node(n))[0] for n in (1, 2)] == [False, True]


def test_plan_creates_missing_deletes_failed_duplicates_and_ineligible() -> None:
    ds = daemon_set(node_selector={"disk": "ssd"})
    nodes = [node(1), node(2), node(3), node(4, labels={"disk": "hdd"})]
    pods = [
        daemon_pod(1, ds, "node-1"),
        daemon_pod(2, ds, "node-2", phase="Failed"),
        daemon_pod(3, ds, "node-3"),
        daemon_pod(4, ds, "node-3"),
        daemon_pod(5, ds, "node-4"),
    ]
    plan = plan_daemon_set(ds, nodes, pods, now=NOW)
    assert plan.create_on == ("node-2",)
    assert sorted(p.metadata.name for p in plan.delete) == ["pod2", "pod4", "pod5"]
    assert plan.status["desiredNumberScheduled"] == 3 and plan.status["currentNumberScheduled"] == 2


def test_rolling_update_replaces_at_most_max_unavailable() -> None:
    ds = daemon_set(max_unavailable=1)
    nodes = [node(n) for n in range(1, 5)]
    pods = [daemon_pod(n, ds, f"node-{n}", current=False) for n in range(1, 5)]
    assert len(plan_daemon_set(ds, nodes, pods, now=NOW).delete) == 1
    assert len(plan_daemon_set(daemon_set(max_unavailable="50%"), nodes, pods, now=NOW).delete) == 2
    pods[0] = daemon_pod(1, ds, "node-1")  # one updated, but not ready yet: no budget left
    pods[0].status.conditions[0].status = "False"
    assert plan_daemon_set(ds, nodes, pods, now=NOW).delete == ()


async def test_one_pod_per_node_follows_nodes_and_taints(make_harness: Any) -> None:
    h = await make_harness(daemon_set(), node(1), node(2), controllers=["daemonset"])
    await h.drain("daemonset")
    pods = h.client.objects(Pod)
    assert sorted(p.spec.nodeName for p in pods) == ["node-1", "node-2"]
    for created in pods:
        assert created.metadata.generateName == "agent-"
        assert created.metadata.labels["pod-template-generation"] == "1"
        assert {t.key for t in created.spec.tolerations} >= {
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        }
    await kubelet_run(h.client)
    await h.settle()
    await h.client.create(node(3))
    await h.settle()
    await h.drain("daemonset")
    assert sorted(p.spec.nodeName for p in h.client.objects(Pod)) == ["node-1", "node-2", "node-3"]
    tainted = node(2, taints=[Taint(key="maintenance", effect="NoExecute")])
    [current] = [n for n in h.client.objects(Node) if n.metadata.name == "node-2"]
    tainted.metadata.resourceVersion = current.metadata.resourceVersion
    await h.client.replace(tainted)
    await h.settle()
    await h.drain("daemonset")
    assert sorted(p.spec.nodeName for p in h.client.objects(Pod)) == ["node-1", "node-3"]
    await kubelet_run(h.client)
    await h.settle()
    await h.drain("daemonset")
    [ds] = h.client.objects(DaemonSet)
    assert (ds.status.desiredNumberScheduled, ds.status.currentNumberScheduled, ds.status.numberReady) == (2, 2, 2)
    assert ds.status.observedGeneration == 1
    reasons = [r for _, r, _ in h.controllers["daemonset"].recorder.triples()]
    assert reasons.count("SuccessfulCreate") == 3 and reasons.count("SuccessfulDelete") == 1


async def test_template_change_rolls_one_node_at_a_time(make_harness: Any) -> None:
    h = await make_harness(daemon_set(), node(1), node(2), node(3), controllers=["daemonset"])
    await h.drain("daemonset")
    await kubelet_run(h.client)
    await h.settle()
    [ds] = h.client.objects(DaemonSet)
    ds.spec.template.spec.containers[0].image = "img:2"
    await h.client.replace(ds)
    await h.settle()
    for _ in range(10):
        await h.drain("daemonset")
        images = [p.spec.containers[0].image for p in h.client.objects(Pod)]
        assert len(images) >= 2, "maxUnavailable 1: at most one node without its pod"
        if await kubelet_run(h.client) == 0 and images == ["img:2"] * 3:
            break
        await h.settle()
    assert [p.spec.containers[0].image for p in h.client.objects(Pod)] == ["img:2"] * 3
    await h.drain("daemonset")
    [ds] = h.client.objects(DaemonSet)
    assert (ds.status.updatedNumberScheduled, ds.status.numberAvailable, ds.status.observedGeneration) == (3, 3, 2)
    assert NamespacedName.of(ds) == NamespacedName(NAMESPACE, "agent")
