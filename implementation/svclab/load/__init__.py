"""Load tests: locust throughput and latency per proxy mode, target and scenario.

Pieces, from the outside in:

* ``LoadRunner`` (``runner``) runs ``python -m svclab.load.worker`` inside a
  client pod through a caller-supplied ``exec_in_pod``, one run per scenario
  with its targets interleaved slice by slice (``slices``), and parses its
  JSON (``worker_protocol``) into a ``Measurement`` per target, each charged
  with the proxy CPU time of its own slices.
* ``svclab.load.sweep`` grows and removes dummy Services around measurements
  (imported explicitly: it pulls in lightkube, and this package must stay
  light enough for the gevent-patched worker process to import first).
* ``figures`` turns measurements into ``Figure`` rows (req/s, p50/p95/p99,
  ratio to the direct baseline) and writes ``load-<testbed>.json``/``.csv``;
  ``noise`` adds what the run's rounds say (median with min-max, the direct
  baseline's noise floor, the probe's latencies and their difference to
  direct in ms, a verdict), using ``stats``.
* ``probe`` times one new connection on a bare socket (TCP connect, and
  connect + first response) with monotonic ns clocks; ``rounds`` keeps the
  worker's per-round tallies.
* ``users`` / ``worker`` are the locust side (``users.ConnectProbeUser``
  drives the probe); they import locust and so are never imported from here.

A typical caller (``svclab run``)::

    runner = LoadRunner(mode="iptables", client=ClientPod("default", "client"),
                        exec_in_pod=exec_fn, work_dir=results_dir,
                        proxy_pid=pid)
    targets = build_targets(pod_ips=ips, cluster_ip=vip, node_ip=other_node, node_port=np)
    measurements = runner.measure_all(targets, PROFILES["quick"])
    write_results(LoadResults("iptables", "quick", started,
                              tuple(figures_from_measurements(measurements))), results_dir)
"""

from .figures import (
    LOAD_SCHEMA,
    LoadResults,
    figures_from_measurements,
    merge_histograms,
    percentile_ms,
    read_results,
    results_to_csv,
    results_to_json,
    write_results,
)
from .model import PROFILES, Figure, LoadTarget, Measurement, Profile, RoundStats, Scenario, TargetKind, WorkerStats
from .procstat import ProcessCpu, parse_proc_stat, read_process_cpu
from .runner import ClientPod, ExecInPod, LoadError, LoadRunner, build_targets
from .stats import Spread, Verdict, compare_rounds, noise_floor, sample_percentile, spread
from .worker_protocol import (
    WORKER_SCHEMA,
    TargetRun,
    WorkerOptions,
    parse_worker_argv,
    parse_worker_output,
    worker_argv,
)

__all__ = [
    "ClientPod",
    "ExecInPod",
    "Figure",
    "LOAD_SCHEMA",
    "LoadError",
    "LoadResults",
    "LoadRunner",
    "LoadTarget",
    "Measurement",
    "PROFILES",
    "ProcessCpu",
    "Profile",
    "RoundStats",
    "Scenario",
    "Spread",
    "TargetKind",
    "TargetRun",
    "Verdict",
    "WORKER_SCHEMA",
    "WorkerOptions",
    "WorkerStats",
    "build_targets",
    "compare_rounds",
    "figures_from_measurements",
    "merge_histograms",
    "noise_floor",
    "parse_proc_stat",
    "parse_worker_argv",
    "parse_worker_output",
    "percentile_ms",
    "read_process_cpu",
    "read_results",
    "results_to_csv",
    "results_to_json",
    "sample_percentile",
    "spread",
    "worker_argv",
    "write_results",
]
