"""Server-side printing (meta.k8s.io/v1 Tables).

Expected cells come from upstream's printers_test.go and duration_test.go where they
exist. Clock: NOW is fixed; objects are created relative to it. Addresses: pods in
10.1.2.0/24 and 2001:db8::/64, Services in 10.9.8.0/24.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from svclab.apiserver.printing import (
    column_definitions,
    human_duration,
    to_table,
)

NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.UTC)


def ago(**delta: float) -> str:
    return (NOW - dt.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", **extra}


def cells(kind: str, obj: dict[str, Any]) -> list[Any]:
    table = to_table(kind, [obj], resource_version="1", now=NOW)
    return list(table["rows"][0]["cells"])


def headers(kind: str, wide: bool = False) -> list[str]:
    return [c["name"].upper() for c in column_definitions(kind) if wide or c["priority"] == 0]


# --- HumanDuration (upstream duration_test.go) ------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (dt.timedelta(seconds=1), "1s"),
        (dt.timedelta(seconds=70), "70s"),
        (dt.timedelta(seconds=190), "3m10s"),
        (dt.timedelta(minutes=3), "3m"),
        (dt.timedelta(minutes=70), "70m"),
        (dt.timedelta(hours=4, minutes=20), "4h20m"),
        (dt.timedelta(hours=47), "47h"),
        (dt.timedelta(hours=49), "2d1h"),
        (dt.timedelta(days=8, hours=2), "8d"),
        (dt.timedelta(days=367), "367d"),
        (dt.timedelta(days=365 * 2 + 1, hours=1), "2y1d"),
        (dt.timedelta(days=365 * 8, hours=2), "8y"),
        (dt.timedelta(seconds=-1.5), "0s"),
        (dt.timedelta(seconds=-3), "<invalid>"),
    ],
    ids=lambda v: str(v),
)
def test_human_duration(delta: dt.timedelta, expected: str) -> None:
    assert human_duration(delta) == expected


# --- columns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "normal", "wide_extra"),
    [
        ("Service", ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"]),
        ("Endpoints", ["NAME", "ENDPOINTS", "AGE"], []),
        ("EndpointSlice", ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], []),
        ("Pod", ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]),
        (
            "Node",
            ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        ),
        ("Namespace", ["NAME", "STATUS", "AGE"], []),
        (
            "Event",
            ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            ["SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"],
        ),
        ("Lease", ["NAME", "HOLDER", "AGE"], []),
    ],
)
def test_columns(kind: str, normal: list[str], wide_extra: list[str]) -> None:
    assert headers(kind) == normal
    assert sorted(headers(kind, wide=True)) == sorted(normal + wide_extra)
    definitions = column_definitions(kind)
    names = [d for d in definitions if d["format"] == "name"]
    assert len(names) == 1 and names[0]["name"] == "Name"
    assert all(set(d) == {"name", "type", "format", "description", "priority"} for d in definitions)


# --- Service (upstream TestPrintService) --------------------------------------------------


def service(name: str, **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    return {"metadata": meta(name), "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("svc", "expected"),
    [
        (
            service("test1", type="ClusterIP", clusterIPs=["10.9.8.7"], ports=[{"protocol": "tcp", "port": 2233}]),
            ["test1", "ClusterIP", "10.9.8.7", "<none>", "2233/tcp", "<unknown>", "<none>"],
        ),
        (
            service(
                "test2",
                type="NodePort",
                clusterIPs=["10.9.8.7"],
                ports=[{"protocol": "tcp", "port": 8888, "nodePort": 9999}],
                selector={"b": "2", "a": "1"},
            ),
            ["test2", "NodePort", "10.9.8.7", "<none>", "8888:9999/tcp", "<unknown>", "a=1,b=2"],
        ),
        (
            service("test3", type="LoadBalancer", clusterIPs=["10.9.8.7"], ports=[{"protocol": "tcp", "port": 8888}]),
            ["test3", "LoadBalancer", "10.9.8.7", "<pending>", "8888/tcp", "<unknown>", "<none>"],
        ),
        (
            service(
                "test6",
                type="LoadBalancer",
                clusterIPs=["10.9.8.7"],
                externalIPs=["80.11.12.10", "80.11.12.11"],
                ports=[{"protocol": "tcp", "port": 8888}],
                status={
                    "loadBalancer": {
                        "ingress": [
                            {"ip": "3.4.5.6", "hostname": "test.cluster.com"},
                            {"ip": "2.3.4.5", "hostname": "test.cluster.local"},
                        ]
                    }
                },
            ),
            [
                "test6",
                "LoadBalancer",
                "10.9.8.7",
                "2.3.4.5,3.4.5.6,80.11.12.10,80.11.12.11",
                "8888/tcp",
                "<unknown>",
                "<none>",
            ],
        ),
        (
            service("test7", type="ExternalName", externalName="my.database.example.com"),
            ["test7", "ExternalName", "<none>", "my.database.example.com", "<none>", "<unknown>", "<none>"],
        ),
        (
            service(
                "headless",
                type="ClusterIP",
                clusterIPs=["None"],
                ports=[{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            ),
            ["headless", "ClusterIP", "None", "<none>", "53/UDP,53/TCP", "<unknown>", "<none>"],
        ),
    ],
    ids=["clusterip", "nodeport", "lb-pending", "lb-ingress-and-external", "externalname", "headless"],
)
def test_service_cells(svc: dict[str, Any], expected: list[Any]) -> None:
    assert cells("Service", svc) == expected


# --- Endpoints and EndpointSlices ----------------------------------------------------------


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        ([], "<none>"),
        (
            [{"addresses": [{"ip": "10.0.0.5"}, {"ip": "10.0.0.6"}], "ports": [{"port": 8080}]}],
            "10.0.0.5:8080,10.0.0.6:8080",
        ),
        (
            [{"addresses": [{"ip": "1.2.3.4"}, {"ip": "5.6.7.8"}], "ports": [{"port": 8000}, {"port": 8001}]}],
            "1.2.3.4:8000,5.6.7.8:8000,1.2.3.4:8001 + 1 more...",
        ),
        (
            [{"addresses": [{"ip": "10.0.0.5"}], "notReadyAddresses": [{"ip": "10.0.0.6"}], "ports": [{"port": 80}]}],
            "10.0.0.5:80",
        ),
        ([{"notReadyAddresses": [{"ip": "10.0.0.6"}], "ports": [{"port": 80}]}], ""),
        ([{"addresses": [{"ip": "10.0.0.5"}]}], "10.0.0.5"),
        ([{"addresses": [{"ip": "2001:db8::1"}], "ports": [{"port": 80}]}], "[2001:db8::1]:80"),
    ],
    ids=["empty", "two", "more", "not-ready-excluded", "only-not-ready", "no-ports", "ipv6"],
)
def test_endpoints_cells(subsets: list[Any], expected: str) -> None:
    obj = {"metadata": meta("web", creationTimestamp=ago(seconds=5)), "subsets": subsets}
    assert cells("Endpoints", obj) == ["web", expected, "5s"]


def slice_(name: str, ports: list[Any], addresses: list[list[str]]) -> dict[str, Any]:
    return {
        "metadata": meta(name, creationTimestamp=ago(seconds=300)),
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": [{"addresses": a} for a in addresses],
    }


def test_endpoint_slice_cells() -> None:
    # Upstream TestPrintEndpointSlice.
    two = slice_(
        "longerslicename.123",
        [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        [["10.1.2.3", "2001:db8::1234:5678"], ["10.2.3.4", "2001:db8::2345:6789"]],
    )
    assert cells("EndpointSlice", two) == [
        "longerslicename.123",
        "IPv4",
        "80,443",
        "10.1.2.3,2001:db8::1234:5678,10.2.3.4 + 1 more...",
        "5m",
    ]
    four_ports = slice_("multiportslice.123", [{"port": p} for p in (80, 443, 3000, 3001)], [["10.1.2.3"]])
    assert cells("EndpointSlice", four_ports)[2] == "80,443,3000 + 1 more..."
    placeholder = slice_("placeholder", [], [])
    assert cells("EndpointSlice", placeholder)[2:4] == ["<unset>", "<unset>"]
    named = slice_("named", [{"name": "http"}, {}], [["10.1.2.3"]])
    assert cells("EndpointSlice", named)[2] == "http,*"


# --- Pods (upstream TestPrintPod, TestPrintPodwide) ---------------------------------------


def pod(name: str, containers: int = 1, **status: Any) -> dict[str, Any]:
    spec = status.pop("spec", {})
    metadata = meta(name, **status.pop("metadata", {}))
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)], **spec},
        "status": status,
    }


RUNNING = {"running": {}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            pod(
                "test1",
                2,
                phase="podPhase",
                containerStatuses=[{"ready": True, "restartCount": 3, "state": RUNNING}, {"restartCount": 3}],
            ),
            ["test1", "1/2", "podPhase", "6"],
        ),
        (
            pod(
                "test2",
                2,
                phase="podPhase",
                containerStatuses=[
                    {"ready": True, "restartCount": 3, "state": RUNNING},
                    {"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}},
                ],
            ),
            ["test2", "1/2", "ContainerWaitingReason", "6"],
        ),
        (
            pod(
                "test3",
                2,
                phase="podPhase",
                containerStatuses=[
                    {"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}},
                    {"restartCount": 3, "state": {"terminated": {"reason": "ContainerTerminatedReason"}}},
                ],
            ),
            ["test3", "0/2", "ContainerWaitingReason", "6"],
        ),
        (
            pod(
                "test5",
                2,
                phase="podPhase",
                reason="podReason",
                containerStatuses=[
                    {"ready": True, "restartCount": 3, "state": RUNNING},
                    {"ready": True, "restartCount": 3},
                ],
            ),
            ["test5", "1/2", "podReason", "6"],
        ),
        (
            pod(
                "test6",
                2,
                phase="Running",
                containerStatuses=[
                    {"ready": True, "restartCount": 3, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
                    {"ready": True, "restartCount": 3, "state": RUNNING},
                ],
            ),
            ["test6", "1/2", "NotReady", "6"],
        ),
        (
            pod(
                "test7",
                1,
                phase="podPhase",
                spec={"initContainers": [{"name": "i"}]},
                initContainerStatuses=[
                    {
                        "name": "i",
                        "restartCount": 3,
                        "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(seconds=10)}},
                    }
                ],
                containerStatuses=[{"state": {"waiting": {}}}],
            ),
            ["test7", "0/1", "Init:0/1", "3 (10s ago)"],
        ),
        (
            pod(
                "test11",
                1,
                phase="Running",
                spec={"initContainers": [{"name": "i"}]},
                initContainerStatuses=[
                    {
                        "name": "i",
                        "restartCount": 2,
                        "state": {"terminated": {}},
                        "lastState": {"terminated": {"finishedAt": ago(minutes=2)}},
                    }
                ],
                containerStatuses=[
                    {"restartCount": 4, "state": RUNNING, "lastState": {"terminated": {"finishedAt": ago(seconds=20)}}}
                ],
            ),
            ["test11", "0/1", "Running", "4 (20s ago)"],
        ),
        (
            pod(
                "test14",
                2,
                phase="Running",
                containerStatuses=[
                    {
                        "ready": True,
                        "restartCount": 6,
                        "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(days=5)}},
                    },
                    {
                        "ready": True,
                        "restartCount": 3,
                        "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(days=20)}},
                    },
                ],
            ),
            ["test14", "2/2", "Running", "9 (5d ago)"],
        ),
        (
            pod(
                "test15",
                2,
                phase="podPhase",
                conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
            ),
            ["test15", "0/2", "SchedulingGated", "0"],
        ),
        (
            pod(
                "test18",
                1,
                phase="Succeeded",
                metadata={"deletionTimestamp": ago(seconds=10)},
                containerStatuses=[{"state": {"terminated": {"reason": "Completed"}}}],
            ),
            ["test18", "0/1", "Completed", "0"],
        ),
        (
            pod(
                "test19",
                1,
                phase="Running",
                metadata={"deletionTimestamp": ago(seconds=10)},
                containerStatuses=[{"state": RUNNING}],
            ),
            ["test19", "0/1", "Terminating", "0"],
        ),
        (
            pod("test20", 1, phase="Pending", metadata={"deletionTimestamp": ago(seconds=10)}),
            ["test20", "0/1", "Terminating", "0"],
        ),
        (
            pod(
                "sidecar",
                1,
                phase="Running",
                spec={
                    "initContainers": [
                        {"name": "s1", "restartPolicy": "Always"},
                        {"name": "s2", "restartPolicy": "Always"},
                    ]
                },
                conditions=[{"type": "Initialized", "status": "True"}],
                initContainerStatuses=[
                    {
                        "name": "s1",
                        "restartCount": 3,
                        "state": RUNNING,
                        "started": True,
                        "lastState": {"terminated": {"finishedAt": ago(seconds=10)}},
                    },
                    {"name": "s2", "state": RUNNING, "started": True},
                ],
                containerStatuses=[
                    {
                        "ready": True,
                        "restartCount": 4,
                        "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(seconds=20)}},
                    }
                ],
            ),
            ["sidecar", "1/3", "Running", "7 (10s ago)"],
        ),
        (
            pod(
                "exit", 1, phase="Failed", containerStatuses=[{"state": {"terminated": {"exitCode": 137, "signal": 9}}}]
            ),
            ["exit", "0/1", "Signal:9", "0"],
        ),
    ],
    ids=lambda v: v["metadata"]["name"] if isinstance(v, dict) else None,
)
def test_pod_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("Pod", obj)[:4] == expected


def test_pod_wide_cells_and_conditions() -> None:
    obj = pod(
        "test1",
        2,
        phase="podPhase",
        podIPs=[{"ip": "1.1.1.1"}, {"ip": "2001:db8::"}],
        nominatedNodeName="node1",
        conditions=[{"type": "condition1", "status": "False"}, {"type": "condition2", "status": "True"}],
        containerStatuses=[{"ready": True, "restartCount": 3, "state": RUNNING}, {"restartCount": 3}],
        spec={
            "nodeName": "test1",
            "readinessGates": [
                {"conditionType": "condition1"},
                {"conditionType": "condition2"},
                {"conditionType": "condition3"},
            ],
        },
        metadata={"creationTimestamp": ago(hours=3)},
    )
    assert cells("Pod", obj) == ["test1", "1/2", "podPhase", "6", "3h", "1.1.1.1", "test1", "node1", "1/3"]
    bare = pod("test2", 2, phase="podPhase")
    assert cells("Pod", bare)[5:] == ["<none>", "<none>", "<none>", "<none>"]

    failed = to_table("Pod", [pod("f", phase="Failed")], resource_version="1", now=NOW)
    assert failed["rows"][0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ]
    running = to_table("Pod", [pod("r", phase="Running")], resource_version="1", now=NOW)
    assert "conditions" not in running["rows"][0]


# --- Nodes, Namespaces, Leases, Events -------------------------------------------------------


def test_node_cells() -> None:
    node = {
        "metadata": {
            "name": "kind-control-plane",
            "creationTimestamp": ago(days=2, hours=3),
            "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/infra": "",
                "kubernetes.io/role": "master",
            },
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "kind"}, {"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {
                "kubeletVersion": "v1.31.0",
                "osImage": "Debian",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "",
            },
        },
    }
    assert cells("Node", node) == [
        "kind-control-plane",
        "Ready,SchedulingDisabled",
        "control-plane,infra,master",
        "2d3h",
        "v1.31.0",
        "172.18.0.2",
        "<none>",
        "Debian",
        "6.1.0",
        "<unknown>",
    ]
    bare = {"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert cells("Node", bare)[:3] == ["n", "NotReady", "<none>"]
    assert cells("Node", {"metadata": {"name": "n"}})[1] == "Unknown"


def test_namespace_and_lease_cells() -> None:
    ns = {
        "metadata": {"name": "kube-system", "creationTimestamp": ago(seconds=200)},
        "status": {"phase": "Terminating"},
    }
    assert cells("Namespace", ns) == ["kube-system", "Terminating", "3m20s"]
    lease = {
        "metadata": meta("svclab-node-1", creationTimestamp=ago(minutes=15)),
        "spec": {"holderIdentity": "svclab-node-1"},
    }
    assert cells("Lease", lease) == ["svclab-node-1", "svclab-node-1", "15m"]
    assert cells("Lease", {"metadata": meta("free"), "spec": {}})[1] == ""


def test_event_cells() -> None:
    event = {
        "metadata": meta("web.17a"),
        "involvedObject": {"kind": "Service", "name": "web", "fieldPath": ""},
        "reason": "FailedToUpdateEndpointSlices",
        "type": "Warning",
        "message": "  slice conflict\n",
        "count": 4,
        "firstTimestamp": ago(minutes=30),
        "lastTimestamp": ago(seconds=30),
        "source": {"component": "endpoint-slice-controller"},
    }
    assert cells("Event", event) == [
        "30s",
        "Warning",
        "FailedToUpdateEndpointSlices",
        "service/web",
        "",
        "endpoint-slice-controller",
        "slice conflict",
        "30m",
        4,
        "web.17a",
    ]
    # 59.88s ago: ages truncate to whole seconds, as Go's int(d.Seconds()) does.
    new_api = {
        "metadata": meta("n"),
        "involvedObject": {"kind": "Node"},
        "eventTime": "2026-11-26T11:59:00.123456Z",
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "type": "Normal",
        "reason": "Starting",
    }
    assert cells("Event", new_api) == ["59s", "Normal", "Starting", "node", "", "kubelet, node-1", "", "59s", 1, "n"]


# --- the Table envelope ------------------------------------------------------------------------


def test_table_envelope_and_object_modes() -> None:
    svc = service("web", type="ClusterIP", clusterIPs=["10.9.8.7"], ports=[])
    svc["metadata"]["labels"] = {"app": "web"}
    table = to_table("Service", [svc], resource_version="42", continue_token="abc", now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "abc"}
    assert table["columnDefinitions"] == column_definitions("Service")
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": svc["metadata"],
    }

    full = to_table("Service", [svc], resource_version="42", include_object="Object", now=NOW)
    assert full["metadata"] == {"resourceVersion": "42"}
    assert full["rows"][0]["object"]["kind"] == "Service"
    assert full["rows"][0]["object"]["apiVersion"] == "v1"
    assert full["rows"][0]["object"]["spec"] == svc["spec"]
    assert "kind" not in svc, "input must not be mutated"

    bare = to_table("Service", [svc], resource_version="42", include_object="None", no_headers=True, now=NOW)
    assert "object" not in bare["rows"][0] and bare["columnDefinitions"] == []
    with pytest.raises(ValueError):
        to_table("Service", [], resource_version="1", include_object="Everything")


def test_unknown_kind_uses_default_columns() -> None:
    table = to_table(
        "Widget", [{"metadata": {"name": "w", "creationTimestamp": ago(seconds=1)}}], resource_version="1", now=NOW
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["w", ago(seconds=1)]
