"""Pod validation: containers, ports, probes, policies, and the update/status rules.

Messages follow TestValidatePodCreate / TestValidatePodUpdate /
TestValidatePodStatusUpdate in upstream's core validation_test.go.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from validation_builders import DNS1123_LABEL, DNS1123_SUBDOMAIN, PORT_RANGE, Obj, mutated, pod, rendered

from svclab.apiserver.validation import validate_create, validate_status_update, validate_update

C0 = "spec.containers[0]"


def spec(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for name, value in fields.items():
            if value is None:
                obj["spec"].pop(name, None)
            else:
                obj["spec"][name] = value

    return mutate


def container(**fields: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for name, value in fields.items():
            if value is None:
                obj["spec"]["containers"][0].pop(name, None)
            else:
                obj["spec"]["containers"][0][name] = value

    return mutate


def probe(kind: str = "readinessProbe", **fields: Any) -> Callable[[Obj], None]:
    return container(**{kind: fields})


CREATE_CASES = [
    ("no-containers", spec(containers=[]), ["spec.containers: Required value"]),
    ("container-name-required", container(name=""), [f"{C0}.name: Required value"]),
    ("bad-container-name", container(name="Web"), [f'{C0}.name: Invalid value: "Web": {DNS1123_LABEL}']),
    (
        "duplicate-container-name",
        lambda o: o["spec"]["containers"].append({"name": "web", "image": "pause"}),
        ['spec.containers[1].name: Duplicate value: "web"'],
    ),
    (
        "init-container-name-clash",
        spec(initContainers=[{"name": "web", "image": "busybox"}]),
        ['spec.initContainers[0].name: Duplicate value: "web"'],
    ),
    ("image-required", container(image=None), [f"{C0}.image: Required value"]),
    (
        "image-whitespace",
        container(image=" pause "),
        [f'{C0}.image: Invalid value: " pause ": must not have leading or trailing whitespace'],
    ),
    (
        "container-port-required",
        container(ports=[{"containerPort": 0}]),
        [f"{C0}.ports[0].containerPort: Required value"],
    ),
    (
        "container-port-range",
        container(ports=[{"containerPort": 70000}]),
        [f"{C0}.ports[0].containerPort: Invalid value: 70000: {PORT_RANGE}"],
    ),
    (
        "host-port-range",
        container(ports=[{"containerPort": 80, "hostPort": -1}]),
        [f"{C0}.ports[0].hostPort: Invalid value: -1: {PORT_RANGE}"],
    ),
    (
        "port-protocol",
        container(ports=[{"containerPort": 80, "protocol": "tcp"}]),
        [f'{C0}.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"'],
    ),
    (
        "port-name-not-iana",
        container(ports=[{"name": "web_http", "containerPort": 80}]),
        [
            f'{C0}.ports[0].name: Invalid value: "web_http": must contain only alpha-numeric characters (a-z, 0-9), and '
            "hyphens (-)"
        ],
    ),
    (
        "duplicate-port-name",
        container(ports=[{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]),
        [f'{C0}.ports[1].name: Duplicate value: "http"'],
    ),
    (
        "restart-policy",
        spec(restartPolicy="Sometimes"),
        ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'],
    ),
    ("restart-policy-empty", spec(restartPolicy=""), ["spec.restartPolicy: Required value"]),
    (
        "dns-policy",
        spec(dnsPolicy="Cluster"),
        [
            'spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
            '"Default", "None"'
        ],
    ),
    ("node-name", spec(nodeName="Node_1"), [f'spec.nodeName: Invalid value: "Node_1": {DNS1123_SUBDOMAIN}']),
    ("hostname", spec(hostname="web.0"), ['spec.hostname: Invalid value: "web.0": must not contain dots']),
    ("subdomain", spec(subdomain="Svc"), [f'spec.subdomain: Invalid value: "Svc": {DNS1123_LABEL}']),
    (
        "active-deadline",
        spec(activeDeadlineSeconds=0),
        ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"],
    ),
    (
        "node-selector",
        spec(nodeSelector={"zone": "a b"}),
        [
            'spec.nodeSelector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ],
    ),
    (
        "probe-without-handler",
        probe(periodSeconds=1),
        [f"{C0}.readinessProbe: Required value: must specify a handler type"],
    ),
    (
        "probe-two-handlers",
        probe(exec={"command": ["true"]}, tcpSocket={"port": 8080}),
        [f"{C0}.readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"],
    ),
    (
        "probe-negative-period",
        probe(tcpSocket={"port": 8080}, periodSeconds=-1),
        [f"{C0}.readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"],
    ),
    (
        "probe-bad-port",
        probe(tcpSocket={"port": 0}),
        [f"{C0}.readinessProbe.tcpSocket.port: Invalid value: 0: {PORT_RANGE}"],
    ),
    (
        "probe-bad-scheme",
        probe(httpGet={"path": "/", "port": 80, "scheme": "FTP"}),
        [f'{C0}.readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"'],
    ),
    (
        "exec-needs-command",
        probe("livenessProbe", exec={"command": []}),
        [f"{C0}.livenessProbe.exec.command: Required value"],
    ),
    (
        "liveness-success-threshold",
        probe("livenessProbe", tcpSocket={"port": 8080}, successThreshold=2),
        [f"{C0}.livenessProbe.successThreshold: Invalid value: 2: must be 1"],
    ),
    (
        "readiness-grace-period",
        probe(tcpSocket={"port": 8080}, terminationGracePeriodSeconds=10),
        [f"{C0}.readinessProbe.terminationGracePeriodSeconds: Invalid value: 10: must not be set for readinessProbes"],
    ),
    (
        "liveness-grace-period-zero",
        probe("livenessProbe", tcpSocket={"port": 8080}, terminationGracePeriodSeconds=0),
        [f"{C0}.livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0"],
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in CREATE_CASES])
def test_pod_create(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_create("Pod", mutated(pod, mutation))) == expected


UPDATABLE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        pytest.param(container(image="registry.k8s.io/pause:3.10"), [], id="image-may-change"),
        pytest.param(spec(activeDeadlineSeconds=60), [], id="deadline-may-be-set"),
        pytest.param(spec(tolerations=[{"key": "a", "operator": "Exists"}]), [], id="toleration-added"),
        pytest.param(
            spec(containers=[]),
            [
                "spec.containers: Required value",
                "spec.containers: Forbidden: pod updates may not add or remove containers",
            ],
            id="containers-removed",
        ),
    ],
)
def test_pod_update_allowed_and_structural(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    assert rendered(validate_update("Pod", mutated(pod, mutation), pod())) == expected


def test_pod_update_of_other_fields_is_forbidden_with_a_diff() -> None:
    errs = validate_update("Pod", mutated(pod, spec(nodeName="node-2")), pod())
    assert [(e.field, e.type.value) for e in errs] == [("spec", "FieldValueForbidden")]
    first_line, *diff = errs[0].detail.split("\n")
    assert first_line == UPDATABLE
    assert diff == ["  core.PodSpec{", "-\tnodeName: null", '+\tnodeName: "node-2"', "  }"]


def test_pod_update_deadline_may_only_shrink() -> None:
    old = mutated(pod, spec(activeDeadlineSeconds=60))
    assert rendered(validate_update("Pod", mutated(lambda: old, spec(activeDeadlineSeconds=120)), old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous value"
    ]
    assert rendered(validate_update("Pod", mutated(lambda: old, spec(activeDeadlineSeconds=None)), old)) == [
        "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"
    ]


def test_pod_update_may_not_drop_tolerations() -> None:
    old = mutated(pod, spec(tolerations=[{"key": "a", "operator": "Exists"}]))
    assert rendered(validate_update("Pod", pod(), old)) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    ]


def status(**fields: Any) -> Callable[[Obj], None]:
    return lambda obj: obj.setdefault("status", {}).update(fields)


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        pytest.param(
            status(
                phase="Running",
                podIP="10.244.1.5",
                podIPs=[{"ip": "10.244.1.5"}],
                hostIP="172.18.0.2",
                hostIPs=[{"ip": "172.18.0.2"}],
                conditions=[{"type": "Ready", "status": "True"}, {"type": "example.com/gate", "status": "True"}],
            ),
            [],
            id="running",
        ),
        pytest.param(status(podIPs=[{"ip": "10.244.1.5"}, {"ip": "fd00:10:244::5"}]), [], id="dual-stack-pod-ips"),
        pytest.param(
            status(podIPs=[{"ip": "10.244.1.5"}, {"ip": "10.244.1.6"}]),
            [
                'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.244.1.5"}, core.PodIP{IP:"10.244.1.6"}}: '
                "may specify no more than one IP for each IP family"
            ],
            id="two-ipv4-pod-ips",
        ),
        pytest.param(
            status(podIPs=[{"ip": "10.244.1"}]),
            [
                'status.podIPs[0]: Invalid value: "10.244.1": must be a valid IP address, (e.g. 10.9.8.7 or '
                "2001:db8::ffff)"
            ],
            id="bad-pod-ip",
        ),
        pytest.param(
            spec(nodeName="node-2"), ["status.nodeName: Forbidden: may not be changed directly"], id="node-moved"
        ),
        pytest.param(
            status(conditions=[{"type": "bad condition", "status": "True"}]),
            [
                'metadata.conditions[0].Type: Invalid value: "bad condition": name part must consist of alphanumeric '
                "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  "
                "or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ],
            id="custom-condition-type",
        ),
        pytest.param(
            status(qosClass="Guaranteed"),
            ['status.qosClass: Invalid value: "Guaranteed": field is immutable'],
            id="qos-class",
        ),
    ],
)
def test_pod_status_update(mutation: Callable[[Obj], None], expected: list[str]) -> None:
    old = pod()
    old["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    assert rendered(validate_status_update("Pod", mutated(lambda: old, mutation), old)) == expected


def test_terminated_containers_stay_terminated_unless_restarted() -> None:
    old = mutated(pod, spec(restartPolicy="Never"))
    old["status"] = {"containerStatuses": [{"name": "web", "state": {"terminated": {"exitCode": 0}}}]}
    new = copy.deepcopy(old)
    new["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert rendered(validate_status_update("Pod", new, old)) == [
        "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"
    ]
    always_old = mutated(lambda: old, spec(restartPolicy="Always"))
    always_new = mutated(lambda: new, spec(restartPolicy="Always"))
    assert validate_status_update("Pod", always_new, always_old) == []
