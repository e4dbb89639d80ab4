"""Node, Namespace, Event and Lease validation.

Address plan: node pod CIDRs 10.244.<n>.0/24 and fd00:10:244:<n>::/64, node IPs 172.18.0.0/16.
Messages follow upstream's core and coordination validation tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from validation_builders import (
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    NAME_PART,
    Obj,
    event,
    lease,
    mutated,
    namespace,
    node,
    rendered,
)

from svclab.apiserver.validation import validate_create, validate_status_update, validate_update


def node_spec(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for name, value in fields.items():
            if value is None:
                obj["spec"].pop(name, None)
            else:
                obj["spec"][name] = value

    return mutate


NODE_CASES = [
    ("dual-stack-cidrs", node_spec(podCIDRs=["10.244.1.0/24", "fd00:10:244:1::/64"]), []),
    ("pod-cidr-only", node_spec(podCIDRs=None), []),
    (
        "bad-cidr",
        node_spec(podCIDR="10.244.1.0", podCIDRs=["10.244.1.0"]),
        [
            'spec.podCIDRs[0]: Invalid value: "10.244.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
            "2001:db8::/64)"
        ],
    ),
    (
        "host-bits",
        node_spec(podCIDRs=["10.244.1.1/24"]),
        ['spec.podCIDRs[0]: Invalid value: "10.244.1.1/24": must not have bits set beyond the prefix length'],
    ),
    (
        "two-ipv4-cidrs",
        node_spec(podCIDRs=["10.244.1.0/24", "10.244.2.0/24"]),
        [
            'spec.podCIDRs: Invalid value: []string{"10.244.1.0/24", "10.244.2.0/24"}: may specify no more than one CIDR '
            "for each IP family"
        ],
    ),
    (
        "taint-bad-key",
        node_spec(taints=[{"key": "-k", "effect": "NoSchedule"}]),
        [f'metadata.taints[0].key: Invalid value: "-k": {NAME_PART}'],
    ),
    (
        "taint-bad-value",
        node_spec(taints=[{"key": "k", "value": "a b", "effect": "NoSchedule"}]),
        [f'metadata.taints[0].value: Invalid value: "a b": {LABEL_VALUE}'],
    ),
    ("taint-effect-required", node_spec(taints=[{"key": "k"}]), ["metadata.taints[0].effect: Required value"]),
    (
        "taint-bad-effect",
        node_spec(taints=[{"key": "k", "effect": "NoWay"}]),
        [
            'metadata.taints[0].effect: Unsupported value: "NoWay": supported values: "NoSchedule", "PreferNoSchedule", '
            '"NoExecute"'
        ],
    ),
    (
        "taint-duplicate",
        node_spec(
            taints=[
                {"key": "k", "value": "a", "effect": "NoSchedule"},
                {"key": "k", "value": "b", "effect": "NoSchedule"},
            ]
        ),
        [
            'metadata.taints[1]: Duplicate value: core.Taint{Key:"k", Value:"b", Effect:"NoSchedule", '
            "TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair"
        ],
    ),
    (
        "same-key-other-effect-ok",
        node_spec(taints=[{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"}]),
        [],
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in NODE_CASES])
def test_node_create(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("Node", mutated(node, mutation))) == expected


@pytest.mark.parametrize(
    ("old_mutation", "new_mutation", "expected"),
    [
        pytest.param(node_spec(podCIDR=None, podCIDRs=None), lambda o: None, [], id="cidr-may-be-assigned"),
        pytest.param(
            lambda o: None,
            node_spec(podCIDR="10.244.9.0/24", podCIDRs=["10.244.9.0/24"]),
            ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'],
            id="cidr-may-not-change",
        ),
        pytest.param(
            node_spec(providerID="kind://node-1"),
            node_spec(providerID="kind://other"),
            ['spec.providerID: Forbidden: node updates may not change providerID except from "" to valid'],
            id="provider-id",
        ),
        pytest.param(
            lambda o: None, node_spec(unschedulable=True, taints=[]), [], id="unschedulable-and-taints-mutable"
        ),
        pytest.param(
            lambda o: None,
            lambda o: o["status"]["addresses"].append({"type": "InternalIP", "address": "172.18.0.2"}),
            ['status.addresses[2]: Duplicate value: core.NodeAddress{Type:"InternalIP", Address:"172.18.0.2"}'],
            id="duplicate-address",
        ),
    ],
)
def test_node_update(
    old_mutation: Callable[[Obj], None], new_mutation: Callable[[Obj], None], expected: list[str]
) -> None:
    old = mutated(node, old_mutation)
    assert rendered(validate_update("Node", mutated(node, new_mutation), old)) == expected
    assert rendered(validate_status_update("Node", mutated(node, new_mutation), old)) == expected


def test_namespace_rules() -> None:
    bad = mutated(namespace, lambda o: o["spec"].update(finalizers=["custom"]))
    assert rendered(validate_create("Namespace", bad)) == [
        'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified'
    ]
    old = namespace()
    terminating = copy.deepcopy(old)
    terminating["status"]["phase"] = "Terminating"
    assert rendered(validate_status_update("Namespace", terminating, old)) == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"
    ]


def involved(**fields: Any) -> Callable[[Obj], None]:
    return lambda obj: obj["involvedObject"].update(fields)


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        pytest.param(
            involved(namespace="other"),
            ['involvedObject.namespace: Invalid value: "other": does not match event.namespace'],
            id="mismatch",
        ),
        pytest.param(
            lambda o: (o["metadata"].update(namespace="default"), o["involvedObject"].pop("namespace")),
            [],
            id="cluster-scoped-object-in-default",
        ),
        pytest.param(
            lambda o: o["involvedObject"].pop("namespace"),
            ['involvedObject.namespace: Invalid value: "": does not match event.namespace'],
            id="cluster-scoped-object-elsewhere",
        ),
        pytest.param(
            lambda o: o["metadata"].pop("name"),
            ["metadata.name: Required value: name or generateName is required"],
            id="name-required",
        ),
        pytest.param(
            lambda o: o.update(eventTime="2024-05-01T10:00:00.000000Z"),
            [
                "reportingComponent: Required value",
                'reportingComponent: Invalid value: "": name part must be non-empty',
                f'reportingComponent: Invalid value: "": {NAME_PART}',
                "reportingInstance: Required value",
                "action: Required value",
            ],
            id="new-style-needs-reporting",
        ),
        pytest.param(
            lambda o: o.update(
                eventTime="2024-05-01T10:00:00.000000Z",
                reportingComponent="kubelet",
                reportingInstance="node-1",
                action="Started",
                reason="r" * 129,
            ),
            ['reason: Invalid value: "": can have at most 128 characters'],
            id="new-style-long-reason",
        ),
    ],
)
def test_event(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("Event", mutated(event, mutation))) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"holderIdentity": "node-1", "leaseDurationSeconds": 40, "leaseTransitions": 2}, [], id="valid"),
        pytest.param(
            {"leaseDurationSeconds": 0},
            ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
            id="zero-duration",
        ),
        pytest.param(
            {"leaseTransitions": -1},
            ["spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"],
            id="transitions",
        ),
        pytest.param(
            {"preferredHolder": "node-2"},
            ["spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"],
            id="preferred-holder-needs-strategy",
        ),
    ],
)
def test_lease(spec: dict[str, Any], expected: list[str]) -> None:
    obj = mutated(lease, lambda o: o.update(spec=spec))
    assert rendered(validate_create("Lease", obj)) == expected
    assert rendered(validate_update("Lease", obj, lease())) == expected


def test_lease_name_is_a_subdomain() -> None:
    obj = mutated(lease, lambda o: o["metadata"].update(name="Kube_Controller"))
    assert rendered(validate_create("Lease", obj)) == [
        f'metadata.name: Invalid value: "Kube_Controller": {DNS1123_SUBDOMAIN}'
    ]
