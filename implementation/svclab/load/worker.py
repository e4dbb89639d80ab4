"""``python -m svclab.load.worker``: one headless locust run over interleaved targets.

The runner starts this inside the client pod's namespaces, so its traffic
leaves through that pod's node and passes the node's proxy.  It runs locust
in-process through its Python API (``Environment`` + ``LocalRunner``): all
users are spawned at once; when spawning completed the stats are reset and a
driver greenlet deals time out in slices (``svclab.load.slices``), pointing
every user at the slice's target, until each target has had ``--run-time``;
then the run stops.  With ``--cpu-pid`` it reads that process's CPU time at
every slice boundary and charges it to the slice's target.  The JSON it
writes is described in ``worker_protocol``; ``--html`` also saves locust's
own report (one per run, a row per target).

Importing this module monkey-patches the process with gevent (locust does on
import), which is why it is a separate process and not a library call.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gevent
import locust  # first: patches the process with gevent before other imports
from locust.env import Environment
from locust.html import get_html_report

from .procstat import read_process_cpu
from .rounds import RoundRecorder
from .slices import SliceLedger, TargetTally, plan_slices
from .users import TargetSwitch, configure, user_class_for
from .worker_protocol import WORKER_SCHEMA, WorkerOptions, parse_worker_argv

__all__ = ["main", "run_load"]


def _cpu_reader(pid: int | None) -> Callable[[], float | None]:
    """Cumulative CPU seconds of ``pid`` (children included), None when unreadable."""

    def read() -> float | None:
        if pid is None:
            return None
        try:
            return read_process_cpu(pid).total_s
        except (OSError, ValueError):  # gone, or another pid namespace
            return None

    return read


def _drive_slices(options: WorkerOptions, switch: TargetSwitch, env: Environment, ledger: SliceLedger) -> None:
    """Run the slice plan (in a greenlet), then stop the locust runner."""
    read_cpu = _cpu_reader(options.cpu_pid)
    env.stats.reset_all()  # count from the first slice on, not from spawning
    plan = plan_slices(
        list(switch.targets), run_time_s=options.run_time_s, slice_s=options.slice_s, rounds=options.rounds
    )
    for piece in plan:
        switch.current, switch.round = piece.target, piece.round
        ledger.begin(piece.target, time.monotonic(), read_cpu(), piece.round)
        gevent.sleep(piece.length_s)
    ledger.end(time.monotonic(), read_cpu())
    assert env.runner is not None
    env.runner.quit()


def _target_document(
    env: Environment, name: str, urls: Sequence[str], tally: TargetTally, recorder: RoundRecorder, request_type: str
) -> dict[str, Any]:
    entry = env.stats.get(name, request_type)
    return {
        "name": name,
        "urls": list(urls),
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "duration_s": tally.seconds,
        "slices": tally.slices,
        "response_times_ms": {str(k): v for k, v in sorted(entry.response_times.items())},
        "errors": {str(e.error): e.occurrences for e in env.stats.errors.values() if e.name == name},
        "proxy_cpu_s": tally.proxy_cpu_s,
        "rounds": recorder.document(name, tally.round_seconds),
    }


def run_load(options: WorkerOptions) -> dict[str, Any]:
    """Run locust headless over the interleaved targets; return the worker JSON as a dict."""
    switch = TargetSwitch(dict(options.targets))
    ledger = SliceLedger(list(switch.targets))
    user_class = configure(user_class_for(options.scenario), switch)
    recorder = RoundRecorder(list(switch.targets), user_class.request_type)
    env = Environment(user_classes=[user_class])
    runner = env.create_local_runner()
    counting = False  # requests of the spawning phase do not count (as env.stats.reset_all there)

    def on_spawning_complete(user_count: int) -> None:
        nonlocal counting
        counting = True
        gevent.spawn(_drive_slices, options, switch, env, ledger)

    def on_request(
        request_type: str, name: str, response_time: float, exception: Any, context: Any = None, **_: Any
    ) -> None:
        if counting:
            round_number = int((context or {}).get("round", 0))
            recorder.add(request_type, name, float(response_time), exception is not None, round_number)

    env.events.spawning_complete.add_listener(on_spawning_complete)  # type: ignore[no-untyped-call]
    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    runner.start(options.users, spawn_rate=options.users)
    assert runner.greenlet is not None
    runner.greenlet.join()
    document: dict[str, Any] = {
        "schema": WORKER_SCHEMA,
        "scenario": options.scenario.value,
        "users": options.users,
        "run_time_s": options.run_time_s,
        "slice_s": options.slice_s,
        "rounds": options.rounds,
        "targets": [
            _target_document(env, name, urls, ledger.tallies[name], recorder, user_class.request_type)
            for name, urls in switch.targets.items()
        ],
        "html_report": None,
        "locust_version": locust.__version__,
    }
    if options.html_out is not None:
        options.html_out.parent.mkdir(parents=True, exist_ok=True)
        options.html_out.write_text(get_html_report(env, show_download_link=False))  # type: ignore[no-untyped-call]
        document["html_report"] = str(options.html_out)
    return document


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # the runner never reads a half-written file


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_worker_argv(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    document = run_load(options)
    _write_atomically(options.json_out, json.dumps(document, indent=1) + "\n")
    for target in document["targets"]:
        print(
            f"{target['name']}: {target['requests']} requests, {target['failures']} failures "
            f"in {target['slices']} slices, {target['duration_s']:.1f}s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
