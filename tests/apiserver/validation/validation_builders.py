"""Builders of valid, defaulted objects for the validation tests, and upstream's long messages.

Each builder returns a fresh object that validates cleanly; a test case mutates
a copy. The message constants are upstream's strings (apimachinery
``util/validation``), written out once so cases stay short.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Mutation = Callable[[Obj], None]

DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
PORT_RANGE = "must be between 1 and 65535, inclusive"
BAD_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def meta(name: str, namespace: str | None = "ns1") -> Obj:
    out: Obj = {"name": name, "uid": "uid-1", "resourceVersion": "7", "creationTimestamp": "2024-05-01T10:00:00Z"}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def service(**spec: Any) -> Obj:
    """A defaulted, allocated ClusterIP Service with one TCP port 80."""
    base: Obj = {
        "type": "ClusterIP",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
    }
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("svc1"), "spec": base}


def node_port_service() -> Obj:
    svc = service(type="NodePort", externalTrafficPolicy="Cluster")
    svc["spec"]["ports"][0]["nodePort"] = 30080
    return svc


def endpoints() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta("svc1"),
        "subsets": [
            {
                "addresses": [{"ip": "10.244.1.5", "nodeName": "node-1", "hostname": "web-0"}],
                "notReadyAddresses": [{"ip": "10.244.2.7"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }


def endpoint_slice() -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            **meta("svc1-abcde"),
            "labels": {
                "kubernetes.io/service-name": "svc1",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.244.1.5"],
                "conditions": {"ready": True},
                "nodeName": "node-1",
                "zone": "zone-a",
                "hints": {"forZones": [{"name": "zone-a"}]},
            }
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def pod() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("web-0"),
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "registry.k8s.io/e2e-test-images/agnhost:2.47",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "readinessProbe": {
                        "httpGet": {"path": "/", "port": "http", "scheme": "HTTP"},
                        "periodSeconds": 1,
                        "timeoutSeconds": 1,
                        "successThreshold": 1,
                        "failureThreshold": 3,
                    },
                }
            ],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30,
            "hostname": "web-0",
            "subdomain": "svc1",
        },
    }


def node() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta("node-1", None),
        "spec": {
            "podCIDR": "10.244.1.0/24",
            "podCIDRs": ["10.244.1.0/24"],
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "node-1"}]
        },
    }


def namespace() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta("ns1", None),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def event() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta("web-0.17a2b3c4d5e6f7a8"),
        "involvedObject": {"kind": "Pod", "namespace": "ns1", "name": "web-0"},
        "reason": "Started",
        "message": "Started container web",
        "type": "Normal",
    }


def lease() -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta("node-1", "kube-node-lease"),
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
    }


def mutated(build: Callable[[], Obj], mutation: Mutation) -> Obj:
    obj = copy.deepcopy(build())
    mutation(obj)
    return obj


def rendered(errors: list[Any]) -> list[str]:
    """Errors as upstream prints each one: ``<field>: <message>``."""
    return [str(e) for e in errors]
