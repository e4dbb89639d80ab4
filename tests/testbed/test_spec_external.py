"""Testbed specs with ``mode: external``: your own proxy or controllers (issue 19). Pure."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from svclab.testbed.external import ExternalCommand
from svclab.testbed.spec import WORKLOAD_CONTROLLERS, Controller, ProxyMode, SpecError, parse_spec

BASE: dict[str, Any] = {
    "apiVersion": "svclab.dev/v1alpha1",
    "kind": "Testbed",
    "metadata": {"name": "mine"},
    "spec": {
        "proxy": {
            "mode": "external",
            "command": ["/opt/my-proxy", "--kubeconfig={kubeconfig}", "--hostname-override", "{nodeName}"],
            "env": {"NODE_IP": "{nodeIP}"},
        },
        "cluster": {"nodes": [{"role": "control-plane"}, {"role": "worker"}]},
    },
}


def with_proxy(**fields: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document["spec"]["proxy"] = fields
    return document


def with_controllers(value: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document["spec"]["proxy"] = {"mode": "iptables"}
    document["spec"]["controllers"] = value
    return document


def problems(document: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(document, "x.yaml")
    return list(caught.value.problems)


def test_external_proxy_is_parsed_with_command_env_and_label() -> None:
    proxy = parse_spec(BASE, "x.yaml").proxy
    assert proxy.mode == ProxyMode.EXTERNAL
    assert proxy.external == ExternalCommand(
        ("/opt/my-proxy", "--kubeconfig={kubeconfig}", "--hostname-override", "{nodeName}"),
        (("NODE_IP", "{nodeIP}"),),
    )
    assert proxy.rules is None
    assert proxy.label == "external: my-proxy"


def test_reference_modes_have_no_command_and_their_own_label() -> None:
    proxy = parse_spec(with_proxy(mode="nftables"), "x.yaml").proxy
    assert proxy.external is None and proxy.label == "nftables"


def test_rules_names_a_mode_with_a_dump() -> None:
    document = with_proxy(mode="external", command=["p"], rules="iptables")
    assert parse_spec(document, "x.yaml").proxy.rules == "iptables"
    assert problems(with_proxy(mode="external", command=["p"], rules="userspace")) == [
        "x.yaml: spec.proxy.rules: must be one of iptables, nftables, ipvs"
    ]


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        (
            {"mode": "external"},
            ["spec.proxy.command: required with mode external: the argv list that starts your component"],
        ),
        (
            {"mode": "external", "command": "my-proxy --x"},
            ["spec.proxy.command: must be a non-empty list of strings (an argv)"],
        ),
        ({"mode": "external", "command": []}, ["spec.proxy.command: must be a non-empty list of strings (an argv)"]),
        (
            {"mode": "external", "command": ["p", 3]},
            ["spec.proxy.command: must be a non-empty list of strings (an argv)"],
        ),
        (
            {"mode": "external", "command": ["p", "--node={node}"]},
            [
                "spec.proxy.command[1]: unknown placeholder {node} (known: {kubeconfig}, {nodeName}, {nodeIP}, "
                "{podCIDR}, {clusterCIDR}, {serviceCIDR})"
            ],
        ),
        (
            {"mode": "external", "command": ["p", "--json={a: 1"]},
            ["spec.proxy.command[1]: a lone brace (write {{ or }} for a literal one)"],
        ),
        (
            {"mode": "external", "command": ["p"], "env": {"1BAD": "x", "GOOD": ["list"]}},
            [
                "spec.proxy.env.1BAD: must be a variable name (letters, digits, _; not starting with a digit)",
                "spec.proxy.env.GOOD: must be a string",
            ],
        ),
        (
            {"mode": "external", "command": ["p"], "syncPeriod": "30s"},
            ["spec.proxy.syncPeriod: not used with mode external (pass your command its own flags)"],
        ),
        (
            {"mode": "external", "command": ["p"], "scheduler": "rr"},
            ["spec.proxy.scheduler: only allowed with mode: ipvs"],
        ),
        ({"mode": "iptables", "command": ["p"]}, ["spec.proxy.command: only allowed with mode: external"]),
        ({"mode": "ipvs", "rules": "ipvs"}, ["spec.proxy.rules: only allowed with mode: external"]),
    ],
    ids=lambda v: v.get("mode") if isinstance(v, dict) else None,
)
def test_bad_external_proxy_fields_get_one_line_each(proxy: dict[str, Any], expected: list[str]) -> None:
    assert problems(with_proxy(**proxy)) == [f"x.yaml: {line}" for line in expected]


def test_escaped_braces_are_not_placeholders() -> None:
    document = with_proxy(mode="external", command=["p", "--json={{}}"])
    assert parse_spec(document, "x.yaml").proxy.external is not None


def test_external_controllers_keep_the_workload_controllers_by_default() -> None:
    testbed = parse_spec(with_controllers({"mode": "external", "command": ["my-kcm", "{kubeconfig}"]}), "x.yaml")
    assert testbed.external_controllers == ExternalCommand(("my-kcm", "{kubeconfig}"))
    assert testbed.controllers == WORKLOAD_CONTROLLERS


def test_external_controllers_with_a_reference_list() -> None:
    document = with_controllers({"mode": "external", "command": ["c"], "reference": ["endpoints"]})
    assert parse_spec(document, "x.yaml").controllers == (Controller.ENDPOINTS,)
    assert parse_spec(with_controllers(["endpoints"]), "x.yaml").external_controllers is None


@pytest.mark.parametrize(
    ("controllers", "expected"),
    [
        (
            {"mode": "mine", "command": ["c"]},
            ["spec.controllers.mode: must be external (or give spec.controllers as a list)"],
        ),
        (
            {"mode": "external"},
            ["spec.controllers.command: required with mode external: the argv list that starts your component"],
        ),
        (
            {"mode": "external", "command": ["c"], "reference": ["dns"]},
            [
                "spec.controllers.reference[0]: must be one of endpoints, endpointslice, endpointslice-mirroring, "
                "replicaset, replicationcontroller, deployment, daemonset, job"
            ],
        ),
        ({"mode": "external", "command": ["c"], "image": "x"}, ["spec.controllers.image: unknown field"]),
        ("external", ["spec.controllers: must be a list (or, at spec.controllers, a mapping with mode: external)"]),
    ],
    ids=["mode", "command", "reference", "unknown", "scalar"],
)
def test_bad_external_controllers(controllers: Any, expected: list[str]) -> None:
    assert problems(with_controllers(controllers)) == [f"x.yaml: {line}" for line in expected]


def test_external_needs_the_local_provider() -> None:
    document = copy.deepcopy(BASE)
    document["spec"]["provider"] = "kind"
    assert problems(document) == [
        "x.yaml: spec.provider: mode external (your own proxy or controllers) needs the local provider"
    ]
