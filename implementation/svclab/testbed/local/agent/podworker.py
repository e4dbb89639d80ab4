"""One pod's life on the node: sandbox, containers, probes, status, graceful deletion.

A :class:`PodWorker` is kubelet's pod worker for one pod UID. ``run()`` builds
(or adopts) the sandbox, starts one :class:`ContainerRunner` per container and a
probe task per readiness/liveness probe, and writes the pod's status (coalesced:
at most one write in flight, skipped when nothing changed). When the pod gets a
``deletionTimestamp``, :meth:`PodWorker.terminate` sends SIGTERM, waits up to
the grace period, sends SIGKILL, writes the final status, tears the sandbox
down, releases the IP and deletes the pod from the API with grace period 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lightkube import ApiError
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from .containers import Adoption, ContainerRunner, container_argv, container_env, rfc3339
from .ipam import PodIPAllocator
from .probes import ProbeKind, ProbeSettings, ProbeTracker, run_probe
from .sandbox import Sandbox, create_host_sandbox, create_sandbox, destroy_sandbox, kill_if_ours
from .status import ContainerView, RunState, SandboxFacts, pod_status

__all__ = ["AgentContext", "PodWorker"]

log = logging.getLogger(__name__)
DEFAULT_GRACE_SECONDS = 30
SANDBOX_RETRY_FIRST, SANDBOX_RETRY_MAX = 1.0, 30.0  # seconds between sandbox attempts


@dataclass(frozen=True, slots=True)
class AgentContext:
    client: Any
    cluster: str
    node_name: str
    node_ip: str
    state_dir: Path
    allocator: PodIPAllocator
    node_netns: str = ""  # where hostNetwork pods run ("" unknown: they cannot)
    node_ips: tuple[str, ...] = ()  # status.hostIPs, primary first; () means (node_ip,)

    @property
    def host_ips(self) -> tuple[str, ...]:
        return self.node_ips or (self.node_ip,)


class PodWorker:
    """Drives one pod; create with the pod dict, then ``run()`` as a task."""

    def __init__(self, pod: Mapping[str, Any], context: AgentContext, adopted: Sandbox | None = None) -> None:
        self.pod = dict(pod)
        self.uid = str(pod["metadata"]["uid"])
        self._ctx = context
        self._sandbox: Sandbox | None = None
        self._adopted = adopted
        self._runners: list[ContainerRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty = asyncio.Event()
        self._last_written: dict[str, Any] | None = None
        # Kept across an agent restart, as the pod's start did not change.
        self._start_time = (pod.get("status") or {}).get("startTime") or rfc3339(time.time())
        self._terminating: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()  # deletion seen: stop retrying the sandbox
        self._sandbox_settled = asyncio.Event()  # creation finished or given up
        self.done = asyncio.Event()

    @property
    def key(self) -> str:
        meta = self.pod["metadata"]
        return f"{meta.get('namespace')}/{meta.get('name')}"

    @property
    def sandbox(self) -> Sandbox | None:
        """The pod's sandbox, once built (None before and after)."""
        return self._sandbox

    def container(self, name: str) -> ContainerRunner | None:
        """The runner of container ``name``, once the sandbox is up (None before)."""
        return next((r for r in self._runners if r.name == name), None)

    def update(self, pod: Mapping[str, Any]) -> None:
        """A newer version of the pod arrived from the watch."""
        self.pod = dict(pod)
        if self.pod["metadata"].get("deletionTimestamp") and self._terminating is None:
            self._stop_requested.set()
            self._terminating = _logged(asyncio.ensure_future(self.terminate(delete_from_api=True)), self.key)

    def force_stop(self) -> None:
        """The pod vanished from the API without our final delete (force deletion): kill now."""
        if self._terminating is None:
            self._stop_requested.set()
            self._terminating = _logged(asyncio.ensure_future(self.terminate(delete_from_api=False, grace=0)), self.key)

    async def run(self) -> None:
        writer = asyncio.ensure_future(self._status_writer())
        try:
            if self.pod["metadata"].get("deletionTimestamp"):
                self.update(self.pod)
                return
            self._sandbox = await self._create_sandbox()
            if self._sandbox is not None and not self._stop_requested.is_set():
                self._start_containers()
        finally:
            self._sandbox_settled.set()
            self._dirty.set()
            await self.done.wait()
            writer.cancel()

    async def _create_sandbox(self) -> Sandbox | None:
        """Build the sandbox, retrying with backoff as kubelet does after FailedCreatePodSandBox;
        None when the pod is deleted first."""
        delay = SANDBOX_RETRY_FIRST
        while not self._stop_requested.is_set():
            try:
                return await asyncio.to_thread(self._ensure_sandbox)
            except Exception as exc:
                log.error("pod sandbox failed, retrying in %.0f s pod=%s error=%s", delay, self.key, exc)
            try:
                await asyncio.wait_for(self._stop_requested.wait(), delay)
            except TimeoutError:
                delay = min(delay * 2, SANDBOX_RETRY_MAX)
        return None

    def _ensure_sandbox(self) -> Sandbox:
        meta, spec = self.pod["metadata"], self.pod.get("spec") or {}
        adopted = self._adopted
        if adopted is not None:
            holder_alive = kill_if_ours(adopted.holder_pid, adopted.holder_ticks, 0)
            # Containers still running in a live sandbox are followed, not restarted (kubelet
            # finds its containers again after a restart); anything else goes.
            alive = {
                name: entry
                for name, entry in adopted.containers.items()
                if holder_alive and kill_if_ours(entry[0], entry[1], 0)
            }
            for name, (pid, ticks) in adopted.containers.items():
                if name not in alive:
                    kill_if_ours(pid, ticks)
            adopted.containers.clear()
            adopted.containers.update(alive)
            if holder_alive:
                if not adopted.host_network:
                    self._ctx.allocator.reserve(self.uid, adopted.ips)
                return adopted
            destroy_sandbox(adopted)
        if spec.get("hostNetwork"):
            return self._host_sandbox(meta)
        ips = self._ctx.allocator.allocate(self.uid)
        try:
            return create_sandbox(
                cluster=self._ctx.cluster,
                uid=self.uid,
                namespace=meta["namespace"],
                name=meta["name"],
                hostname=spec.get("hostname") or meta["name"],
                ips=ips,
                networks=self._ctx.allocator.networks,
                state_dir=self._ctx.state_dir,
            )
        except BaseException:
            self._ctx.allocator.release(self.uid)
            raise

    def _host_sandbox(self, meta: Mapping[str, Any]) -> Sandbox:
        """A hostNetwork pod: the node's own network namespace and address, no veth
        (kubelet gives such a pod the node's network and hostname)."""
        if not self._ctx.node_netns:
            raise RuntimeError("hostNetwork pod: this agent was not told its node's network namespace (--netns)")
        return create_host_sandbox(
            uid=self.uid,
            namespace=meta["namespace"],
            name=meta["name"],
            node_netns=self._ctx.node_netns,
            node_name=self._ctx.node_name,
            node_ips=self._ctx.host_ips,
            state_dir=self._ctx.state_dir,
        )

    def _start_containers(self) -> None:
        assert self._sandbox is not None
        previous = {s.get("name"): s for s in (self.pod.get("status") or {}).get("containerStatuses") or []}
        for container in (self.pod.get("spec") or {}).get("containers") or []:
            env = container_env(container, self.pod, self._sandbox.ips, self._ctx.host_ips)
            old = previous.get(container["name"])
            adoption = _adoption(old, self._sandbox.containers.get(container["name"]))
            restarts = int(old.get("restartCount", 0)) if old else 0
            if old and self._adopted is not None and adoption is None:
                restarts += 1  # it died with the old agent, or its status was not the process's
            runner = ContainerRunner(
                container,
                self.pod,
                self._sandbox,
                container_argv(container, env),
                env,
                self._dirty.set,
                restart_count=restarts,
                adoption=adoption,
            )
            self._runners.append(runner)
            self._tasks.append(asyncio.ensure_future(runner.run()))
            for kind, field in ((ProbeKind.READINESS, "readinessProbe"), (ProbeKind.LIVENESS, "livenessProbe")):
                if container.get(field):
                    self._tasks.append(asyncio.ensure_future(self._probe_loop(runner, kind, container[field])))

    async def _probe_loop(self, runner: ContainerRunner, kind: ProbeKind, probe: Mapping[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        settings = ProbeSettings.from_spec(probe)
        while True:
            if runner.view.state is not RunState.RUNNING:
                await runner.wait_changed()
                continue
            generation = runner.generation
            tracker = ProbeTracker(kind, settings, loop.time())
            while runner.generation == generation and runner.view.state is RunState.RUNNING:
                await asyncio.sleep(max(tracker.next_due() - loop.time(), 0.0))
                if runner.generation != generation or runner.view.state is not RunState.RUNNING:
                    break
                success = await run_probe(
                    probe, runner.spec, self._sandbox.ip if self._sandbox else "", self._exec_in_pod
                )
                if tracker.record(success, loop.time()):
                    if kind is ProbeKind.READINESS:
                        runner.set_ready(tracker.ok)
                    elif not tracker.ok:
                        log.info("liveness probe failed, restarting pod=%s container=%s", self.key, runner.name)
                        await runner.kill_current(self._grace_seconds())

    async def _exec_in_pod(self, command: Sequence[str], timeout: float) -> int:
        sandbox = self._sandbox
        if sandbox is None or not command:
            return 1
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=sandbox.entering(),
        )
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            return 1

    def _grace_seconds(self) -> float:
        meta, spec = self.pod["metadata"], self.pod.get("spec") or {}
        for value in (meta.get("deletionGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")):
            if value is not None:
                return float(value)
        return float(DEFAULT_GRACE_SECONDS)

    def _status(self) -> dict[str, Any]:
        sandbox = self._sandbox
        facts = (
            SandboxFacts(sandbox.ip, self._ctx.node_ip, self._start_time, sandbox.ips, self._ctx.host_ips)
            if sandbox
            else None
        )
        views = [replace(r.view, ready=r.ready and r.view.state is RunState.RUNNING) for r in self._runners]
        if not views:
            views = [_creating(c) for c in (self.pod.get("spec") or {}).get("containers") or []]
        return pod_status(self.pod, views, facts, rfc3339(time.time()))

    async def _status_writer(self) -> None:
        meta = self.pod["metadata"]
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            status = self._status()
            if _comparable(status) == _comparable(self._last_written):
                continue
            try:
                await self._ctx.client.patch(
                    Pod.Status,
                    meta["name"],
                    {"status": status},
                    namespace=meta["namespace"],
                    patch_type=PatchType.MERGE,
                )
                self._last_written = status
                self.pod["status"] = status
            except ApiError as exc:
                if exc.status.code == 404:
                    return
                log.warning("pod status write failed pod=%s error=%s", self.key, exc)
                await asyncio.sleep(1.0)
                self._dirty.set()
            except Exception as exc:  # API server away: retry, the status is recomputed anyway
                log.warning("pod status write failed pod=%s error=%s", self.key, exc)
                await asyncio.sleep(1.0)
                self._dirty.set()

    async def terminate(self, *, delete_from_api: bool, grace: float | None = None) -> None:
        """Stop containers gracefully, tear the sandbox down, then remove the pod from the API."""
        grace = self._grace_seconds() if grace is None else grace
        await self._sandbox_settled.wait()  # a sandbox still being built is torn down, not leaked
        await asyncio.gather(*(runner.stop(grace) for runner in self._runners))
        for task in self._tasks:
            task.cancel()
        if delete_from_api:
            await self._write_final_status()
        sandbox = self._sandbox or self._adopted  # adopted but never started: still ours to remove
        try:
            if sandbox is not None:
                await asyncio.to_thread(destroy_sandbox, sandbox)
        except Exception:  # still release and delete: a stuck Terminating pod helps nobody
            log.exception("sandbox teardown failed pod=%s", self.key)
        self._ctx.allocator.release(self.uid)
        try:
            if delete_from_api:
                await self._delete_from_api()
        finally:
            self.done.set()

    async def _write_final_status(self) -> None:
        meta = self.pod["metadata"]
        try:
            await self._ctx.client.patch(
                Pod.Status,
                meta["name"],
                {"status": self._status()},
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )
        except Exception as exc:  # the pod is going away; deletion matters more
            log.info("final pod status not written pod=%s error=%s", self.key, exc)

    async def _delete_from_api(self) -> None:
        meta = self.pod["metadata"]
        try:
            # TODO(issue 3): kubelet adds a uid precondition; lightkube's delete has no option for it.
            await self._ctx.client.delete(Pod, meta["name"], namespace=meta["namespace"], grace_period=0)
        except ApiError as exc:
            if exc.status.code != 404:
                log.warning("pod delete failed pod=%s error=%s", self.key, exc)


def _logged(task: asyncio.Task[None], key: str) -> asyncio.Task[None]:
    """Log a background task's failure when it happens, not when it is garbage-collected."""

    def report(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("pod termination failed pod=%s", key, exc_info=done.exception())

    task.add_done_callback(report)
    return task


def _adoption(status: Mapping[str, Any] | None, running: Sequence[int] | None) -> Adoption | None:
    """Follow a running process when the last status written describes exactly it (same
    containerID), so start time and readiness carry over. Side-effect-free."""
    if not status or not running or status.get("containerID") != f"svclab://{running[0]}":
        return None
    started = ((status.get("state") or {}).get("running") or {}).get("startedAt")
    return Adoption(running[0], started, bool(status.get("ready"))) if started else None


def _creating(container: Mapping[str, Any]) -> ContainerView:
    return ContainerView(
        str(container["name"]), str(container.get("image", "")), RunState.WAITING, reason="ContainerCreating"
    )


def _comparable(status: Mapping[str, Any] | None) -> Any:
    """A status without the times that change on every computation."""
    if status is None:
        return None
    conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
    return {**status, "conditions": conditions}
