"""NodePort allocation: collisions, the valid range, release on delete.

Upstream e2e tests in test/e2e/network/service.go: "should prevent NodePort
collisions" (a second Service asking for a taken nodePort is rejected with
"<port>...port is already allocated", and gets it once the first is deleted),
"should check NodePort out-of-range" (rejected on update and on create with
"<port>...port is not in the valid range") and "should release NodePorts on
delete" (nothing listens on the port any more, a new Service can take it).
The range is the API server's default ``--service-node-port-range``
(30000-32767); a cluster tested as it is with another range skips the
out-of-range test when its allocations fall outside the default.
"""

from __future__ import annotations

import re

import pytest
from lightkube import ApiError, Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.traffic import HTTP_PORT, create_service, service
from harness.waiting import wait_for

pytestmark = [pytest.mark.services, pytest.mark.breadth]

NODE_PORT_RANGE = range(30000, 32768)
OUT_OF_RANGE = 29999  # just below the default range


def _web(node_port: int | None = None) -> list[ServicePort]:
    return [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP", nodePort=node_port)]


def _node_port_service(client: Client, name: str, namespace: str, node_port: int | None = None) -> int:
    created = create_service(client, name, namespace, ports=_web(node_port), selector={"app": name}, type="NodePort")
    assert created.node_ports[0] in NODE_PORT_RANGE, created
    return created.node_ports[0]


def _rejected(attempt: object, pattern: str) -> None:
    """``attempt`` is an ApiError; its message must match ``pattern``."""
    assert isinstance(attempt, ApiError), attempt
    message = attempt.status.message or ""
    assert re.search(pattern, message), message


def _error_of(call: object) -> ApiError | None:
    try:
        call()  # type: ignore[operator]
    except ApiError as exc:
        return exc
    return None


def test_node_port_collisions_are_rejected(client: Client, namespace: str) -> None:
    port = _node_port_service(client, "nodeport-collision-1", namespace)

    second = service("nodeport-collision-2", namespace, ports=_web(port), selector={"app": "x"}, type="NodePort")
    _rejected(_error_of(lambda: client.create(second)), rf"{port}.*port is already allocated")

    client.delete(Service, "nodeport-collision-1", namespace=namespace)
    wait_for(lambda: client.create(second), what=f"nodePort {port} free again after the delete")


def test_node_port_out_of_range_is_rejected_on_update_and_create(client: Client, namespace: str) -> None:
    _node_port_service(client, "nodeport-range-test", namespace)
    body = client.get(Service, "nodeport-range-test", namespace=namespace).to_dict()
    body["spec"]["ports"][0]["nodePort"] = OUT_OF_RANGE
    expected = rf"{OUT_OF_RANGE}.*port is not in the valid range"
    _rejected(_error_of(lambda: client.replace(Service.from_dict(body))), expected)
    kept = client.get(Service, "nodeport-range-test", namespace=namespace).to_dict()["spec"]["ports"][0]["nodePort"]
    assert kept in NODE_PORT_RANGE and kept != OUT_OF_RANGE

    client.delete(Service, "nodeport-range-test", namespace=namespace)
    again = service("nodeport-range-test", namespace, ports=_web(OUT_OF_RANGE), selector={"app": "x"}, type="NodePort")
    _rejected(_error_of(lambda: client.create(again)), expected)


def test_node_port_released_on_delete(client: Client, namespace: str) -> None:
    port = _node_port_service(client, "nodeport-reuse", namespace)
    client.delete(Service, "nodeport-reuse", namespace=namespace)
    wait_for(
        lambda: _node_port_service(client, "nodeport-reuse", namespace, port) == port, what=f"nodePort {port} reused"
    )


@pytest.mark.needs_proxy
def test_nothing_listens_on_a_deleted_services_node_port(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    """Upstream's check of the release: no socket listens on the port on any node
    (a proxy that opens node ports, like userspace, must close them)."""
    port = _node_port_service(client, "nodeport-listen", namespace)
    client.delete(Service, "nodeport-listen", namespace=namespace)

    def listening(node: str) -> list[str]:
        result = cluster.exec_on_node(node, ["ss", "-Htuln", f"sport = :{port}"]).check()
        return [line for line in result.stdout.splitlines() if line.strip()]

    for node in cluster.nodes:
        wait_for(lambda node=node: listening(node.name) == [], what=f"nothing listening on {node.name}:{port}")
