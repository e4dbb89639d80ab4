"""The contract between the runner and the load generator process.

The runner builds a command line (``worker_argv``) that it runs inside the
client pod; the worker parses it (``parse_worker_argv``) and writes a JSON
document to a path on the shared filesystem, which the runner parses
(``parse_worker_output``).  All of it lives here so the two sides cannot
drift apart.  Side-effect-free.

Command line::

    python -m svclab.load.worker --target direct=URL[,URL...] --target clusterip=URL ...
        --scenario keepalive --users 10 --run-time 6s --slice 1s --json OUT.json
        [--html OUT.html] [--cpu-pid PID] [--rounds 3]

``--run-time`` is per target; the targets take turns in ``--slice`` long
slices (``svclab.load.slices``), grouped into ``--rounds`` rounds.

Worker JSON (schema ``svclab.load-worker/v3``)::

    {"schema": ..., "scenario": "keepalive"|"new-connection"|"connect-probe", "users": int,
     "run_time_s": float, "slice_s": float, "rounds": int,
     "targets": [{"name": str, "urls": [str], "requests": int, "failures": int,
                  "duration_s": float, "slices": int,
                  "response_times_ms": {"<ms>": count}, "errors": {"<message>": count},
                  "proxy_cpu_s": float | null,
                  "rounds": [{"round": int, "seconds": float, "requests": int, "failures": int,
                              "latency_ms": {"<request type>": {"samples": n, "p50": ms,
                                                                "p90": ms, "p99": ms}}}, ...]}, ...],
     "html_report": str | null, "locust_version": str}

``duration_s`` is the sum of the target's slices; ``proxy_cpu_s`` the CPU
time of ``--cpu-pid`` during them (null without one).  Request types are
``GET`` for the HTTP users, ``CONNECT`` and ``FIRST_RESPONSE`` for the
connection probe (``svclab.load.probe``); its latencies are exact
(monotonic ns), not locust's 1 ms histogram buckets.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import RoundStats, Scenario, WorkerStats

__all__ = [
    "TargetRun",
    "WORKER_SCHEMA",
    "WorkerOptions",
    "parse_worker_argv",
    "parse_worker_output",
    "worker_argv",
]

WORKER_SCHEMA = "svclab.load-worker/v3"
WORKER_MODULE = "svclab.load.worker"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """One worker run: named targets (name -> URLs, in slice order) and how to load them."""

    targets: tuple[tuple[str, tuple[str, ...]], ...]
    scenario: Scenario
    users: int
    run_time_s: float  # per target
    slice_s: float
    json_out: Path
    html_out: Path | None = None
    cpu_pid: int | None = None  # the proxy whose CPU time is charged per slice
    rounds: int = 1  # the run time is split into this many rounds, figures kept per round


@dataclass(frozen=True, slots=True)
class TargetRun:
    """One target's share of a worker run (its part of the worker JSON, parsed)."""

    name: str
    stats: WorkerStats
    slices: int
    proxy_cpu_s: float | None


def worker_argv(options: WorkerOptions, *, python: str) -> list[str]:
    """The command that runs one load generation in the client pod."""
    argv = [
        python,
        "-m",
        WORKER_MODULE,
        "--scenario",
        options.scenario.value,
        "--users",
        str(options.users),
        "--run-time",
        f"{options.run_time_s:g}",
        "--slice",
        f"{options.slice_s:g}",
        "--json",
        str(options.json_out),
    ]
    for name, urls in options.targets:
        argv += ["--target", f"{name}={','.join(urls)}"]
    if options.html_out is not None:
        argv += ["--html", str(options.html_out)]
    if options.cpu_pid is not None:
        argv += ["--cpu-pid", str(options.cpu_pid)]
    if options.rounds != 1:
        argv += ["--rounds", str(options.rounds)]
    return argv


def _seconds(text: str) -> float:
    """``10``, ``10s``, ``1.5s``, ``2m`` -> seconds."""
    factor = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text[-1:])
    return float(text[:-1]) * factor if factor else float(text)


def _target(text: str) -> tuple[str, tuple[str, ...]]:
    """``NAME=URL[,URL...]`` -> (name, urls)."""
    name, sep, urls = text.partition("=")
    split = tuple(u for u in urls.split(",") if u)
    if not sep or not name or not split:
        raise argparse.ArgumentTypeError(f"want NAME=URL[,URL...], got {text!r}")
    return name, split


def parse_worker_argv(argv: Sequence[str] | None = None) -> WorkerOptions:
    """The worker's command line (without ``python -m ...``) -> options; exits on errors."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {WORKER_MODULE}", description="One headless locust run, stats as JSON."
    )
    parser.add_argument(
        "--target",
        type=_target,
        action="append",
        required=True,
        help="NAME=URL[,URL...] (repeatable; slices go round robin in this order)",
    )
    parser.add_argument("--scenario", type=Scenario, choices=list(Scenario), default=Scenario.KEEPALIVE)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--run-time", type=_seconds, default=10.0, help="per target, e.g. 10s")
    parser.add_argument("--slice", type=_seconds, default=1.0, help="slice length, e.g. 1s")
    parser.add_argument("--json", type=Path, required=True, help="where to write the stats")
    parser.add_argument("--html", type=Path, default=None, help="also save locust's HTML report")
    parser.add_argument(
        "--cpu-pid",
        type=int,
        default=None,
        help="charge this process's CPU time (/proc/PID/stat) to each slice's target",
    )
    parser.add_argument("--rounds", type=int, default=1, help="split the run time into this many rounds")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    names = [name for name, _ in args.target]
    if len(set(names)) != len(names):
        parser.error(f"target names must be unique, got {names}")
    return WorkerOptions(
        targets=tuple(args.target),
        scenario=args.scenario,
        users=args.users,
        run_time_s=args.run_time,
        slice_s=args.slice,
        json_out=args.json,
        html_out=args.html,
        cpu_pid=args.cpu_pid,
        rounds=args.rounds,
    )


def _target_run(data: dict[str, Any], html_report: str | None) -> TargetRun:
    cpu = data.get("proxy_cpu_s")
    return TargetRun(
        name=str(data["name"]),
        slices=int(data["slices"]),
        proxy_cpu_s=None if cpu is None else float(cpu),
        stats=WorkerStats(
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            duration_s=float(data["duration_s"]),
            response_times_ms={int(k): int(v) for k, v in data["response_times_ms"].items()},
            errors={str(k): int(v) for k, v in data.get("errors", {}).items()},
            html_report=html_report,
            rounds=tuple(_round(r) for r in data.get("rounds", [])),
        ),
    )


def _round(data: dict[str, Any]) -> RoundStats:
    return RoundStats(
        seconds=float(data["seconds"]),
        requests=int(data["requests"]),
        failures=int(data["failures"]),
        latency_ms={
            str(kind): {str(k): float(v) for k, v in summary.items()}
            for kind, summary in data.get("latency_ms", {}).items()
        },
    )


def parse_worker_output(text: str, *, source: str = "worker output") -> tuple[TargetRun, ...]:
    """Parse the worker's JSON, one ``TargetRun`` per target in slice order.

    Every target's stats name the run's one HTML report.  ValueError naming
    ``source`` when the document is malformed.
    """
    try:
        data = json.loads(text)
        if data.get("schema") != WORKER_SCHEMA:
            raise ValueError(f"schema is {data.get('schema')!r}, want {WORKER_SCHEMA}")
        html_report = data.get("html_report")
        return tuple(_target_run(t, html_report) for t in data["targets"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{source}: not a valid {WORKER_SCHEMA} document: {err}") from err
