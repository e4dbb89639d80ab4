"""The contract between the runner and the load generator process.

The runner builds a command line (``worker_argv``) that it runs inside the
client pod; the worker writes a JSON document to a path on the shared
filesystem, which the runner parses (``parse_worker_output``).  Both sides
live here so they cannot drift apart.  Side-effect-free.

Worker JSON (schema ``svclab.load-worker/v1``)::

    {"schema": ..., "scenario": "keepalive"|"new-connection", "urls": [str],
     "users": int, "requests": int, "failures": int, "duration_s": float,
     "response_times_ms": {"<ms>": count}, "errors": {"<message>": count},
     "html_report": str | null, "locust_version": str}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .model import Scenario, WorkerStats

__all__ = ["WORKER_SCHEMA", "parse_worker_output", "worker_argv"]

WORKER_SCHEMA = "svclab.load-worker/v1"


def worker_argv(*, python: str, urls: Sequence[str], scenario: Scenario, users: int,
                run_time_s: float, json_out: Path, html_out: Path | None = None) -> list[str]:
    """The command that runs one load generation in the client pod."""
    argv = [python, "-m", "svclab.load.worker", "--scenario", scenario.value,
            "--users", str(users), "--run-time", f"{run_time_s:g}", "--json", str(json_out)]
    for url in urls:
        argv += ["--url", url]
    if html_out is not None:
        argv += ["--html", str(html_out)]
    return argv


def parse_worker_output(text: str, *, source: str = "worker output") -> WorkerStats:
    """Parse the worker's JSON; ValueError naming ``source`` when it is malformed."""
    try:
        data = json.loads(text)
        if data.get("schema") != WORKER_SCHEMA:
            raise ValueError(f"schema is {data.get('schema')!r}, want {WORKER_SCHEMA}")
        return WorkerStats(
            requests=int(data["requests"]), failures=int(data["failures"]),
            duration_s=float(data["duration_s"]),
            response_times_ms={int(k): int(v) for k, v in data["response_times_ms"].items()},
            errors={str(k): int(v) for k, v in data.get("errors", {}).items()},
            html_report=data.get("html_report"))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{source}: not a valid {WORKER_SCHEMA} document: {err}") from err
