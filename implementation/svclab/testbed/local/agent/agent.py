"""The node agent's main loop: register, heartbeat, and one worker per bound pod.

The agent watches pods with ``fieldSelector=spec.nodeName=<node>`` through an
informer. A pod it has not seen gets a :class:`PodWorker`; a newer version is
handed to its worker (which starts graceful termination on a
``deletionTimestamp``); a pod that vanished from the API without going through
the agent (force deletion) has its processes killed and its sandbox removed.

Mirror pods (:mod:`.mirror`) of the components the node hosts are kept in
``kube-system`` and never run here.

The agent also serves its pods' logs and exec to the API server
(:mod:`.server`, on ``<state-dir>/kubelet.sock``).

Restart adoption: sandboxes recorded under ``<state-dir>/pods`` by a previous
run are matched by UID against the first pod list. A pod still bound here keeps
its sandbox and IP, and each container process still running is followed as it
is (same PID, start time, readiness, restartCount), as kubelet finds its
containers again after a restart; a container whose process died meanwhile is
started afresh (restartCount + 1). A record whose pod is gone is torn down.
The recorded addresses are reserved before any pod worker starts, so a pod
created meanwhile never gets the address of one about to be adopted.
Terminal pods (``Succeeded``/``Failed``) without a record are left alone.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lightkube.resources.core_v1 import Pod

from svclab.kube import RECONNECT_BACKOFF, FuncHandler, Informer, ReflectorOptions

from .containers import ContainerRunner
from .ipam import PodIPAllocator
from .mirror import MirrorPods, is_mirror_pod
from .node import Heartbeat, NodeOptions, register_node
from .podworker import AgentContext, PodWorker
from .sandbox import Sandbox, destroy_sandbox, load_sandboxes
from .server import SOCKET_NAME, StreamingServer

__all__ = ["NodeAgent"]

log = logging.getLogger(__name__)
TERMINAL_PHASES = ("Succeeded", "Failed")


class NodeAgent:
    """kubelet's role for one node of a local cluster."""

    def __init__(
        self,
        client: Any,
        *,
        cluster: str,
        node: NodeOptions,
        state_dir: Path,
        mirror_pods: MirrorPods | None = None,
    ) -> None:
        self._client = client
        self._node = node
        self._mirror_pods = mirror_pods
        state_dir.mkdir(parents=True, exist_ok=True)
        self._context = AgentContext(
            client=client,
            cluster=cluster,
            node_name=node.name,
            node_ip=node.node_ips[0],
            node_ips=node.node_ips,
            node_netns=node.netns,
            state_dir=state_dir,
            allocator=PodIPAllocator(node.pod_cidrs),
        )
        self._state_dir = state_dir
        self._server = StreamingServer(self)
        self._workers: dict[str, PodWorker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._leftovers: dict[str, Sandbox] = {s.uid: s for s in load_sandboxes(state_dir)}
        self._reserve_leftover_addresses()
        self.informer: Informer[Pod] = Informer(
            client, Pod, ReflectorOptions(field_selector=f"spec.nodeName={node.name}", backoff=RECONNECT_BACKOFF)
        )

    async def run(self) -> None:
        """Register the node, then serve its pods until cancelled."""
        await register_node(self._client, self._node)
        try:
            await self._server.start(self._state_dir / SOCKET_NAME)
        except OSError as exc:  # pods still run; only logs/exec/port-forward through the API are lost
            log.error("cannot serve logs and exec on %s: %s", self._state_dir / SOCKET_NAME, exc)
        heartbeat = asyncio.ensure_future(Heartbeat(self._client, self._node).run())
        if self._mirror_pods is not None:
            self._spawn(self._mirror_pods.run())
        self.informer.add_handler(
            FuncHandler(
                on_add=self._on_pod, on_update=lambda _old, new: self._on_pod(new), on_delete=self._on_pod_deleted
            )
        )
        informer = asyncio.ensure_future(self.informer.run())
        try:
            await self.informer.wait_synced()
            await self._clean_leftovers()
            await asyncio.gather(heartbeat, informer)
        finally:
            heartbeat.cancel()
            informer.cancel()
            await self._server.stop()

    def _reserve_leftover_addresses(self) -> None:
        # Before any pod worker runs: a new pod's sandbox is built on a thread and could
        # otherwise take the address of a running pod that is adopted a moment later.
        for uid, sandbox in self._leftovers.items():
            if sandbox.host_network:
                continue  # it has the node's address, not one of the pod CIDR
            try:
                self._context.allocator.reserve(uid, sandbox.ips)
            except ValueError as exc:  # a record that does not fit this node's CIDR
                log.warning("leftover sandbox pod=%s/%s: %s", sandbox.namespace, sandbox.name, exc)

    def container(self, namespace: str, pod: str, container: str) -> ContainerRunner | None:
        """A container of a pod this agent runs (the streaming server's lookup)."""
        for worker in self._workers.values():
            meta = worker.pod["metadata"]
            if meta.get("namespace") == namespace and meta.get("name") == pod:
                return worker.container(container)
        return None

    def sandbox(self, namespace: str, pod: str) -> Sandbox | None:
        """The sandbox of a pod this agent runs, once it is up (port-forward's lookup)."""
        for worker in self._workers.values():
            meta = worker.pod["metadata"]
            if meta.get("namespace") == namespace and meta.get("name") == pod:
                return worker.sandbox
        return None

    def _on_pod(self, pod: Pod) -> None:
        data = pod.to_dict()
        if is_mirror_pod(data):
            return  # the supervisor runs that process; MirrorPods only publishes it
        uid = data["metadata"]["uid"]
        worker = self._workers.get(uid)
        if worker is not None:
            worker.update(data)
            return
        adopted = self._leftovers.pop(uid, None)
        if adopted is None and (data.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return
        worker = PodWorker(data, self._context, adopted=adopted)
        self._workers[uid] = worker
        self._spawn(self._run_worker(worker))

    def _on_pod_deleted(self, pod: Pod) -> None:
        uid = pod.to_dict()["metadata"]["uid"]
        worker = self._workers.get(uid)
        if worker is not None:
            worker.force_stop()

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        except Exception:
            log.exception("pod worker failed pod=%s", worker.key)
        finally:
            self._workers.pop(worker.uid, None)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _clean_leftovers(self) -> None:
        """Tear down sandboxes of a previous run whose pods are no longer ours."""
        for uid, sandbox in list(self._leftovers.items()):
            if uid not in self._workers:
                log.info("removing leftover sandbox pod=%s/%s", sandbox.namespace, sandbox.name)
                await asyncio.to_thread(destroy_sandbox, sandbox)
                self._context.allocator.release(uid)
                del self._leftovers[uid]

    async def shutdown(self) -> None:
        """Agent stop: leave pods running (kubelet does), just stop watching."""
        for task in list(self._tasks):
            task.cancel()
