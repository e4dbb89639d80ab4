"""The load phase of one testbed: backends, a client pod, the targets, the sweep.

Topology (as the issue asks): the client pod runs on one worker, so traffic
passes that node's proxy; the backends (agnhost netexec, HTTP on 8080) run on
the other nodes; the NodePort target is another node's address. Extra dummy
Services for the sweep point at a backend, and a sweep step counts as
programmed once the newest dummy's ClusterIP answers from the client pod.

Two Services are measured by the connection probe (issue 17). ``web`` sorts
after the sweep's dummies: the reference iptables proxy writes
``KUBE-SERVICES`` in name order, so its rule is matched last, after every
extra Service's (the worst case). ``svclab-sweep-middle`` sorts in the middle
of them (``DummyServices.middle_name``): the typical place, since upstream
kube-proxy writes Services in Go map order, i.e. anywhere. At each step both
placements are read back from the client's node (``svclab.run.placement``)
and kept with their figures, since other implementations order the chain
differently and the hash-lookup modes have no position at all; the step's
create and programming seconds go with the worst-case figures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, Client, KubeConfig
from lightkube.resources.core_v1 import Namespace, Node, Pod, Service

from svclab.kube.models import from_dict, name_of
from svclab.load import (
    ClientPod,
    LoadResults,
    LoadRunner,
    Measurement,
    Profile,
    TargetKind,
    build_targets,
    figures_from_measurements,
    write_results,
)
from svclab.load.position import SweepFacts, describe_placement
from svclab.load.sweep import DummyServices, run_sweep
from svclab.run.cluster import RunCluster, wait_until
from svclab.run.placement import read_placements
from svclab.testbed.local import naming

__all__ = ["run_load"]

NAMESPACE = "svclab-load"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
BACKEND_LABEL = {"app": "svclab-load-backend"}
BACKENDS = 2
# after the dummies' "svclab-sweep-[az]-NNNNN" in name order (see the module docstring)
MEASURED_SERVICE = "web"
PROGRAM_TIMEOUT = 1800.0  # seconds for a step's Services to be programmed (30,000 in --profile full)
TYPICAL_SERVICE = "svclab-sweep-middle"  # DummyServices.middle_name: half the dummies sort before it


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
    typical = {"selector": BACKEND_LABEL, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}
    client.create(from_dict(Service, {"metadata": {"name": TYPICAL_SERVICE}, "spec": typical}), namespace=NAMESPACE)
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
    for name in (MEASURED_SERVICE, TYPICAL_SERVICE):
        vip = _cluster_ip(client.get(Service, name, namespace=NAMESPACE))
        wait_until(functools.partial(_answers, cluster, vip, 8080), 120, f"the ClusterIP of {name} to answer")
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


@dataclass(slots=True)
class _Steps:
    """The sweep's callbacks: wait until a step is programmed, time it, read the placements."""

    cluster: RunCluster
    client: Client
    mode: str
    client_node: str
    dummies: DummyServices
    measured: dict[TargetKind, tuple[str, int]]  # ClusterIP and port per probed target
    progress: Callable[[str], None]
    facts: SweepFacts = field(default_factory=SweepFacts)

    def note_placements(self, count: int) -> None:
        addresses = {kind.value: address for kind, address in self.measured.items()}
        found = read_placements(self.cluster, self.client_node, self.mode, addresses)
        for kind in self.measured:
            if kind.value in found:
                self.facts.placements[kind, count] = found[kind.value]
                self.progress(f"{kind.value} with {count} extra Services: {describe_placement(found[kind.value])}")

    async def wait_programmed(self, count: int) -> None:
        if count:
            newest = self.client.get(Service, self.dummies.name(count - 1), namespace=NAMESPACE)
            started = time.monotonic()
            await asyncio.to_thread(
                wait_until,
                functools.partial(_answers, self.cluster, _cluster_ip(newest), 80),
                PROGRAM_TIMEOUT,
                f"{count} extra Services to be programmed",
                1.0,
            )
            self.facts.program_s[count] = round(time.monotonic() - started, 1)
            self.progress(f"{count} extra Services programmed {self.facts.program_s[count]} s after their creates")
        await asyncio.to_thread(self.note_placements, count)

    def created(self, count: int, seconds: float) -> None:
        self.facts.create_s[count] = round(seconds, 1)
        self.progress(f"created Services up to {count} in {seconds:.1f} s")


def _measure(
    cluster: RunCluster, mode: str, profile: Profile, work_dir: Path, progress: Callable[[str], None]
) -> tuple[list[Any], SweepFacts]:
    """The sweep's measurements, and what it learnt of placements and step times."""
    assert cluster.kubeconfig is not None
    client = Client(KubeConfig.from_file(str(cluster.kubeconfig)))
    client_node, other_node, service = _deploy_and_wait(cluster, client)
    ips = _ready_pod_ips(client)
    typical = _cluster_ip(client.get(Service, TYPICAL_SERVICE, namespace=NAMESPACE))
    targets = build_targets(
        pod_ips=ips,
        cluster_ip=_cluster_ip(service),
        node_ip=_internal_ip(other_node),
        node_port=_node_port(service),
        typical_cluster_ip=typical,
    )
    runner = _runner(cluster, mode, work_dir, client_node)
    dummies = DummyServices(namespace=NAMESPACE, endpoint_ip=ips[0])
    assert dummies.middle_name == TYPICAL_SERVICE
    measured = {TargetKind.CLUSTER_IP: (_cluster_ip(service), 8080), TargetKind.CLUSTER_IP_TYPICAL: (typical, 8080)}
    steps = _Steps(cluster, client, mode, client_node, dummies, measured, progress)

    async def sweep() -> list[Any]:
        api = AsyncClient(KubeConfig.from_file(str(cluster.kubeconfig)))
        try:
            return await run_sweep(
                client=api,
                spec=dummies,
                counts=profile.sweep_counts,
                wait_programmed=steps.wait_programmed,
                measure=lambda count: runner.measure_all(targets, profile, services=count, progress=progress),
                progress=progress,
                cleanup=False,  # the namespace goes
                on_created=steps.created,
            )
        finally:
            await api.close()

    try:
        return asyncio.run(sweep()), steps.facts
    finally:
        client.delete(Namespace, NAMESPACE)
        client.close()


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
    measured, facts = _measure(cluster, mode, profile, work_dir, progress)
    measurements = [_collect_html(m, mode, testbed, results_dir) for m in measured]
    figures = tuple(facts.annotate(f) for f in figures_from_measurements(measurements))
    results = LoadResults(testbed, profile.name, started, figures)
    write_results(results, results_dir)
    return results
