"""``python -m svclab.load.worker``: one headless locust run, stats as JSON.

The runner starts this inside the client pod's namespaces, so its traffic
leaves through that pod's node and passes the node's proxy.  It runs locust
in-process through its Python API (``Environment`` + ``LocalRunner``): all
users are spawned at once, counting starts when spawning completed (stats
reset then), and the run stops ``--run-time`` seconds later.  The JSON it
writes is described in ``worker_protocol``; ``--html`` also saves locust's
own report.

Importing this module monkey-patches the process with gevent (locust does on
import), which is why it is a separate process and not a library call.
"""

from __future__ import annotations

import locust  # first: patches the process with gevent before other imports

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust.env import Environment
from locust.html import get_html_report

from .model import Scenario
from .users import configure, user_class_for
from .worker_protocol import WORKER_SCHEMA

__all__ = ["main", "parse_args", "run_load"]


def _seconds(text: str) -> float:
    """``10``, ``10s``, ``1.5s``, ``2m`` -> seconds."""
    factor = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text[-1:], None)
    return float(text[:-1]) * factor if factor else float(text)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m svclab.load.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", required=True, help="target URL (repeatable)")
    parser.add_argument("--scenario", type=Scenario, choices=list(Scenario), default=Scenario.KEEPALIVE)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--run-time", type=_seconds, default=10.0, help="e.g. 10s")
    parser.add_argument("--json", type=Path, required=True, help="where to write the stats")
    parser.add_argument("--html", type=Path, default=None, help="also save locust's HTML report")
    return parser.parse_args(argv)


def run_load(*, urls: Sequence[str], scenario: Scenario, users: int, run_time_s: float,
             html_out: Path | None = None) -> dict[str, Any]:
    """Run locust headless and return the worker JSON document as a dict."""
    user_class = configure(user_class_for(scenario), urls)
    env = Environment(user_classes=[user_class], reset_stats=True)
    runner = env.create_local_runner()
    window: dict[str, float] = {}

    def on_spawning_complete(user_count: int) -> None:
        window["start"] = time.monotonic()
        gevent.spawn_later(run_time_s, runner.quit)

    env.events.spawning_complete.add_listener(on_spawning_complete)  # type: ignore[no-untyped-call]
    runner.start(users, spawn_rate=users)
    assert runner.greenlet is not None
    runner.greenlet.join()
    duration = time.monotonic() - window.get("start", time.monotonic())
    total = env.stats.total
    document: dict[str, Any] = {
        "schema": WORKER_SCHEMA, "scenario": scenario.value, "urls": list(urls), "users": users,
        "requests": total.num_requests, "failures": total.num_failures,
        "duration_s": duration,
        "response_times_ms": {str(k): v for k, v in sorted(total.response_times.items())},
        "errors": {str(e.error): e.occurrences for e in env.stats.errors.values()},
        "html_report": None, "locust_version": locust.__version__,
    }
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(get_html_report(env, show_download_link=False))  # type: ignore[no-untyped-call]
        document["html_report"] = str(html_out)
    return document


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    document = run_load(urls=args.url, scenario=args.scenario, users=args.users,
                        run_time_s=args.run_time, html_out=args.html)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix(args.json.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    tmp.replace(args.json)  # the runner never reads a half-written file
    print(f"{document['requests']} requests, {document['failures']} failures in "
          f"{document['duration_s']:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
