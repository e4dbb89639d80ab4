"""Containers as processes: what to run, and the restart loop kubelet would drive.

:func:`container_argv` decides what a container runs (side-effect-free): the
built-in agnhost for ``registry.k8s.io/e2e-test-images/agnhost:*`` (its
``args`` are agnhost's), the pause image as agnhost ``pause``, otherwise the
container's ``command`` + ``args`` (with ``$(VAR)`` expansion from its env).
An image whose files and default command are built in (``nginx``, see
:mod:`.image_fs`) runs that command, with the image's files in mounts of its
own; an exec joins them. Any other image without a command cannot run here:
the container waits with reason :data:`IMAGE_NOT_SUPPORTED` and the pod stays
``Pending``.

:class:`ContainerRunner` starts the process in the pod's namespaces and
restarts it per ``restartPolicy`` with kubelet's crash-loop backoff: the first
restart is immediate, then 10 s doubling up to 5 min (:func:`restart_delay`).
Given an :class:`Adoption` it first follows a process a previous agent run
started (as kubelet finds its containers again after a restart, issue 15):
same PID, start time, readiness and restart count. Such a process is not the
agent's child, so its end is seen through a pidfd and its exit status is
unknown (:data:`UNKNOWN_EXIT_CODE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .image_fs import ImageFiles, image_files, joining_mounts, mounting, prepare
from .logs import ContainerLogs, pump
from .sandbox import Sandbox, process_start_ticks, save_sandbox
from .status import ContainerView, RunState

__all__ = [
    "AdoptedProcess",
    "Adoption",
    "ContainerRunner",
    "IMAGE_NOT_SUPPORTED",
    "Launch",
    "UNKNOWN_EXIT_CODE",
    "container_argv",
    "container_env",
    "restart_delay",
    "rfc3339",
]

IMAGE_NOT_SUPPORTED = "ImageNotSupported"
AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost"
PAUSE_IMAGES = ("registry.k8s.io/pause", "k8s.gcr.io/pause", "gcr.io/google_containers/pause")  # older names too
OUTPUT_GRACE = 2.0  # seconds to wait for an exited container's output to reach its log
OUTPUT_POLL = 0.1  # seconds between copies of a container's output into its log
# An adopted process's exit status died with the agent that could have read it; reported as
# a failure, so restartPolicy OnFailure restarts it rather than taking it for done.
UNKNOWN_EXIT_CODE = 255
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# `pause` only waits for SIGTERM and exits 0. A shell does that for ~1 ms of CPU
# where a Python interpreter costs ~100 ms, which is most of the time to start
# 100 pods on two cores.
# The built-in agnhost runs the agent's own svclab: the tree this module was imported from goes
# first on its path, so an agent run from a source tree (a worktree on PYTHONPATH) does not
# start whatever svclab the interpreter has installed (issue 14: a /readyz fix never reached pods).
SVCLAB_ROOT = str(Path(__file__).resolve().parents[4])
PAUSE_ARGV = ("/bin/sh", "-c", "trap 'kill $! 2>/dev/null; exit 0' TERM INT; while :; do sleep 3600 & wait $!; done")


@dataclass(frozen=True, slots=True)
class Launch:
    """What to exec; ``argv`` empty means the container cannot run (see ``reason``)."""

    argv: tuple[str, ...]
    reason: str = ""
    message: str = ""
    #: set in the process's environment on top of the container's own (not shown as the pod's env)
    extra_env: tuple[tuple[str, str], ...] = ()
    #: the image's own files, seen by the container in a mount namespace of its own (image_fs.py)
    files: ImageFiles | None = None


def _repository(image: str) -> str:
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: unknown names stay, ``$$`` escapes."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        text,
    )


def container_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> Launch:
    """The process a container runs (side-effect-free)."""
    command = [_expand(c, env) for c in container.get("command") or []]
    args = [_expand(a, env) for a in container.get("args") or []]
    image = str(container.get("image", ""))
    agnhost = (sys.executable, "-m", "svclab.testbed.local.agnhost")
    repository = _repository(image)
    if repository == AGNHOST_IMAGE:
        if command and not command[0].endswith("agnhost"):
            return Launch(tuple(command + args))
        rest = command[1:] + args
        if rest in ([], ["pause"]):
            return Launch(PAUSE_ARGV)
        return Launch(agnhost + tuple(rest), extra_env=(("PYTHONPATH", SVCLAB_ROOT),))
    if repository in PAUSE_IMAGES and not command:
        return Launch(PAUSE_ARGV)
    files = image_files(repository)
    if command:
        return Launch(tuple(command + args), files=files)
    if files is not None:  # an image whose default command is built in (today: nginx)
        builtin = (sys.executable, "-m", f"svclab.testbed.local.{files.builtin}")
        return Launch(builtin, extra_env=(("PYTHONPATH", SVCLAB_ROOT),), files=files)
    return Launch(
        (),
        IMAGE_NOT_SUPPORTED,
        f"svclab runs only the built-in {AGNHOST_IMAGE} and nginx images or containers with a "
        f"command; image {image!r} has no command in the pod spec",
    )


def container_env(
    container: Mapping[str, Any], pod: Mapping[str, Any], pod_ips: Sequence[str], host_ips: Sequence[str]
) -> dict[str, str]:
    """Environment: plain values and the common downward-API fields (side-effect-free).

    ``pod_ips`` / ``host_ips`` are primary first; the plural fields are all of them
    comma-separated, as kubelet writes them on a dual-stack node.
    """
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    fields = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.hostIP": host_ips[0] if host_ips else "",
        "status.podIPs": ",".join(pod_ips),
        "status.hostIPs": ",".join(host_ips),
    }
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": spec.get("hostname") or meta.get("name", "")}
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        if "value" in var:
            env[var["name"]] = _expand(str(var["value"] or ""), env)
        elif "fieldRef" in source:
            env[var["name"]] = str(fields.get(source["fieldRef"].get("fieldPath", ""), ""))
    return env


def restart_delay(previous_restarts: int) -> float:
    """kubelet's crash-loop backoff before restart number ``previous_restarts + 1``."""
    if previous_restarts <= 0:
        return 0.0
    return min(BACKOFF_INITIAL * 2.0 ** (previous_restarts - 1), BACKOFF_MAX)


def rfc3339(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Adoption:
    """A container process still running from a previous agent run, and its last status."""

    pid: int
    started_at: str
    ready: bool


class AdoptedProcess:
    """The few ``asyncio.subprocess.Process`` members the runner uses, for a process that
    is not our child: ``pid``, ``returncode`` and ``wait()`` (through a pidfd)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited: asyncio.Future[None] | None = None

    async def wait(self) -> int:
        if self.returncode is None:
            if self._exited is None:
                self._exited = self._watch()
            await asyncio.shield(self._exited)
            self.returncode = UNKNOWN_EXIT_CODE
        return self.returncode

    def _watch(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        try:
            fd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            exited.set_result(None)
            return exited

        def on_exit() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(fd, on_exit)
        return exited


class ContainerRunner:
    """Runs one container of one pod until stopped; reports every change via ``on_change``."""

    def __init__(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        sandbox: Sandbox,
        launch: Launch,
        env: Mapping[str, str],
        on_change: Callable[[], None],
        restart_count: int = 0,
        adoption: Adoption | None = None,
    ) -> None:
        self.spec = container
        self.name = str(container["name"])
        self._pod = pod
        self._sandbox = sandbox
        self._launch = launch
        self._env = dict(env)
        self._on_change = on_change
        self._process: asyncio.subprocess.Process | AdoptedProcess | None = None
        self._adoption = adoption
        self._stopping = False
        self._changed = asyncio.Event()
        self._probes_readiness = bool(container.get("readinessProbe"))
        self.generation = 0  # one per process started, so probes know a restart happened
        self.logs = ContainerLogs(sandbox.directory, self.name)
        self.output_done: asyncio.Future[None] | None = None  # done when the current instance's output is all logged
        self._exited = asyncio.Event()
        self.ready = False
        self.view = ContainerView(
            self.name,
            str(container.get("image", "")),
            RunState.WAITING,
            reason=launch.reason or "ContainerCreating",
            message=launch.message,
            restart_count=restart_count,
        )

    @property
    def env(self) -> dict[str, str]:
        """The container's environment (an ``exec`` gets the same)."""
        return dict(self._env)

    def entering(self) -> Callable[[], None]:
        """A ``preexec_fn`` that puts a process where this container's run: the pod's
        namespaces, its own mounts (an image with files) and the container's working directory."""
        workdir = self.spec.get("workingDir") or None
        enter = self._sandbox.entering(workdir)
        process = self._process
        if self._launch.files is None or process is None or process.returncode is not None:
            return enter
        return _chain(enter, joining_mounts(process.pid, workdir))

    def _set(self, **changes: Any) -> None:
        self.view = replace(self.view, **changes)
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        self._on_change()

    async def wait_changed(self) -> None:
        """Return after the next state change."""
        await self._changed.wait()

    def set_ready(self, ready: bool) -> None:
        """The readiness probe's verdict for the current process."""
        if ready != self.ready:
            self.ready = ready
            self._notify()

    async def kill_current(self, grace_seconds: float) -> None:
        """Stop the current process (liveness failure); ``run`` then restarts it per policy."""
        process = self._process
        if process is not None and process.returncode is None:
            await _terminate(process, grace_seconds)

    async def run(self) -> None:
        """Start, wait, restart per policy; returns when stopped or done for good."""
        if not self._launch.argv:
            return  # waits for ever with its ImageNotSupported reason
        policy = (self._pod.get("spec") or {}).get("restartPolicy", "Always")
        while not self._stopping:
            adoption, self._adoption = self._adoption, None
            code = await (self._follow(adoption) if adoption is not None else self._run_once())
            if self._stopping or policy == "Never" or (policy == "OnFailure" and code == 0):
                return
            delay = restart_delay(self.view.restart_count)
            if delay:
                meta = self._pod.get("metadata") or {}
                self._set(
                    state=RunState.WAITING,
                    reason="CrashLoopBackOff",
                    message=(
                        f"back-off {int(delay)}s restarting failed container={self.name} "
                        f"pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"
                    ),
                )
                await asyncio.sleep(delay)
            self.view = replace(self.view, restart_count=self.view.restart_count + 1)

    async def _run_once(self) -> int:
        workdir = self.spec.get("workingDir") or None
        log_path = self.logs.start(self.view.restart_count)
        # The process writes to plain files of its own, not to pipes into the agent: it must
        # outlive an agent restart (adoption) without its writes failing; the agent copies
        # those files into the CRI log as they grow.
        raw = (log_path.with_suffix(".stdout"), log_path.with_suffix(".stderr"))
        try:
            with open(raw[0], "ab") as out, open(raw[1], "ab") as err:  # noqa: ASYNC230 - local files
                process = await asyncio.create_subprocess_exec(
                    *self._launch.argv,
                    env={**self._env, **dict(self._launch.extra_env)},
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    preexec_fn=self._preexec(workdir),
                )
        except OSError as exc:
            now = rfc3339(_now())
            self._set(
                state=RunState.TERMINATED,
                exit_code=128,
                reason="StartError",
                message=str(exc),
                started_at=now,
                finished_at=now,
                pid=0,
                ready=False,
            )
            return 128
        self._exited = asyncio.Event()
        self.output_done = asyncio.ensure_future(_keep_output(raw, log_path, self._exited))
        self._process = process
        self._sandbox.containers[self.name] = [process.pid, process_start_ticks(process.pid)]
        save_sandbox(self._sandbox)  # so a restarted agent can find (and stop) this process
        started = rfc3339(_now())
        self.generation += 1
        self.ready = not self._probes_readiness
        self._set(
            state=RunState.RUNNING,
            reason="",
            message="",
            pid=process.pid,
            started_at=started,
            finished_at="",
            ready=False,
        )
        return await self._finished(process, started)

    def _preexec(self, workdir: str | None) -> Callable[[], None]:
        """Into the pod; with the image's files, a fresh writable layer in mounts of its own."""
        enter = self._sandbox.entering(workdir)
        if self._launch.files is None:
            return enter
        overlay = prepare(Path(self._sandbox.directory) / "rootfs" / self.name, self._launch.files)
        return _chain(enter, mounting(overlay))

    async def _follow(self, adoption: Adoption) -> int:
        """Follow a process a previous agent started, keeping what its status said."""
        process = AdoptedProcess(adoption.pid)
        self._process = process
        self.generation += 1
        self.ready = adoption.ready
        self._set(state=RunState.RUNNING, reason="", message="", pid=process.pid, started_at=adoption.started_at)
        return await self._finished(process, adoption.started_at)

    async def _finished(self, process: asyncio.subprocess.Process | AdoptedProcess, started: str) -> int:
        """Wait for the process to end and report it terminated; its exit code."""
        code = await process.wait()
        self._exited.set()
        await _settle(self.output_done)
        self.ready = False
        if self._sandbox.containers.pop(self.name, None) is not None:
            save_sandbox(self._sandbox)
        exit_code = code if code >= 0 else 128 - code  # killed by signal N: 128+N
        reason = "Completed" if exit_code == 0 else "Error"
        finished = rfc3339(_now())
        self._set(
            state=RunState.TERMINATED,
            exit_code=exit_code,
            reason=reason,
            finished_at=finished,
            ready=False,
            last_terminated=(exit_code, reason, started, finished),
        )
        return exit_code

    async def stop(self, grace_seconds: float) -> None:
        """SIGTERM the container's process group, SIGKILL it after ``grace_seconds``; returns
        once the container shows as terminated (so a final pod status says so, as kubelet's
        does: Ready False before the pod goes), or OUTPUT_GRACE + 1 s after the process ended."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            await _terminate(process, grace_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._until_not_running(), OUTPUT_GRACE + 1.0)

    async def _until_not_running(self) -> None:
        while self.view.state is RunState.RUNNING:
            await self.wait_changed()


async def _terminate(process: asyncio.subprocess.Process | AdoptedProcess, grace_seconds: float) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), max(grace_seconds, 0.0))
    except TimeoutError:
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()


async def _keep_output(raw: tuple[Path, Path], log_path: Path, exited: asyncio.Event) -> None:
    """Copy what the process writes to its stdout and stderr files into the CRI log,
    every OUTPUT_POLL seconds, until it has exited and all is copied."""
    readers = [asyncio.StreamReader(), asyncio.StreamReader()]
    offsets = [0, 0]
    with open(log_path, "ab") as out:  # noqa: ASYNC230 - a local file; writes are small and flushed per chunk
        pumps = asyncio.gather(*(pump(r, n, out) for r, n in zip(readers, ("stdout", "stderr"))))
        while True:
            last = exited.is_set()
            for i, path in enumerate(raw):
                with open(path, "rb") as source:  # noqa: ASYNC230 - small reads of a local file
                    source.seek(offsets[i])
                    chunk = source.read()
                offsets[i] += len(chunk)
                if chunk:
                    readers[i].feed_data(chunk)
            if last:
                break
            try:
                await asyncio.wait_for(exited.wait(), OUTPUT_POLL)
            except TimeoutError:
                pass
        for reader in readers:
            reader.feed_eof()
        await pumps


async def _settle(output: asyncio.Future[None] | None) -> None:
    """Wait for the output of an exited process to be logged. A child it left running
    may hold the pipes open: give up after OUTPUT_GRACE seconds rather than hang."""
    if output is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(output), OUTPUT_GRACE)
    except TimeoutError:
        output.cancel()
    except Exception:
        pass


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)  # the container leads its own session (Sandbox.entering)
    except ProcessLookupError:
        pass


def _chain(*steps: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        for step in steps:
            step()

    return run


def _now() -> float:
    return time.time()
