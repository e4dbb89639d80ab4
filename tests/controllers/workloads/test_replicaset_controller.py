"""The ReplicaSet and ReplicationController shells over a recording FakeClient.

Plan: see ``builders`` (ReplicaSet ``web`` in ``test`` selecting ``app: web``).
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.resources.apps_v1 import ReplicaSet
from lightkube.resources.core_v1 import Pod, ReplicationController

from svclab.kube.names import NamespacedName
from svclab.kube.testing import api_error

from .builders import NAMESPACE, kubelet_run, pod, replica_set, replication_controller

pytestmark = pytest.mark.timeout(10)

WEB = NamespacedName(NAMESPACE, "web")


def owned_pods(client: Any) -> list[Pod]:
    return [p for p in client.objects(Pod) if p.metadata.ownerReferences]


async def test_creates_pods_from_the_template_with_owner_and_events(make_harness: Any) -> None:
    h = await make_harness(replica_set(replicas=3), controllers=["replicaset"])
    writes = await h.drain("replicaset")
    assert writes.count(("create", "Pod")) == 3
    pods = h.client.objects(Pod)
    assert len(pods) == 3
    for created in pods:
        assert created.metadata.generateName == "web-" and created.metadata.name.startswith("web-")
        [ref] = created.metadata.ownerReferences
        assert (ref.kind, ref.name, ref.uid, ref.controller, ref.blockOwnerDeletion) == (
            "ReplicaSet",
            "web",
            "uid-rs-web",
            True,
            True,
        )
        assert created.metadata.labels == {"app": "web"} and created.spec.containers[0].image == "img:1"
    events = h.controllers["replicaset"].recorder.triples()
    assert sorted(events) == sorted(("Normal", "SuccessfulCreate", f"Created pod: {p.metadata.name}") for p in pods)
    [rs] = h.client.objects(ReplicaSet)
    assert (rs.status.replicas, rs.status.readyReplicas, rs.status.observedGeneration) == (3, None, 1)


async def test_status_follows_pods_becoming_ready(make_harness: Any) -> None:
    h = await make_harness(replica_set(replicas=2), controllers=["replicaset"])
    await h.drain("replicaset")
    assert await kubelet_run(h.client) == 2
    await h.settle()
    assert await h.drain("replicaset") == [("replace", "ReplicaSet")]
    [rs] = h.client.objects(ReplicaSet)
    assert (
        rs.status.replicas,
        rs.status.fullyLabeledReplicas,
        rs.status.readyReplicas,
        rs.status.availableReplicas,
    ) == (
        2,
        2,
        2,
        2,
    )
    assert await h.drain("replicaset") == [], "no write when nothing changed"


async def test_scale_down_deletes_not_ready_pods_first_and_records_events(make_harness: Any) -> None:
    rs = replica_set(replicas=1)
    h = await make_harness(
        rs,
        pod(0, owner=rs),
        pod(1, owner=rs, ready=False),
        pod(2, owner=rs, phase="Pending", ready=False, node=None),
        controllers=["replicaset"],
    )
    writes = await h.drain("replicaset")
    assert writes.count(("delete", "Pod")) == 2
    assert [p.metadata.name for p in h.client.objects(Pod)] == ["pod0"]
    events = sorted(h.controllers["replicaset"].recorder.triples())
    assert events == [
        ("Normal", "SuccessfulDelete", "Deleted pod: pod1"),
        ("Normal", "SuccessfulDelete", "Deleted pod: pod2"),
    ]


async def test_adopts_orphans_and_releases_pods_that_stop_matching(make_harness: Any) -> None:
    rs = replica_set(replicas=2)
    h = await make_harness(rs, pod(0), pod(1, owner=rs), controllers=["replicaset"])
    writes = await h.drain("replicaset")
    assert ("patch", "Pod") in writes and ("create", "Pod") not in writes, writes
    assert all(p.metadata.ownerReferences[0].uid == "uid-rs-web" for p in h.client.objects(Pod))
    relabelled = h.client.objects(Pod)[1]
    relabelled.metadata.labels = {"app": "debug"}
    await h.client.replace(relabelled)
    await h.settle()
    writes = await h.drain("replicaset")
    assert writes.count(("create", "Pod")) == 1 and ("patch", "Pod") in writes
    released = next(p for p in h.client.objects(Pod) if p.metadata.name == relabelled.metadata.name)
    assert released.metadata.ownerReferences is None
    assert len(owned_pods(h.client)) == 2


async def test_expectations_hold_back_a_second_create_until_the_cache_shows_the_first(make_harness: Any) -> None:
    h = await make_harness(replica_set(replicas=2), controllers=["replicaset"])
    await h.stop()  # the informers stop: the cache will not show the pods about to be created
    controller = h.controllers["replicaset"]
    await controller.sync(WEB)
    assert h.client.verbs().count(("create", "Pod")) == 2
    h.client.clear_actions()
    await controller.sync(WEB)
    assert ("create", "Pod") not in h.client.verbs(), "unobserved creates must block more creates"
    assert not controller.expectations.satisfied(WEB)


async def test_failed_create_sets_replica_failure_and_retries(make_harness: Any) -> None:
    h = await make_harness(replica_set(replicas=2), controllers=["replicaset"])
    h.client.fail_next("create", "Pod", api_error(403, "exceeded quota"))
    with pytest.raises(Exception, match="exceeded quota"):
        await h.controllers["replicaset"].sync(WEB)
    await h.settle()
    [rs] = h.client.objects(ReplicaSet)
    [condition] = rs.status.conditions
    assert (condition.type, condition.reason) == ("ReplicaFailure", "FailedCreate")
    assert ("Warning", "FailedCreate") in [(t, r) for t, r, _ in h.controllers["replicaset"].recorder.triples()]
    assert h.client.verbs().count(("create", "Pod")) == 1, "slow start: the first failure stops the batch"
    await h.drain("replicaset")
    await h.controllers["replicaset"].sync(WEB)
    await h.settle()
    [rs] = h.client.objects(ReplicaSet)
    assert rs.status.conditions is None and rs.status.replicas == 2


async def test_replication_controller_uses_its_map_selector(make_harness: Any) -> None:
    h = await make_harness(
        replication_controller(replicas=2), pod(9, labels={"app": "other"}), controllers=["replicationcontroller"]
    )
    writes = await h.drain("replicationcontroller")
    assert writes.count(("create", "Pod")) == 2
    [rc] = h.client.objects(ReplicationController)
    assert rc.status.replicas == 2
    refs = [p.metadata.ownerReferences[0] for p in owned_pods(h.client)]
    assert {(r.apiVersion, r.kind) for r in refs} == {("v1", "ReplicationController")}
    assert len(h.client.objects(Pod)) == 3, "the unmatched pod is left alone"


async def test_min_ready_seconds_delays_availability_and_requeues(make_harness: Any) -> None:
    from svclab.kube.testing import FAKE_EPOCH, FakeClock

    rs = replica_set(replicas=1, min_ready=10)
    h = await make_harness(rs, pod(0, owner=rs, ready_since=FAKE_EPOCH), controllers=["replicaset"])
    controller = h.controllers["replicaset"]
    controller.clock = clock = FakeClock()
    await controller.sync(WEB)
    await h.settle()
    [current] = h.client.objects(ReplicaSet)
    assert (current.status.readyReplicas, current.status.availableReplicas) == (1, None)
    assert WEB in controller.queue.waiting(), "requeued to look again once minReadySeconds passed"
    clock.advance(11)
    await controller.sync(WEB)
    await h.settle()
    [current] = h.client.objects(ReplicaSet)
    assert current.status.availableReplicas == 1
