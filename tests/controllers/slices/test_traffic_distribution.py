"""trafficDistribution hints (upstream ``k8s.io/endpointslice/trafficdist`` test cases).

Address plan: see ``..builders``; here nodes ``node-1`` (zone-a), ``node-2``
(zone-b) and ``node-3`` (no zone label); pods 1-3 run on them in that order.
"""

from __future__ import annotations

import pytest
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointHints, ForNode, ForZone
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.slices.reconciler import plan_slices
from svclab.controllers.slices.traffic_distribution import hints_need_update, reconcile_hints, set_hints
from svclab.kube.models import deep_copy

from ..builders import node, pod, service

pytestmark = pytest.mark.timeout(2)

NODES = {"node-1": node("node-1", "zone-a"), "node-2": node("node-2", "zone-b"), "node-3": node("node-3")}


def _endpoint(
    ip: str, zone: str | None, node_name: str | None, *, ready: bool = True, hints: object = None
) -> Endpoint:
    return Endpoint(
        addresses=[ip],
        conditions=EndpointConditions(ready=ready),
        zone=zone,
        nodeName=node_name,
        hints=hints,  # type: ignore[arg-type]
    )


def _slice(*endpoints: Endpoint) -> EndpointSlice:
    return EndpointSlice(addressType="IPv4", endpoints=list(endpoints))


def _hints(slice_: EndpointSlice) -> list[tuple[list[str], list[str]] | None]:
    out: list[tuple[list[str], list[str]] | None] = []
    for e in slice_.endpoints or []:
        h = e.hints
        out.append(None if h is None else ([z.name for z in h.forZones or []], [n.name for n in h.forNodes or []]))
    return out


OLD = EndpointHints(forZones=[ForZone(name="zone-old")])


@pytest.mark.parametrize(
    ("distribution", "expected"),
    [
        ("PreferClose", [(["zone-a"], []), (["zone-b"], []), None, OLD]),
        ("PreferSameZone", [(["zone-a"], []), (["zone-b"], []), None, OLD]),
        ("PreferSameNode", [(["zone-a"], ["node-1"]), (["zone-b"], ["node-2"]), ([], ["node-3"]), OLD]),
        (None, [None, None, None, None]),
        ("SomethingElse", [None, None, None, None]),
    ],
)
def test_set_hints(distribution: str | None, expected: list[object]) -> None:
    """Ready endpoints get their own zone (and node for PreferSameNode); an unready one keeps
    its old hints under a close distribution; anything else clears every hint."""
    slice_ = _slice(
        _endpoint("10.0.0.1", "zone-a", "node-1", hints=OLD),
        _endpoint("10.0.0.2", "zone-b", "node-2"),
        _endpoint("10.0.0.3", None, "node-3", hints=OLD),
        _endpoint("10.0.0.4", "zone-a", "node-1", ready=False, hints=OLD),
    )
    set_hints(slice_, distribution)
    old = ([z.name for z in OLD.forZones or []], [])
    assert _hints(slice_) == [old if e is OLD else e for e in expected]


def test_hints_need_update() -> None:
    right = _slice(
        _endpoint("10.0.0.1", "zone-a", "node-1", hints=EndpointHints(forZones=[ForZone(name="zone-a")])),
        _endpoint("10.0.0.2", "zone-b", "node-2", ready=False),  # unready: not looked at
    )
    assert not hints_need_update(right, "PreferClose")
    assert hints_need_update(right, "PreferSameNode"), "the node hint is missing"
    assert hints_need_update(right, None), "hints without a distribution are stale"
    assert not hints_need_update(_slice(_endpoint("10.0.0.2", "zone-b", "node-2")), None)
    wrong_zone = _slice(_endpoint("10.0.0.1", "zone-a", "node-1", hints=EndpointHints(forZones=[ForZone(name="b")])))
    assert hints_need_update(wrong_zone, "PreferClose")
    no_zone_but_hint = _slice(_endpoint("10.0.0.1", None, "node-1", hints=OLD))
    assert hints_need_update(no_zone_but_hint, "PreferClose")
    node_hint_left = _slice(
        _endpoint(
            "10.0.0.1",
            "zone-a",
            "node-1",
            hints=EndpointHints(forZones=[ForZone(name="zone-a")], forNodes=[ForNode(name="node-1")]),
        )
    )
    assert hints_need_update(node_hint_left, "PreferClose") and not hints_need_update(node_hint_left, "PreferSameNode")


def test_reconcile_hints_moves_only_stale_unchanged_slices_and_copies_them() -> None:
    fine = _slice(_endpoint("10.0.0.1", "zone-a", "node-1", hints=EndpointHints(forZones=[ForZone(name="zone-a")])))
    stale = _slice(_endpoint("10.0.0.2", "zone-b", "node-2"))
    snapshot = deep_copy(stale)
    create, update = [_slice(_endpoint("10.0.0.3", "zone-b", "node-2"))], []
    reconcile_hints("PreferClose", create, update, [fine, stale])
    assert len(update) == 1 and update[0] is not stale and stale == snapshot, "the cached slice must not change"
    assert _hints(update[0]) == [(["zone-b"], [])] and _hints(create[0]) == [(["zone-b"], [])]


def _with_distribution(distribution: str | None) -> object:
    svc = service()
    assert svc.spec is not None
    svc.spec.trafficDistribution = distribution
    return svc


def test_plan_slices_writes_hints_once_and_removes_them_when_the_distribution_goes() -> None:
    pods = [pod(1, node="node-1"), pod(2, node="node-2"), pod(3, node="node-3")]
    svc = _with_distribution("PreferSameZone")
    plan = plan_slices(svc, pods, NODES, [])  # type: ignore[arg-type]
    assert _hints(plan.create[0]) == [(["zone-a"], []), (["zone-b"], []), None]
    written = deep_copy(plan.create[0])
    written.metadata.name = "foo-1"  # type: ignore[union-attr]
    assert plan_slices(svc, pods, NODES, [written]).is_empty(), "hints already right: no write"  # type: ignore[arg-type]
    cleared = plan_slices(_with_distribution(None), pods, NODES, [written])  # type: ignore[arg-type]
    assert (cleared.create, len(cleared.update)) == ((), 1) and _hints(cleared.update[0]) == [None, None, None]
    same_node = plan_slices(_with_distribution("PreferSameNode"), pods, NODES, [written])  # type: ignore[arg-type]
    assert _hints(same_node.update[0]) == [(["zone-a"], ["node-1"]), (["zone-b"], ["node-2"]), ([], ["node-3"])]
