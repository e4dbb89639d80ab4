"""LoadRunner: run the load generator in a client pod, targets interleaved.

The runner knows nothing about providers.  The caller hands it:

* ``exec_in_pod(namespace, pod, argv) -> CompletedProcess``: run a command in
  the pod's namespaces (local: ``svclab exec NAME -n NS POD -- ...``; kind:
  ``kubectl exec``).  The load generator runs *there*, so its packets leave
  through that pod's node and its proxy.
* a ``work_dir`` that both the runner and the pod see at the same path (local
  provider: the host filesystem) where the worker writes its JSON and locust
  HTML report.
* optionally ``proxy_pid``, the client node's proxy as the pod sees it
  (locally the pod shares the host's ``/proc``): the worker reads its CPU
  time at every slice boundary, so each target is charged for its own slices.

One worker run measures all targets of a scenario at once, in alternating
slices, so that every ratio to the direct baseline compares seconds taken
side by side (see ``svclab.load.slices``).

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
from .worker_protocol import WorkerOptions, parse_worker_output, worker_argv

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

    def __init__(
        self,
        *,
        mode: str,
        client: ClientPod,
        exec_in_pod: ExecInPod,
        work_dir: Path,
        proxy_pid: int | None = None,
        save_html: bool = True,
        save_html_for_sweep: bool = False,
    ) -> None:
        self._mode = mode
        self._client = client
        self._exec = exec_in_pod
        self._work_dir = work_dir
        self._proxy_pid = proxy_pid
        self._save_html = save_html
        # locust's report is ~1 MB (it embeds its web UI): by default only count-0 runs keep one
        self._save_html_for_sweep = save_html_for_sweep

    def measure(
        self,
        targets: Sequence[LoadTarget],
        scenario: Scenario,
        *,
        users: int,
        run_time_s: float,
        slice_s: float = 1.0,
        services: int = 0,
        rounds: int = 1,
    ) -> list[Measurement]:
        """One worker run over ``targets`` interleaved, a Measurement per target (same order).

        ``run_time_s`` is each target's share; the run lasts about
        ``len(targets) * run_time_s``.  Raises LoadError when the worker fails.
        """
        stem = f"locust-{self._mode}-{scenario.value}-{services}"
        json_out = self._work_dir / f"{stem}.json"
        keep_html = self._save_html and (services == 0 or self._save_html_for_sweep)
        options = WorkerOptions(
            targets=tuple((t.kind.value, t.urls) for t in targets),
            scenario=scenario,
            users=users,
            run_time_s=run_time_s,
            slice_s=slice_s,
            json_out=json_out,
            html_out=self._work_dir / f"{stem}.html" if keep_html else None,
            cpu_pid=self._proxy_pid,
            rounds=rounds,
        )
        json_out.unlink(missing_ok=True)
        done = self._exec(self._client.namespace, self._client.name, worker_argv(options, python=self._client.python))
        where = f"{self._client.namespace}/{self._client.name}"
        if done.returncode != 0:
            raise LoadError(
                f"load run {stem} in pod {where} exited {done.returncode}: {(done.stderr or '').strip()[-2000:]}"
            )
        try:
            runs = {run.name: run for run in parse_worker_output(json_out.read_text(), source=str(json_out))}
            return [
                Measurement(
                    mode=self._mode,
                    target=t.kind,
                    scenario=scenario,
                    services=services,
                    users=users,
                    stats=runs[t.kind.value].stats,
                    proxy_cpu_s=runs[t.kind.value].proxy_cpu_s,
                )
                for t in targets
            ]
        except (OSError, ValueError) as err:
            raise LoadError(f"load run {stem} in pod {where}: {err}") from err
        except KeyError as err:
            raise LoadError(f"load run {stem} in pod {where}: no stats for target {err}") from err

    def measure_all(
        self,
        targets: Iterable[LoadTarget],
        profile: Profile,
        *,
        services: int = 0,
        progress: Callable[[str], None] | None = None,
    ) -> list[Measurement]:
        """Every target x scenario of the profile, at a given Service count.

        One worker run per scenario, its targets interleaved.  At a count
        other than 0 only the profile's ``sweep_targets`` in its ``sweep_scenarios``
        are run.  The
        result is ordered by target, then scenario.
        """
        wanted = [t for t in targets if services == 0 or t.kind in profile.sweep_targets]
        results: list[Measurement] = []
        if not wanted:
            return results
        for scenario in profile.scenarios_at(services):
            in_run = [t for t in wanted if scenario is Scenario.CONNECT_PROBE or not t.kind.probe_only]
            if progress:
                progress(
                    f"{self._mode}: {', '.join(t.kind.value for t in in_run)} interleaved, "
                    f"{scenario.value}, with {services} extra Services"
                )
            results += self.measure(
                in_run,
                scenario,
                users=profile.users_for(scenario),
                run_time_s=profile.run_time_for(scenario),
                slice_s=profile.slice_s,
                services=services,
                rounds=profile.rounds,
            )
        kinds, scenarios = list(TargetKind), list(profile.scenarios)
        return sorted(results, key=lambda m: (kinds.index(m.target), scenarios.index(m.scenario)))


def build_targets(
    *,
    pod_ips: Iterable[str],
    cluster_ip: str,
    node_ip: str,
    node_port: int,
    typical_cluster_ip: str | None = None,
    port: int = 8080,
    path: str = "/hostname",
) -> tuple[LoadTarget, ...]:
    """The targets of a run (side-effect-free).

    ``pod_ips`` are the backends (the direct baseline), ``cluster_ip:port``
    the Service, ``node_ip:node_port`` a NodePort on a node other than the
    client's, so that the client node's proxy and the target node's both act;
    ``typical_cluster_ip:port``, when given, a second Service placed mid-chain.
    """
    targets = [
        LoadTarget(TargetKind.DIRECT, tuple(_url(ip, port, path) for ip in pod_ips)),
        LoadTarget(TargetKind.CLUSTER_IP, (_url(cluster_ip, port, path),)),
        LoadTarget(TargetKind.NODE_PORT, (_url(node_ip, node_port, path),)),
    ]
    if typical_cluster_ip:
        targets.append(LoadTarget(TargetKind.CLUSTER_IP_TYPICAL, (_url(typical_cluster_ip, port, path),)))
    return tuple(targets)


def _url(host: str, port: int, path: str) -> str:
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"
