"""Service validation: ports, types, ClusterIPs, affinity, traffic policies, updates.

Address plan: service CIDR 10.96.0.0/16 (the valid Service has 10.96.0.10),
IPv6 fd00:10:96::/112, pods 10.244.0.0/16, external IPs from 192.0.2.0/24.
Cases and messages follow TestValidateServiceCreate / TestValidateServiceUpdate
in upstream's pkg/apis/core/validation/validation_test.go.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from validation_builders import (
    BAD_IP,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    PORT_RANGE,
    Obj,
    mutated,
    node_port_service,
    rendered,
    service,
)

from svclab.apiserver.validation import validate_create, validate_status_update, validate_update

DUP_PORT = (
    'core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
    'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
)


def spec(**fields: Any) -> Callable[[Obj], None]:
    """Set (or, with None, remove) spec fields."""

    def mutate(obj: Obj) -> None:
        for name, value in fields.items():
            if value is None:
                obj["spec"].pop(name, None)
            else:
                obj["spec"][name] = value

    return mutate


def port(i: int = 0, **fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        obj["spec"]["ports"][i].update(fields)

    return mutate


def ports(*items: dict[str, Any]) -> Callable[[Obj], None]:
    return spec(ports=[{"protocol": "TCP", "targetPort": p.get("port", 80), **p} for p in items])


def both(*mutations: Callable[[Obj], None]) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for m in mutations:
            m(obj)

    return mutate


def headless() -> Callable[[Obj], None]:
    return spec(clusterIP="None", clusterIPs=["None"])


CREATE_CASES = [
    # --- ports -----------------------------------------------------------------
    ("missing-ports", spec(ports=[]), ["spec.ports: Required value"]),
    ("headless-without-ports-ok", both(headless(), spec(ports=[])), []),
    ("port-zero", port(port=0, targetPort=80), [f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}"]),
    ("port-too-big", port(port=65536, targetPort=80), [f"spec.ports[0].port: Invalid value: 65536: {PORT_RANGE}"]),
    (
        "bad-protocol",
        port(protocol="SCTPX"),
        ['spec.ports[0].protocol: Unsupported value: "SCTPX": supported values: "SCTP", "TCP", "UDP"'],
    ),
    ("empty-protocol", port(protocol=""), ["spec.ports[0].protocol: Required value"]),
    ("bad-port-name", port(name="HTTP"), [f'spec.ports[0].name: Invalid value: "HTTP": {DNS1123_LABEL}']),
    ("second-port-needs-name", ports({"name": "a", "port": 80}, {"port": 81}), ["spec.ports[1].name: Required value"]),
    ("single-port-name-optional", ports({"port": 80}), []),
    (
        "duplicate-port-name",
        ports({"name": "a", "port": 80}, {"name": "a", "port": 81}),
        ['spec.ports[1].name: Duplicate value: "a"'],
    ),
    (
        "duplicate-port-protocol",
        ports({"name": "a", "port": 80}, {"name": "b", "port": 80}),
        [f"spec.ports[1]: Duplicate value: {DUP_PORT}"],
    ),
    ("same-port-other-protocol-ok", ports({"name": "a", "port": 53, "protocol": "UDP"}, {"name": "b", "port": 53}), []),
    ("target-port-zero", port(targetPort=0), [f"spec.ports[0].targetPort: Invalid value: 0: {PORT_RANGE}"]),
    ("target-port-named", port(targetPort="http-alt"), []),
    (
        "target-port-bad-name",
        port(targetPort="Http"),
        [
            'spec.ports[0].targetPort: Invalid value: "Http": must contain only alpha-numeric characters (a-z, 0-9), '
            "and hyphens (-)"
        ],
    ),
    (
        "target-port-name-too-long",
        port(targetPort="abcdefghijklmnop"),
        ['spec.ports[0].targetPort: Invalid value: "abcdefghijklmnop": must be no more than 15 characters'],
    ),
    (
        "target-port-numeric-string",
        port(targetPort="8080"),
        ['spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)'],
    ),
    (
        "node-port-on-cluster-ip",
        port(nodePort=30080),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ),
    (
        "bad-app-protocol",
        port(appProtocol="-h2c"),
        [
            'spec.ports[0].appProtocol: Invalid value: "-h2c": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
            "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ],
    ),
    # --- type -------------------------------------------------------------------
    (
        "bad-type",
        spec(type="Bogus"),
        [
            'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
            '"NodePort"'
        ],
    ),
    ("empty-type", spec(type=""), ["spec.type: Required value"]),
    (
        "external-name",
        spec(
            type="ExternalName",
            externalName="db.example.com",
            clusterIP=None,
            clusterIPs=None,
            ipFamilies=None,
            ipFamilyPolicy=None,
            internalTrafficPolicy=None,
            ports=[],
        ),
        [],
    ),
    (
        "external-name-trailing-dot",
        spec(
            type="ExternalName",
            externalName="db.example.com.",
            clusterIP=None,
            clusterIPs=None,
            ipFamilies=None,
            ipFamilyPolicy=None,
        ),
        [],
    ),
    (
        "external-name-missing",
        spec(type="ExternalName", clusterIP=None, clusterIPs=None, ipFamilies=None, ipFamilyPolicy=None),
        ["spec.externalName: Required value"],
    ),
    (
        "external-name-invalid",
        spec(
            type="ExternalName",
            externalName="Db_Host",
            clusterIP=None,
            clusterIPs=None,
            ipFamilies=None,
            ipFamilyPolicy=None,
        ),
        [f'spec.externalName: Invalid value: "Db_Host": {DNS1123_SUBDOMAIN}'],
    ),
    (
        "external-name-with-cluster-ip",
        spec(type="ExternalName", externalName="db.example.com"),
        [
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
            "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
            "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services",
        ],
    ),
    (
        "node-port-headless",
        both(headless(), spec(type="NodePort", externalTrafficPolicy="Cluster")),
        ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"],
    ),
    (
        "load-balancer-headless",
        both(
            headless(), spec(type="LoadBalancer", externalTrafficPolicy="Cluster", allocateLoadBalancerNodePorts=True)
        ),
        ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"],
    ),
    (
        "load-balancer-needs-allocate-flag",
        spec(type="LoadBalancer", externalTrafficPolicy="Cluster"),
        ["allocateLoadBalancerNodePorts: Required value"],
    ),
    (
        "allocate-flag-only-for-lb",
        spec(allocateLoadBalancerNodePorts=True),
        ["spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"],
    ),
    (
        "source-ranges-only-for-lb",
        spec(loadBalancerSourceRanges=["10.0.0.0/8"]),
        ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"],
    ),
    # --- cluster IPs --------------------------------------------------------------
    (
        "cluster-ip-not-ip",
        spec(clusterIP="10.96.0.300", clusterIPs=["10.96.0.300"]),
        [f'spec.clusterIPs[0]: Invalid value: "10.96.0.300": {BAD_IP}'],
    ),
    (
        "cluster-ips-mismatch",
        spec(clusterIPs=["10.96.0.11"]),
        ['spec.clusterIPs: Invalid value: []string{"10.96.0.11"}: first value must match `clusterIP`'],
    ),
    ("cluster-ips-missing", spec(clusterIPs=None), ["spec.clusterIPs: Required value"]),
    (
        "cluster-ips-without-cluster-ip",
        spec(clusterIP=None),
        ['spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: must be empty when `clusterIP` is not specified'],
    ),
    (
        "none-not-alone",
        spec(clusterIP="None", clusterIPs=["None", "10.96.0.10"], ipFamilies=None),
        ['spec.clusterIPs: Invalid value: []string{"None", "10.96.0.10"}: \'None\' must be the first and only value'],
    ),
    (
        "dual-stack-ok",
        spec(
            clusterIPs=["10.96.0.10", "fd00:10:96::a"], ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack"
        ),
        [],
    ),
    (
        "two-ipv4",
        spec(clusterIPs=["10.96.0.10", "10.96.0.11"], ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
        [
            'spec.clusterIPs: Invalid value: []string{"10.96.0.10", "10.96.0.11"}: may specify no more than one IP for '
            "each IP family",
            'spec.clusterIPs[1]: Invalid value: "10.96.0.11": expected an IPv6 value as indicated by `ipFamilies[1]`',
        ],
    ),
    (
        "family-mismatch",
        spec(ipFamilies=["IPv6"]),
        ['spec.clusterIPs[0]: Invalid value: "10.96.0.10": expected an IPv6 value as indicated by `ipFamilies[0]`'],
    ),
    (
        "bad-family",
        spec(ipFamilies=["IPv5"]),
        ['spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"'],
    ),
    ("duplicate-family", spec(ipFamilies=["IPv4", "IPv4"]), ['spec.ipFamilies[1]: Duplicate value: "IPv4"']),
    (
        "bad-family-policy",
        spec(ipFamilyPolicy="Dual"),
        [
            'spec.ipFamilyPolicy: Unsupported value: "Dual": supported values: "PreferDualStack", "RequireDualStack", '
            '"SingleStack"'
        ],
    ),
    # --- external IPs, selector -------------------------------------------------------
    ("external-ip-ok", spec(externalIPs=["192.0.2.10"], externalTrafficPolicy="Cluster"), []),
    (
        "external-ip-invalid",
        spec(externalIPs=["192.0.2"], externalTrafficPolicy="Cluster"),
        [f'spec.externalIPs[0]: Invalid value: "192.0.2": {BAD_IP}'],
    ),
    (
        "external-ip-loopback",
        spec(externalIPs=["127.0.0.1"], externalTrafficPolicy="Cluster"),
        ['spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'],
    ),
    ("external-ips-need-etp", spec(externalIPs=["192.0.2.10"]), ["spec.externalTrafficPolicy: Required value"]),
    ("bad-selector-value", spec(selector={"app": "a b"}), [f'spec.selector: Invalid value: "a b": {LABEL_VALUE}']),
    # --- session affinity ---------------------------------------------------------------
    (
        "client-ip-affinity",
        spec(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}}),
        [],
    ),
    (
        "bad-affinity",
        spec(sessionAffinity="Sticky"),
        ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"'],
    ),
    (
        "affinity-timeout-zero",
        spec(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}}),
        [
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less "
            "than 86400"
        ],
    ),
    (
        "affinity-timeout-too-big",
        spec(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86401}}),
        [
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less "
            "than 86400"
        ],
    ),
    (
        "affinity-timeout-max-ok",
        spec(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86400}}),
        [],
    ),
    (
        "affinity-config-required",
        spec(sessionAffinity="ClientIP"),
        ["spec.sessionAffinityConfig: Required value: when session affinity type is ClientIP"],
    ),
    (
        "affinity-config-with-none",
        spec(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10}}),
        ["spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"],
    ),
    # --- traffic policies ----------------------------------------------------------------
    (
        "etp-on-cluster-ip",
        spec(externalTrafficPolicy="Local"),
        ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'],
    ),
    (
        "bad-itp",
        spec(internalTrafficPolicy="Nearby"),
        ['spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"'],
    ),
    ("itp-required", spec(internalTrafficPolicy=None), ["spec.internalTrafficPolicy: Required value"]),
    (
        "health-check-port-needs-lb-local",
        spec(healthCheckNodePort=30500),
        [
            "spec.healthCheckNodePort: Invalid value: 30500: may only be set when `type` is 'LoadBalancer' and "
            "`externalTrafficPolicy` is 'Local'"
        ],
    ),
    (
        "bad-traffic-distribution",
        spec(trafficDistribution="Nearest"),
        [
            'spec.trafficDistribution: Unsupported value: "Nearest": supported values: '
            '"PreferClose", "PreferSameNode", "PreferSameZone"'
        ],
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in CREATE_CASES])
def test_service_create(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("Service", mutated(service, mutation))) == expected


NODE_PORT_CASES = [
    ("valid", lambda o: None, []),
    ("etp-local", spec(externalTrafficPolicy="Local"), []),
    (
        "etp-bad",
        spec(externalTrafficPolicy="Nearest"),
        ['spec.externalTrafficPolicy: Unsupported value: "Nearest": supported values: "Cluster", "Local"'],
    ),
    ("etp-required", spec(externalTrafficPolicy=None), ["spec.externalTrafficPolicy: Required value"]),
    (
        "duplicate-node-port",
        both(ports({"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080})),
        ["spec.ports[1].nodePort: Duplicate value: 30080"],
    ),
    (
        "same-node-port-other-protocol-ok",
        ports(
            {"name": "a", "port": 53, "nodePort": 30053, "protocol": "UDP"},
            {"name": "b", "port": 53, "nodePort": 30053},
        ),
        [],
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in NODE_PORT_CASES])
def test_node_port_service_create(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("Service", mutated(node_port_service, mutation))) == expected


def test_load_balancer_local_with_health_check_port() -> None:
    lb = mutated(
        node_port_service,
        spec(
            type="LoadBalancer",
            externalTrafficPolicy="Local",
            allocateLoadBalancerNodePorts=True,
            healthCheckNodePort=32000,
            loadBalancerSourceRanges=["10.0.0.0/8", " 192.0.2.0/24 ", "10.1.1.1/8"],
        ),
    )
    assert rendered(validate_create("Service", lb)) == [
        'spec.LoadBalancerSourceRanges[2]: Invalid value: "10.1.1.1/8": must not have bits set beyond the prefix length'
    ]


UPDATE_CASES = [
    (
        "cluster-ip-changed",
        spec(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"]),
        ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set'],
    ),
    (
        "to-external-name-may-drop-ip",
        spec(
            type="ExternalName",
            externalName="db.example.com",
            clusterIP=None,
            clusterIPs=None,
            ipFamilies=None,
            ipFamilyPolicy=None,
            internalTrafficPolicy=None,
        ),
        [],
    ),
    ("to-node-port", spec(type="NodePort", externalTrafficPolicy="Cluster"), []),
    (
        "upgrade-to-dual-stack",
        spec(clusterIPs=["10.96.0.10", "fd00:10:96::a"], ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
        [],
    ),
    (
        "primary-family-changed",
        spec(ipFamilies=["IPv6"], clusterIP="fd00:10:96::a", clusterIPs=["fd00:10:96::a"]),
        [
            'spec.clusterIPs[0]: Invalid value: []string{"fd00:10:96::a"}: may not change once set',
            'spec.ipFamilies[0]: Invalid value: []core.IPFamily{"IPv6"}: may not change once set',
        ],
    ),
    ("selector-changed", spec(selector={"app": "api"}), []),
    ("port-added", ports({"name": "a", "port": 80}, {"name": "b", "port": 443}), []),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in UPDATE_CASES])
def test_service_update(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    old = service()
    assert rendered(validate_update("Service", mutated(service, mutation), old)) == expected


def test_downgrade_from_dual_stack_needs_single_stack_policy() -> None:
    old = mutated(
        service,
        spec(clusterIPs=["10.96.0.10", "fd00:10:96::a"], ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
    )
    new = mutated(lambda: old, spec(clusterIPs=["10.96.0.10"], ipFamilies=["IPv4"]))
    assert rendered(validate_update("Service", new, old)) == [
        "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be set to 'SingleStack' when releasing the "
        "secondary clusterIP",
        "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be set to 'SingleStack' when releasing the "
        "secondary ipFamily",
    ]
    single = mutated(lambda: new, spec(ipFamilyPolicy="SingleStack"))
    assert validate_update("Service", single, old) == []


def test_from_external_name_may_take_a_cluster_ip() -> None:
    old = mutated(
        service,
        spec(
            type="ExternalName",
            externalName="db.example.com",
            clusterIP=None,
            clusterIPs=None,
            ipFamilies=None,
            ipFamilyPolicy=None,
            internalTrafficPolicy=None,
        ),
    )
    assert validate_update("Service", service(), old) == []


def test_health_check_port_is_immutable() -> None:
    old = mutated(
        node_port_service,
        spec(
            type="LoadBalancer",
            externalTrafficPolicy="Local",
            allocateLoadBalancerNodePorts=True,
            healthCheckNodePort=32000,
        ),
    )
    new = mutated(lambda: old, spec(healthCheckNodePort=32001))
    assert rendered(validate_update("Service", new, old)) == ["spec.healthCheckNodePort: Forbidden: field is immutable"]


@pytest.mark.parametrize(
    ("kind", "ingress", "expected"),
    [
        pytest.param(
            "LoadBalancer", [{"ip": "192.0.2.1", "ipMode": "VIP"}, {"hostname": "lb.example.com"}], [], id="valid"
        ),
        pytest.param(
            "ClusterIP",
            [{"ip": "192.0.2.1"}],
            ["status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"],
            id="not-a-load-balancer",
        ),
        pytest.param(
            "LoadBalancer",
            [{"ip": "192.0.2"}],
            [f'status.loadBalancer.ingress[0].ip: Invalid value: "192.0.2": {BAD_IP}'],
            id="bad-ip",
        ),
        pytest.param(
            "LoadBalancer",
            [{"hostname": "192.0.2.1"}],
            [
                'status.loadBalancer.ingress[0].hostname: Invalid value: "192.0.2.1": must be a DNS name, not an IP '
                "address"
            ],
            id="hostname-is-ip",
        ),
        pytest.param(
            "LoadBalancer",
            [{"ip": "192.0.2.1", "ipMode": "Direct"}],
            ['status.loadBalancer.ingress[0].ipMode: Unsupported value: "Direct": supported values: "Proxy", "VIP"'],
            id="bad-ip-mode",
        ),
    ],
)
def test_service_status_update(kind: str, ingress: list[dict[str, Any]], expected: list[str]) -> None:
    extra: dict[str, Any] = {"type": kind}
    if kind == "LoadBalancer":
        extra.update(externalTrafficPolicy="Cluster", allocateLoadBalancerNodePorts=True)
    old = mutated(service, spec(**extra))
    new = copy.deepcopy(old)
    new["status"] = {"loadBalancer": {"ingress": ingress}}
    assert rendered(validate_status_update("Service", new, old)) == expected
