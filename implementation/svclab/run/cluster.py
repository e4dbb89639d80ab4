"""The cluster `svclab run` works on, through the provider protocol.

``provider_problem(spec)`` and ``kernel_of(spec)`` ask the spec's provider
(``svclab.testbed.providers``). ``RunCluster`` brings a testbed up and down
through the ``svclab up`` / ``svclab down`` commands (so a run exercises what
users run, each in its own process, with its output in ``up-NAME.log``) and
then reaches the cluster through its provider's ``ClusterHandle``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from svclab.testbed.provider import ClusterHandle, run_captured
from svclab.testbed.providers import attach, provider_for
from svclab.testbed.spec import Testbed

__all__ = ["RunCluster", "kernel_of", "provider_problem", "svclab_cmd", "wait_until"]

UP_TIMEOUT = 600.0
# seconds for every node to be Ready: testbeds come up side by side on two cores, a UML
# guest's nodes among them (svclab up's own default of 60 s failed the guest's in a run here)
NODES_READY_TIMEOUT = 180.0
DOWN_TIMEOUT = 300.0
EXEC_TIMEOUT = 900.0


def svclab_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "svclab.cli", *args]


def provider_problem(spec: Testbed) -> str | None:
    """Why this machine cannot run the testbed at all (then it is skipped), or None."""
    provider = provider_for(spec.provider)
    if not provider.creates_clusters:
        return (
            f"provider {provider.kind} tests an existing cluster as it is: run the conformance "
            "suite on it with `pytest conformance --kubeconfig PATH` (or `--testbed FILE` "
            "with $KUBECONFIG set)"
        )
    return provider.preflight(spec)


def kernel_of(spec: Testbed) -> str:
    """`host <release>`, `uml <release>` or the provider's kind: where the testbed's rules live."""
    return provider_for(spec.provider).kernel(spec)


@dataclass
class RunCluster:
    """One testbed's cluster during a run."""

    name: str
    spec_file: Path
    log_dir: Path
    handle: ClusterHandle | None = None

    @property
    def kubeconfig(self) -> Path | None:
        return self.handle.kubeconfig if self.handle is not None else None

    def up(self, timeout: float = UP_TIMEOUT) -> None:
        log = self.log_dir / f"up-{self.name}.log"
        with open(log, "w") as out:
            argv = svclab_cmd("up", str(self.spec_file), "--name", self.name, "--timeout", f"{NODES_READY_TIMEOUT:g}")
            done = run_captured(argv, timeout)
            out.write(done.stdout + done.stderr)
        if done.rc != 0:
            text = (done.stdout + done.stderr).strip()
            raise RuntimeError(f"svclab up failed ({done.rc}): {text.splitlines()[-1] if text else ''}")
        self.handle = attach(self.name)
        if self.handle is None:
            raise RuntimeError(f"svclab up succeeded but cluster {self.name} cannot be found")

    def down(self) -> None:
        run_captured(svclab_cmd("down", self.name), DOWN_TIMEOUT)

    def exec_in_pod(self, namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """The handle's exec, in the shape ``svclab.load`` takes (which knows no testbed)."""
        if self.handle is None:
            raise RuntimeError(f"cluster {self.name} is not up")
        done = self.handle.exec_in_pod(namespace, pod, argv, timeout=EXEC_TIMEOUT)
        return subprocess.CompletedProcess(list(argv), done.rc, done.stdout, done.stderr)

    def proxy_pid(self, node: str) -> int | None:
        """The pid of the proxy of `node` on this host (None when it runs elsewhere, e.g. in UML)."""
        marker = f"/{self.name}/".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"proxy" in argv and node.encode() in argv and any(marker in a for a in argv):
                return int(entry.name)
        return None


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
