"""The Deployment and ReplicaSet controllers together over a recording FakeClient.

Plan: Deployment ``web`` in ``test`` (see ``builders``); ``converge`` plays
the cluster round by round: the Deployment controller syncs, the ReplicaSet
controller syncs, then the kubelet (``kubelet_run``) starts the new pods,
Ready at once.  Each round is one step of a real rollout; the bounds are
checked after every write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import Pod

from svclab.controllers.pods_and_services import is_pod_ready
from svclab.kube.names import NamespacedName

from .builders import NAMESPACE, deployment, kubelet_run

pytestmark = pytest.mark.timeout(20)

WEB = NamespacedName(NAMESPACE, "web")
MAX_ROUNDS = 40


def live_pods(client: Any) -> list[Pod]:
    return [p for p in client.objects(Pod) if p.metadata.deletionTimestamp is None]


async def converge(
    h: Any,
    *,
    check: Callable[[], None] = lambda: None,
    after_round: Callable[[], None] = lambda: None,
    ready: bool = True,
) -> int:
    """Run rounds until nothing changes; returns how many it took.

    ``check`` runs after every controller sync, ``after_round`` once both
    controllers have drained their queues (before the kubelet starts pods).
    """
    for round_ in range(MAX_ROUNDS):
        writes = []
        for name in ("deployment", "replicaset"):
            queue = h.controllers[name].queue
            while len(queue):
                key = await queue.get()
                try:
                    writes += await h.sync(name, key)
                finally:
                    queue.forget(key)
                    queue.done(key)
                check()
        after_round()
        started = await kubelet_run(h.client, ready=ready)
        await h.settle()
        check()
        if not writes and not started:
            return round_
    raise AssertionError("no convergence")


async def set_deployment(h: Any, change: Callable[[Deployment], None]) -> None:
    [current] = h.client.objects(Deployment)
    change(current)
    await h.client.replace(current)
    await h.settle()


def deployment_status(client: Any) -> Any:
    [current] = client.objects(Deployment)
    return current


async def test_create_scale_up_and_down(make_harness: Any) -> None:
    h = await make_harness(deployment(replicas=1), controllers=["deployment", "replicaset"])
    await converge(h)
    assert len(live_pods(h.client)) == 1
    for size in (5, 2):
        await set_deployment(h, lambda d, n=size: setattr(d.spec, "replicas", n))
        await converge(h)
        pods = live_pods(h.client)
        assert len(pods) == size and all(is_pod_ready(p) for p in pods)
        d = deployment_status(h.client)
        assert (d.status.replicas, d.status.updatedReplicas, d.status.readyReplicas, d.status.availableReplicas) == (
            size,
            size,
            size,
            size,
        )
        assert d.status.observedGeneration == d.metadata.generation
    [rs] = h.client.objects(ReplicaSet)
    assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "2"
    assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "3"
    events = [m for _, r, m in h.controllers["deployment"].recorder.triples() if r == "ScalingReplicaSet"]
    name = rs.metadata.name
    assert events == [
        f"Scaled up replica set {name} from 0 to 1",
        f"Scaled up replica set {name} from 1 to 5",
        f"Scaled down replica set {name} from 5 to 2",
    ]
    conditions = {c.type: (c.status, c.reason) for c in deployment_status(h.client).status.conditions}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "max_total", "min_available"),
    [(10, "25%", "25%", 13, 8), (4, 1, 0, 5, 4), (3, 0, 1, 3, 2)],
    ids=["25%-of-10", "surge-only", "unavailable-only"],
)
async def test_image_change_rolls_over_within_the_bounds(
    make_harness: Any, replicas: int, surge: Any, unavailable: Any, max_total: int, min_available: int
) -> None:
    h = await make_harness(
        deployment(replicas=replicas, surge=surge, unavailable=unavailable), controllers=["deployment", "replicaset"]
    )
    await converge(h)
    seen_total: list[int] = []

    def bounds() -> None:
        # What upstream guarantees at every write: the ReplicaSets' sizes stay within replicas +
        # maxSurge, and no more than maxUnavailable pods are taken away from the ready ones.
        planned = sum(rs.spec.replicas for rs in h.client.objects(ReplicaSet))
        ready = [p for p in live_pods(h.client) if is_pod_ready(p)]
        assert planned <= max_total, f"ReplicaSets sized {planned}, above replicas + maxSurge = {max_total}"
        assert len(ready) >= min_available, f"{len(ready)} ready pods below replicas - maxUnavailable = {min_available}"

    def pods_within_surge() -> None:
        # Within a round the ReplicaSet syncs run in any order (a create may precede a delete),
        # so the pod count itself is checked once both controllers are done.
        pods = live_pods(h.client)
        seen_total.append(len(pods))
        assert len(pods) <= max_total, f"{len(pods)} pods exceed replicas + maxSurge = {max_total}"

    def new_image(d: Deployment) -> None:
        d.spec.template.spec.containers[0].image = "img:2"

    await set_deployment(h, new_image)
    rounds = await converge(h, check=bounds, after_round=pods_within_surge)
    assert rounds > 1, "a rolling update takes several steps"
    assert max(seen_total) == max_total, "the rollout uses the surge it is allowed"
    pods = live_pods(h.client)
    assert len(pods) == replicas and {p.spec.containers[0].image for p in pods} == {"img:2"}
    sets = {rs.spec.template.spec.containers[0].image: rs for rs in h.client.objects(ReplicaSet)}
    assert (sets["img:1"].spec.replicas, sets["img:2"].spec.replicas) == (0, replicas)
    assert sets["img:2"].metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    d = deployment_status(h.client)
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert (d.status.updatedReplicas, d.status.replicas, d.status.availableReplicas) == (replicas, replicas, replicas)
    progressing = next(c for c in d.status.conditions if c.type == "Progressing")
    assert (progressing.reason, progressing.message) == (
        "NewReplicaSetAvailable",
        f'ReplicaSet "{sets["img:2"].metadata.name}" has successfully progressed.',
    )


async def test_rollback_to_the_old_template_reuses_its_replica_set(make_harness: Any) -> None:
    h = await make_harness(deployment(replicas=2), controllers=["deployment", "replicaset"])
    await converge(h)
    [first] = h.client.objects(ReplicaSet)

    def image(value: str) -> Callable[[Deployment], None]:
        return lambda d: setattr(d.spec.template.spec.containers[0], "image", value)

    await set_deployment(h, image("img:2"))
    await converge(h)
    await set_deployment(h, image("img:1"))  # what `kubectl rollout undo` sends: the old template
    await converge(h)
    sets = {rs.metadata.name: rs for rs in h.client.objects(ReplicaSet)}
    assert len(sets) == 2, "no third ReplicaSet: the first one is reused"
    reused = sets[first.metadata.name]
    assert reused.spec.replicas == 2
    assert reused.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert reused.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert deployment_status(h.client).metadata.annotations["deployment.kubernetes.io/revision"] == "3"


async def test_recreate_removes_every_old_pod_before_starting_new_ones(make_harness: Any) -> None:
    h = await make_harness(deployment(replicas=3, strategy="Recreate"), controllers=["deployment", "replicaset"])
    await converge(h)

    def never_mixed() -> None:
        images = {p.spec.containers[0].image for p in live_pods(h.client)}
        assert len(images) <= 1, f"old and new pods at once: {images}"

    await set_deployment(h, lambda d: setattr(d.spec.template.spec.containers[0], "image", "img:2"))
    await converge(h, check=never_mixed)
    assert {p.spec.containers[0].image for p in live_pods(h.client)} == {"img:2"}
    assert len(live_pods(h.client)) == 3


async def test_unready_new_pods_stall_the_rollout_and_keep_old_pods(make_harness: Any) -> None:
    h = await make_harness(deployment(replicas=4, surge=1, unavailable=0), controllers=["deployment", "replicaset"])
    await converge(h)
    await set_deployment(h, lambda d: setattr(d.spec.template.spec.containers[0], "image", "broken"))
    await converge(h, ready=False)
    images = sorted(p.spec.containers[0].image for p in live_pods(h.client))
    assert images == ["broken", "img:1", "img:1", "img:1", "img:1"], "one surge pod, no old pod removed"
    d = deployment_status(h.client)
    assert (d.status.updatedReplicas, d.status.availableReplicas, d.status.unavailableReplicas) == (1, 4, 1)


async def test_a_conflict_on_a_write_is_a_routine_stale_cache_retry(make_harness: Any) -> None:
    from svclab.controllers.errors import StaleCacheError
    from svclab.kube.testing import api_error

    h = await make_harness(deployment(replicas=1), controllers=["deployment"])
    h.client.fail_next("replace", "Deployment", api_error(409, "the object has been modified"))
    with pytest.raises(StaleCacheError, match="has been modified"):
        await h.controllers["deployment"].sync(WEB)


async def test_scaling_in_the_middle_of_a_rollout_is_proportional(make_harness: Any) -> None:
    h = await make_harness(deployment(replicas=10, surge=3, unavailable=2), controllers=["deployment", "replicaset"])
    await converge(h)
    await set_deployment(h, lambda d: setattr(d.spec.template.spec.containers[0], "image", "broken"))
    await converge(h, ready=False)
    sizes = {rs.spec.template.spec.containers[0].image: rs.spec.replicas for rs in h.client.objects(ReplicaSet)}
    assert sizes == {"img:1": 8, "broken": 5}, "stuck: 13 pods (10 + surge 3), 8 available (10 - 2)"
    await set_deployment(h, lambda d: setattr(d.spec, "replicas", 20))
    await converge(h, ready=False)
    sizes = {rs.spec.template.spec.containers[0].image: rs.spec.replicas for rs in h.client.objects(ReplicaSet)}
    # 20 + maxSurge 3 = 23 allowed, 10 to add: 8 of 13 -> round(8 * 23 / 13) = 14, the rest to the new one.
    assert sizes == {"img:1": 14, "broken": 9}
    for rs in h.client.objects(ReplicaSet):
        assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "20"
        assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "23"
