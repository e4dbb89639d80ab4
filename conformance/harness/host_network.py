"""hostNetwork pods: clients and netexec backends that use their node's network.

A ``hostNetwork: true`` pod has no network namespace of its own: it shares its
node's addresses, ports and routes (on the local provider the node agent runs
it in the node's namespace). Its pod IP is the node's, and netexec's
``/hostname`` and UDP ``hostname`` answer with the node's name, as upstream's
tests expect ("the expected hostname is the node name because the backend pod
is on host network"). Backends listen on ports chosen per test, away from the
ports the node's own components use, since two hostNetwork pods on one node
cannot both bind one port.
"""

from __future__ import annotations

from lightkube import Client
from lightkube.models.core_v1 import Container, ContainerPort, HTTPGetAction, PodSpec, Probe, Toleration
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from harness.traffic import AGNHOST, wait_ready

__all__ = ["create_host_backend", "create_host_client", "host_backend_pod", "host_client_pod"]


def host_client_pod(name: str, namespace: str, node: str) -> Pod:
    """An agnhost pause pod with ``hostNetwork: true`` on ``node``."""
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=PodSpec(
            containers=[Container(name="pause", image=AGNHOST, args=["pause"])],
            hostNetwork=True,
            terminationGracePeriodSeconds=1,
            tolerations=[Toleration(operator="Exists")],
            nodeSelector={"kubernetes.io/hostname": node},
        ),
    )


def host_backend_pod(
    name: str, namespace: str, node: str, *, labels: dict[str, str], http_port: int, udp_port: int
) -> Pod:
    """An agnhost netexec pod with ``hostNetwork: true`` on ``node``, HTTP on ``http_port``
    and UDP on ``udp_port`` (-1: none), Ready once its HTTP port answers."""
    container = Container(
        name="netexec",
        image=AGNHOST,
        args=["netexec", f"--http-port={http_port}", f"--udp-port={udp_port}"],
        ports=[ContainerPort(containerPort=http_port, protocol="TCP")]
        + ([ContainerPort(containerPort=udp_port, protocol="UDP")] if udp_port > 0 else []),
        readinessProbe=Probe(httpGet=HTTPGetAction(path="/healthz", port=http_port), periodSeconds=1),
    )
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(labels)),
        spec=PodSpec(
            containers=[container],
            hostNetwork=True,
            terminationGracePeriodSeconds=1,
            nodeSelector={"kubernetes.io/hostname": node},
        ),
    )


def create_host_client(client: Client, namespace: str, node: str, name: str) -> str:
    """Create a hostNetwork client pod on ``node`` and wait until it runs."""
    client.create(host_client_pod(name, namespace, node))
    wait_ready(client, namespace, [name])
    return name


def create_host_backend(
    client: Client, namespace: str, node: str, name: str, *, labels: dict[str, str], http_port: int, udp_port: int = -1
) -> str:
    """Create a hostNetwork netexec pod (see ``host_backend_pod``); does not wait."""
    client.create(host_backend_pod(name, namespace, node, labels=labels, http_port=http_port, udp_port=udp_port))
    return name
