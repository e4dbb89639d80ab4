"""The load phase of one testbed: backends, a client pod, the targets, the sweep.

Topology (as the issue asks): the client pod runs on one worker, so traffic
passes that node's proxy; the backends (agnhost netexec, HTTP on 8080) run on
the other nodes; the NodePort target is another node's address. Extra dummy
Services for the sweep point at a backend, and a sweep step counts as
programmed once the newest dummy's ClusterIP answers from the client pod.

The measured Service is named so that it sorts after the sweep's dummies: the
reference iptables proxy writes ``KUBE-SERVICES`` in name order, so its rule is
matched last, after every extra Service's (the worst case, issue 17). In
iptables mode the rule's position is read back from the client's node at each
step and kept with the ClusterIP's figures (``rule_position`` of
``rules_in_chain``), since other implementations order the chain differently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, Client, KubeConfig
from lightkube.resources.core_v1 import Namespace, Node, Pod, Service

from svclab.kube.models import from_dict, name_of
from svclab.load import (
    ClientPod,
    Figure,
    LoadResults,
    LoadRunner,
    Measurement,
    Profile,
    TargetKind,
    build_targets,
    figures_from_measurements,
    write_results,
)
from svclab.load.sweep import DummyServices, run_sweep
from svclab.run.cluster import RunCluster, wait_until
from svclab.testbed.local import naming

__all__ = ["run_load"]

NAMESPACE = "svclab-load"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
BACKEND_LABEL = {"app": "svclab-load-backend"}
BACKENDS = 2
# after the dummies' "svclab-sweep-NNNNN" in name order (see the module docstring)
MEASURED_SERVICE = "web"


def _schedulable(node: Node) -> bool:
    taints = (node.spec.taints if node.spec else None) or []
    return not any(t.effect == "NoSchedule" for t in taints)


def _internal_ip(node: Node) -> str:
    addresses = (node.status.addresses if node.status else None) or []
    return next(a.address for a in addresses if a.type == "InternalIP")


def _cluster_ip(service: Service) -> str:
    return (service.spec.clusterIP if service.spec else None) or ""


def _pod(name: str, node: str, args: list[str], labels: dict[str, str] | None = None, probe: bool = False) -> Pod:
    container: dict[str, Any] = {"name": "main", "image": AGNHOST, "args": args}
    if probe:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    return from_dict(
        Pod,
        {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [container]},
        },
    )


def _deploy(client: Client, client_node: str, backend_nodes: list[str]) -> Service:
    client.create(from_dict(Namespace, {"metadata": {"name": NAMESPACE}}))
    for i in range(BACKENDS):
        client.create(
            _pod(
                f"backend-{i}",
                backend_nodes[i % len(backend_nodes)],
                ["netexec", "--http-port=8080"],
                BACKEND_LABEL,
                probe=True,
            ),
            namespace=NAMESPACE,
        )
    client.create(_pod("load-client", client_node, ["pause"]), namespace=NAMESPACE)
    return client.create(
        from_dict(
            Service,
            {
                "metadata": {"name": MEASURED_SERVICE},
                "spec": {
                    "type": "NodePort",
                    "selector": BACKEND_LABEL,
                    "ports": [{"name": "http", "port": 8080, "targetPort": 8080}],
                },
            },
        ),
        namespace=NAMESPACE,
    )


def _phase(pod: Pod) -> str:
    return (pod.status.phase if pod.status else None) or ""


def _node_port(service: Service) -> int:
    ports = (service.spec.ports if service.spec else None) or []
    if not ports or ports[0].nodePort is None:
        raise RuntimeError(f"Service {name_of(service)} got no NodePort")
    return ports[0].nodePort


def _ready_pod_ips(client: Client) -> list[str]:
    ips = []
    for pod in client.list(Pod, namespace=NAMESPACE, labels=dict(BACKEND_LABEL)):
        status = pod.status
        conditions = (status.conditions if status else None) or []
        if status and status.podIP and any(c.type == "Ready" and c.status == "True" for c in conditions):
            ips.append(status.podIP)
    return sorted(ips)


def _answers(cluster: RunCluster, ip: str, port: int) -> bool:
    probe = (
        "import socket,sys\n"
        f"s=socket.create_connection(('{ip}',{port}),1)\n"
        "s.sendall(b'GET /hostname HTTP/1.0\\r\\n\\r\\n'); sys.exit(0 if s.recv(1) else 1)"
    )
    import sys

    done = cluster.exec_in_pod(NAMESPACE, "load-client", [sys.executable, "-c", probe])
    return done.returncode == 0


def _deploy_and_wait(cluster: RunCluster, client: Client) -> tuple[str, Any, Any]:
    """Deploy the client and backends, wait until the ClusterIP answers: the client's
    node, the first other node and the Service."""
    nodes = list(client.list(Node))
    workers = sorted(name_of(n) for n in nodes if _schedulable(n))
    client_node = workers[0]
    others = [n for n in sorted(nodes, key=name_of) if name_of(n) != client_node]
    service = _deploy(client, client_node, [name_of(n) for n in others])
    wait_until(lambda: len(_ready_pod_ips(client)) == BACKENDS, 120, "backends Ready")
    wait_until(lambda: _phase(client.get(Pod, "load-client", namespace=NAMESPACE)) == "Running", 120, "the client pod")
    vip = _cluster_ip(service)
    wait_until(lambda: _answers(cluster, vip, 8080), 120, "the ClusterIP to answer")
    return client_node, others[0], service


def _runner(cluster: RunCluster, mode: str, work_dir: Path, client_node: str) -> LoadRunner:
    return LoadRunner(
        mode=mode,
        client=ClientPod(NAMESPACE, "load-client"),
        exec_in_pod=cluster.exec_in_pod,
        work_dir=work_dir,
        # the worker reads /proc/<pid>/stat per slice (None: the proxy runs in UML)
        proxy_pid=cluster.proxy_pid(client_node),
    )


def _measure(
    cluster: RunCluster, mode: str, profile: Profile, work_dir: Path, progress: Callable[[str], None]
) -> tuple[list[Any], dict[int, tuple[int, int]]]:
    """The sweep's measurements, and in iptables mode the ClusterIP rule's position per count."""
    assert cluster.kubeconfig is not None
    client = Client(KubeConfig.from_file(str(cluster.kubeconfig)))
    client_node, other_node, service = _deploy_and_wait(cluster, client)
    ips = _ready_pod_ips(client)
    targets = build_targets(
        pod_ips=ips, cluster_ip=_cluster_ip(service), node_ip=_internal_ip(other_node), node_port=_node_port(service)
    )
    runner = _runner(cluster, mode, work_dir, client_node)
    dummies = DummyServices(namespace=NAMESPACE, endpoint_ip=ips[0])
    positions: dict[int, tuple[int, int]] = {}

    def note_position(count: int) -> None:
        if mode == "iptables":
            found = _rule_position(cluster, client_node, _cluster_ip(service))
            if found:
                positions[count] = found
                progress(f"the ClusterIP's rule is number {found[0]} of {found[1]} in KUBE-SERVICES")

    async def wait_programmed(count: int) -> None:
        if count == 0:
            await asyncio.to_thread(note_position, count)
            return
        newest = client.get(Service, dummies.name(count - 1), namespace=NAMESPACE)
        started = time.monotonic()
        await asyncio.to_thread(
            wait_until,
            lambda: _answers(cluster, _cluster_ip(newest), 80),
            900,
            f"{count} extra Services to be programmed",
            1.0,
        )
        progress(f"{count} extra Services programmed in {time.monotonic() - started:.1f} s")
        await asyncio.to_thread(note_position, count)

    async def sweep() -> list[Any]:
        api = AsyncClient(KubeConfig.from_file(str(cluster.kubeconfig)))
        try:
            return await run_sweep(
                client=api,
                spec=dummies,
                counts=profile.sweep_counts,
                wait_programmed=wait_programmed,
                measure=lambda count: runner.measure_all(targets, profile, services=count, progress=progress),
                progress=progress,
                cleanup=False,
            )  # the namespace goes
        finally:
            await api.close()

    try:
        return asyncio.run(sweep()), positions
    finally:
        client.delete(Namespace, NAMESPACE)
        client.close()


def _rule_position(cluster: RunCluster, node: str, cluster_ip: str) -> tuple[int, int] | None:
    """Where the ClusterIP's rule stands in the node's KUBE-SERVICES (None: not readable there)."""
    from svclab.proxy.iptables.dump import dispatch_position

    if cluster.handle is None:
        return None
    dump = cluster.handle.exec_on_node(node, ["iptables-save", "-t", "nat"], timeout=60)
    return dispatch_position(dump.stdout, cluster_ip, 8080) if dump.rc == 0 else None


def _with_position(figure: Figure, positions: dict[int, tuple[int, int]]) -> Figure:
    found = positions.get(figure.services)
    if figure.target is not TargetKind.CLUSTER_IP or found is None:
        return figure
    return dataclasses.replace(figure, rule_position=found[0], rules_in_chain=found[1])


def _collect_html(measurement: Measurement, mode: str, testbed: str, results_dir: Path) -> Measurement:
    """Copy locust's own report beside ours; the figure then names it relative to the report.

    One report covers a whole run (``locust-<testbed>-<scenario>-<count>.html``,
    a row per target), so every target of the run links the same file.
    """
    source = measurement.stats.html_report
    if not source or not Path(source).is_file():
        return measurement
    name = Path(source).name.replace(f"locust-{mode}-", f"locust-{testbed}-", 1)
    shutil.copyfile(source, results_dir / name)  # again per target: cheap, and never stale
    return dataclasses.replace(measurement, stats=dataclasses.replace(measurement.stats, html_report=name))


def run_load(
    cluster: RunCluster, testbed: str, mode: str, profile: Profile, results_dir: Path, progress: Callable[[str], None]
) -> LoadResults:
    """Measure one testbed; writes load-<testbed>.json/.csv and locust's reports."""
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The load generator writes where the cluster can: its state directory is
    # shared with a User-Mode Linux guest as well.
    work_dir = naming.state_dir(cluster.name) / "load"
    work_dir.mkdir(parents=True, exist_ok=True)
    measured, positions = _measure(cluster, mode, profile, work_dir, progress)
    measurements = [_collect_html(m, mode, testbed, results_dir) for m in measured]
    figures = tuple(_with_position(f, positions) for f in figures_from_measurements(measurements))
    results = LoadResults(testbed, profile.name, started, figures)
    write_results(results, results_dir)
    return results
