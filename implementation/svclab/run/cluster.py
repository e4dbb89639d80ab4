"""The cluster `svclab run` works on: bring up and down through the `svclab`
commands (so a run exercises what users run), and the exec hook into pods."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from svclab.testbed.spec import ProviderKind, Testbed

__all__ = ["RunCluster", "kernel_of", "provider_problem", "svclab_cmd"]


def svclab_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "svclab.cli", *args]


def provider_problem(spec: Testbed) -> str | None:
    """Why this machine cannot run the testbed at all (then it is skipped), or None."""
    if spec.provider is ProviderKind.KIND:
        from svclab.testbed.kind.tools import preflight

        return preflight(spec)
    if spec.provider is ProviderKind.KUBECONFIG:
        return (
            "provider kubeconfig tests an existing cluster as it is: run the conformance "
            "suite on it with `pytest conformance --kubeconfig PATH` (or `--testbed FILE` "
            "with $KUBECONFIG set)"
        )
    if os.geteuid() != 0:
        return "the local provider needs root (network namespaces)"
    from svclab.testbed.local.uml import can_run_uml, resolve_kernel

    if resolve_kernel(spec.kernel.value, spec.proxy.mode.value) == "uml":
        return can_run_uml()
    return None


def kernel_of(spec: Testbed) -> str:
    """`host <release>` or `uml <release>`: where the testbed's rules live."""
    from svclab.testbed.local.uml import kernel_version, resolve_kernel

    if spec.provider is not ProviderKind.LOCAL:
        return spec.provider.value
    if resolve_kernel(spec.kernel.value, spec.proxy.mode.value) == "uml":
        return f"uml {kernel_version()}"
    return f"host {platform.release()}"


@dataclass
class RunCluster:
    """One testbed's cluster during a run."""

    name: str
    spec_file: Path
    log_dir: Path
    kubeconfig: Path | None = None

    def up(self, timeout: float = 600) -> None:
        log = self.log_dir / f"up-{self.name}.log"
        with open(log, "w") as out:
            done = subprocess.run(
                svclab_cmd("up", str(self.spec_file), "--name", self.name),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        text = log.read_text()
        if done.returncode != 0:
            raise RuntimeError(
                f"svclab up failed ({done.returncode}): {text.strip().splitlines()[-1] if text.strip() else ''}"
            )
        for line in reversed(text.splitlines()):
            if line.startswith("kubeconfig: "):
                self.kubeconfig = Path(line.removeprefix("kubeconfig: ").strip())
                return
        raise RuntimeError("svclab up printed no kubeconfig line")

    def down(self) -> None:
        subprocess.run(svclab_cmd("down", self.name), capture_output=True, timeout=300)

    def exec_in_pod(self, namespace: str, pod: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            svclab_cmd("exec", self.name, "-n", namespace, pod, "--", *argv),
            capture_output=True,
            text=True,
            timeout=900,
        )

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


def wait_until(check: object, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
