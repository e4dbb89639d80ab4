"""LoadRunner: run the load generator in a client pod, target by target.

The runner knows nothing about providers.  The caller hands it:

* ``exec_in_pod(namespace, pod, argv) -> CompletedProcess``: run a command in
  the pod's namespaces (local: ``svclab exec NAME -n NS POD -- ...``; kind:
  ``kubectl exec``).  The load generator runs *there*, so its packets leave
  through that pod's node and its proxy.
* a ``work_dir`` that both the runner and the pod see at the same path (local
  provider: the host filesystem) where the worker writes its JSON and locust
  HTML report.
* optionally ``proxy_cpu_seconds() -> float``, read before and after each run
  (e.g. ``read_process_cpu(pid).total_s`` of the client node's proxy).

On kind the same user classes run as locust master and worker pods through
``loadtests/locustfile.py``; the runner then is not involved.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import LoadTarget, Measurement, Profile, Scenario, TargetKind
from .worker_protocol import parse_worker_output, worker_argv

__all__ = ["ClientPod", "ExecInPod", "LoadError", "LoadRunner", "build_targets"]

ExecInPod = Callable[[str, str, Sequence[str]], "subprocess.CompletedProcess[str]"]


class LoadError(RuntimeError):
    """A load generator run failed (non-zero exit or no usable JSON)."""


@dataclass(frozen=True, slots=True)
class ClientPod:
    """Where the load generator runs, and with which Python."""

    namespace: str
    name: str
    python: str = sys.executable  # the pod shares the host filesystem locally


class LoadRunner:
    """Measures targets from one client pod for one proxy mode.

    Not thread-safe: one run at a time (two concurrent runs would compete for
    the same CPUs and spoil each other's figures anyway).
    """

    def __init__(self, *, mode: str, client: ClientPod, exec_in_pod: ExecInPod,
                 work_dir: Path, proxy_cpu_seconds: Callable[[], float] | None = None,
                 save_html: bool = True, save_html_for_sweep: bool = False) -> None:
        self._mode = mode
        self._client = client
        self._exec = exec_in_pod
        self._work_dir = work_dir
        self._proxy_cpu = proxy_cpu_seconds
        self._save_html = save_html
        # locust's report is ~1 MB (it embeds its web UI): by default only count-0 runs keep one
        self._save_html_for_sweep = save_html_for_sweep

    def measure(self, target: LoadTarget, scenario: Scenario, *, users: int,
                run_time_s: float, services: int = 0) -> Measurement:
        """One run against one target; raises LoadError when the worker fails."""
        stem = f"locust-{self._mode}-{target.kind.value}-{scenario.value}-{services}"
        json_out = self._work_dir / f"{stem}.json"
        keep_html = self._save_html and (services == 0 or self._save_html_for_sweep)
        html_out = self._work_dir / f"{stem}.html" if keep_html else None
        json_out.unlink(missing_ok=True)
        argv = worker_argv(python=self._client.python, urls=target.urls, scenario=scenario,
                           users=users, run_time_s=run_time_s, json_out=json_out,
                           html_out=html_out)
        cpu_before = self._proxy_cpu() if self._proxy_cpu else None
        done = self._exec(self._client.namespace, self._client.name, argv)
        cpu_after = self._proxy_cpu() if self._proxy_cpu else None
        where = f"{self._client.namespace}/{self._client.name}"
        if done.returncode != 0:
            raise LoadError(f"load run {stem} in pod {where} exited {done.returncode}: "
                            f"{(done.stderr or '').strip()[-2000:]}")
        try:
            stats = parse_worker_output(json_out.read_text(), source=str(json_out))
        except (OSError, ValueError) as err:
            raise LoadError(f"load run {stem} in pod {where}: {err}") from err
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return Measurement(mode=self._mode, target=target.kind, scenario=scenario,
                           services=services, users=users, stats=stats, proxy_cpu_s=cpu)

    def measure_all(self, targets: Iterable[LoadTarget], profile: Profile, *,
                    services: int = 0,
                    progress: Callable[[str], None] | None = None) -> list[Measurement]:
        """Every target x scenario of the profile, at a given Service count.

        At a count other than 0 only the profile's ``sweep_targets`` are run.
        """
        wanted = [t for t in targets
                  if services == 0 or t.kind in profile.sweep_targets]
        results = []
        for target in wanted:
            for scenario in profile.scenarios:
                if progress:
                    progress(f"{self._mode}: {target.kind.value} {scenario.value} "
                             f"with {services} extra Services")
                results.append(self.measure(target, scenario, users=profile.users,
                                            run_time_s=profile.run_time_s, services=services))
        return results


def build_targets(*, pod_ips: Iterable[str], cluster_ip: str, node_ip: str, node_port: int,
                  port: int = 8080, path: str = "/hostname") -> tuple[LoadTarget, ...]:
    """The three targets of a run (side-effect-free).

    ``pod_ips`` are the backends (the direct baseline), ``cluster_ip:port``
    the Service, ``node_ip:node_port`` a NodePort on a node other than the
    client's, so that the client node's proxy and the target node's both act.
    """
    return (
        LoadTarget(TargetKind.DIRECT, tuple(_url(ip, port, path) for ip in pod_ips)),
        LoadTarget(TargetKind.CLUSTER_IP, (_url(cluster_ip, port, path),)),
        LoadTarget(TargetKind.NODE_PORT, (_url(node_ip, node_port, path),)),
    )


def _url(host: str, port: int, path: str) -> str:
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"
