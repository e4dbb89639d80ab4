"""`svclab run [FILES...]`: the main job.

For each testbed (default: every clusters/*.yaml): bring it up, run the
conformance suite, run the load tests, bring it down. Then write the report.
A testbed that cannot run on this machine (a kind testbed without Docker) is
skipped with the reason; a failure in one testbed is reported and the others
still run. Exit status 1 when a conformance test failed or a phase broke.
"""

from __future__ import annotations

import argparse
import glob
import time
from datetime import datetime, timezone
from pathlib import Path

from svclab.run.progress import PhaseResult, Progress, TestbedResult, summary_lines

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", type=Path,
                        help="testbed specs (default: every clusters/*.yaml)")
    parser.add_argument("--skip-conformance", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--profile", choices=["quick", "full"], default="quick",
                        help="load profile: quick (default, the whole run in ~15 min) or full")
    parser.add_argument("--reports", type=Path, default=Path("reports"),
                        help="where results and index.html go (default: reports/)")
    parser.add_argument("--conformance-args", default="",
                        help="extra pytest arguments for the conformance suite, e.g. '-k traffic'")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timed(result: TestbedResult, name: str, action: object, progress: Progress) -> bool:
    """Run one phase, record it; False when it raised."""
    progress(f"{result.testbed}: {name} ...")
    start = time.monotonic()
    try:
        value = action()  # type: ignore[operator]
    except Exception as exc:  # one testbed's failure must not stop the others
        seconds = time.monotonic() - start
        result.phases.append(PhaseResult(name, False, seconds, f"{type(exc).__name__}: {exc}"))
        progress(f"{result.testbed}: {name} FAILED after {seconds:.1f} s: {exc}")
        return False
    seconds = time.monotonic() - start
    detail = value.describe() if hasattr(value, "describe") else ""
    ok = getattr(value, "ok", True)
    result.phases.append(PhaseResult(name, ok, seconds, detail))
    progress(f"{result.testbed}: {name} {'done' if ok else 'FAILED'} in {seconds:.1f} s"
             + (f" ({detail})" if detail else ""))
    return True


def _run_testbed(path: Path, args: argparse.Namespace, progress: Progress) -> TestbedResult:
    from svclab.load import PROFILES
    from svclab.run.cluster import RunCluster, kernel_of, provider_problem
    from svclab.run.conformance_phase import run_conformance
    from svclab.testbed.spec import load_spec

    spec = load_spec(path)
    testbed = path.stem
    result = TestbedResult(testbed, spec.proxy.mode.value, spec.provider.value)
    problem = provider_problem(spec)
    if problem:
        result.skipped_reason = problem
        progress(f"{testbed}: skipped: {problem}")
        return result
    result.kernel = kernel_of(spec)
    cluster = RunCluster(f"run-{testbed}"[:20], path, args.reports)
    if not _timed(result, "up", cluster.up, progress):
        cluster.down()
        return result
    try:
        if not args.skip_conformance:
            extra = tuple(args.conformance_args.split())
            _timed(result, "conformance",
                   lambda: run_conformance(cluster.name, testbed, args.reports,
                                           extra_args=extra), progress)
        if not args.skip_load:
            from svclab.run.load_phase import run_load

            _timed(result, "load", lambda: run_load(
                cluster, testbed, spec.proxy.mode.value, PROFILES[args.profile], args.reports,
                lambda line: progress(f"{testbed}: load: {line}")), progress)
    finally:
        _timed(result, "down", cluster.down, progress)
    return result


def _environment_entry(result: TestbedResult) -> dict[str, object]:
    """A testbed's line in environment.json: what it ran on, and how each phase went."""
    return {"mode": result.mode, "provider": result.provider,
            "runtime": result.kernel.split(" ")[0] if result.kernel else "",
            "kernel": result.kernel, "skipped": result.skipped_reason,
            "phases": [{"name": p.name, "ok": p.ok, "seconds": round(p.seconds, 1),
                        "detail": p.detail} for p in result.phases]}


def run(args: argparse.Namespace) -> int:
    from svclab.report import render_report
    from svclab.report.environment import write_environment

    files = args.files or sorted(Path(p) for p in glob.glob("clusters/*.yaml"))
    if not files:
        print("svclab run: no testbeds (give FILES or run from a checkout with clusters/)")
        return 2
    args.reports.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    started = _now()
    progress(f"svclab run: {len(files)} testbeds, load profile {args.profile}, "
             f"results in {args.reports}/")
    results = [_run_testbed(path, args, progress) for path in files]
    write_environment(args.reports / "environment.json", started=started, finished=_now(),
                      profile=args.profile, testbeds={
                          r.testbed: _environment_entry(r) for r in results})
    index = render_report(args.reports, args.reports)
    for line in summary_lines(results, str(index)):
        print(line)
    return 1 if any(r.failed for r in results) else 0
