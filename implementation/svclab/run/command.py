"""`svclab run [FILES...] [--testbed FILE]`: the main job.

For each testbed (default: every clusters/*.yaml except the opt-in
``OPT_IN_TESTBEDS``, which run when named; ``--testbed FILE`` adds one, e.g.
a user's own proxy to judge beside the reference modes): bring it up, run the
conformance suite, explain one example Service (``svclab.run.explain_phase``),
run the load tests, bring it down. Then write the report.
A testbed that cannot run on this machine (a kind testbed without Docker) is
skipped with the reason; a failure in one testbed is reported and the others
still run. Exit status 1 when a conformance test failed or a phase broke.

Testbeds run side by side, one lane each (``svclab.run.lanes``); load phases
start when every conformance phase is over and never overlap. ``--sequential``
runs one testbed at a time. The quick profile leaves out the conformance
tests marked ``breadth`` and judges the mode-neutral tests once per control
plane (``svclab.run.selection``; the report says what each testbed left out);
``--profile full`` runs every test everywhere.
"""

from __future__ import annotations

import argparse
import glob
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from svclab.run.lanes import LaneControls, plan_lanes, run_lanes
from svclab.run.progress import PhaseResult, Progress, TestbedResult, summary_lines
from svclab.run.selection import Selection, TestbedTraits, plan_selections

__all__ = ["OPT_IN_TESTBEDS", "add_arguments", "chosen_testbeds", "default_testbeds", "run"]

# Shipped specs run only when named: each shows one behaviour (ipvs falling
# back to iptables) at the cost of a whole testbed (up, conformance, load).
# dual-iptables.yaml: opt-in until its proxies have IPv6 rules and the time budget allows (issue 18)
OPT_IN_TESTBEDS = frozenset({"ipvs-fallback.yaml", "external-iptables.yaml", "dual-iptables.yaml", "dual-ipvs.yaml"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="*", type=Path, help="testbed specs (default: every clusters/*.yaml but the opt-in ones)"
    )
    parser.add_argument(
        "--testbed",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="run this spec too, beside the default testbeds or FILES (repeatable): e.g. your own proxy "
        "(spec.proxy.mode: external) judged beside the reference modes",
    )
    parser.add_argument("--skip-conformance", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument(
        "--skip-explain", action="store_true", help="no `svclab explain` example per testbed (the report's paths)"
    )
    parser.add_argument(
        "--profile",
        choices=["quick", "full"],
        default="quick",
        help="load profile: quick (default, the whole run in ~15 min) or full",
    )
    parser.add_argument(
        "--reports", type=Path, default=Path("reports"), help="where results and index.html go (default: reports/)"
    )
    parser.add_argument(
        "--conformance-args", default="", help="extra pytest arguments for the conformance suite, e.g. '-k traffic'"
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="one testbed at a time (slower; by default UML testbeds run beside "
        "the host-kernel ones, load phases never overlapping)",
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    progress(
        f"{result.testbed}: {name} {'done' if ok else 'FAILED'} in {seconds:.1f} s" + (f" ({detail})" if detail else "")
    )
    return True


def _assess(path: Path) -> tuple[Any, TestbedResult]:
    """Read a testbed's spec once: its result record with mode, provider and kernel, or the
    reason this machine skips it. A spec that cannot be read gives a failed ``setup`` phase."""
    from svclab.run.cluster import kernel_of, provider_problem
    from svclab.testbed.spec import load_spec

    try:
        spec = load_spec(path)
        # the mode's name, or `external: <command>` for the user's own proxy (issue 19)
        result = TestbedResult(path.stem, spec.proxy.label, spec.provider.value)
        result.skipped_reason = provider_problem(spec) or ""
        if not result.skipped_reason:
            result.kernel = kernel_of(spec)
    except Exception as exc:  # this testbed fails, with the reason; the others run
        return None, TestbedResult(
            path.stem, "", phases=[PhaseResult("setup", False, 0.0, f"{type(exc).__name__}: {exc}")]
        )
    return spec, result


def _run_testbed(
    path: Path,
    spec: Any,
    result: TestbedResult,
    selection: Selection,
    args: argparse.Namespace,
    progress: Progress,
    controls: LaneControls,
) -> TestbedResult:
    from svclab.run.cluster import RunCluster
    from svclab.run.conformance_phase import run_conformance

    testbed = path.stem
    if result.skipped_reason or spec is None:  # skipped, or the spec could not be read
        controls.conformance_over(testbed)
        progress(
            f"{testbed}: skipped: {result.skipped_reason}" if spec else f"{testbed}: FAILED: {result.phases[0].detail}"
        )
        return result
    if result.kernel.startswith("uml"):
        # A guest's suite is bound by its one-CPU latency and takes longest; the host
        # testbeds' load phases do not wait for it (the guest's CPU use is their noise).
        controls.conformance_over(testbed)
    cluster = RunCluster(f"run-{testbed}"[:20], path, args.reports)
    if not _timed(result, "up", cluster.up, progress):
        controls.conformance_over(testbed)
        cluster.down()
        return result
    mode = _effective_mode(cluster, result, progress)
    try:
        try:
            if not args.skip_conformance and not controls.stop.is_set():
                _timed(
                    result,
                    "conformance",
                    lambda: run_conformance(cluster.name, testbed, args.reports, selection),
                    progress,
                )
            if not args.skip_explain and not controls.stop.is_set():
                # before conformance_over: like the suite, it must not run beside another testbed's load phase
                from svclab.run.explain_phase import run_explain

                _timed(result, "explain", lambda: run_explain(cluster, testbed, args.reports), progress)
        finally:
            controls.conformance_over(testbed)
        if not args.skip_load and not controls.stop.is_set():
            _load(cluster, mode, result, args, progress, controls)
    finally:
        _timed(result, "down", cluster.down, progress)
    return result


def _load(
    cluster: Any, mode: str, result: TestbedResult, args: argparse.Namespace, progress: Progress, controls: LaneControls
) -> None:
    """The load phase, in quiet (no conformance phase running) and alone (the one load slot)."""
    from svclab.load import PROFILES
    from svclab.run.load_phase import run_load

    testbed = result.testbed
    controls.wait_for_quiet(testbed, progress)
    with controls.holding_load_slot(testbed, progress):
        profile = PROFILES[args.profile].for_runtime(result.kernel.split(" ")[0])
        _timed(
            result,
            "load",
            lambda: run_load(
                cluster, testbed, mode, profile, args.reports, lambda line: progress(f"{testbed}: load: {line}")
            ),
            progress,
        )


def _effective_mode(cluster: Any, result: TestbedResult, progress: Progress) -> str:
    """The mode the proxies really run; ``result.mode`` then names a fallback for the report."""
    from svclab.testbed.proxy_mode import describe_mode, effective_proxy_mode

    requested = result.mode
    try:
        effective = effective_proxy_mode(cluster.handle, cluster.handle.describe())
    except Exception as exc:  # the phases still run; the report keeps the spec's mode
        progress(f"{result.testbed}: cannot read the proxies' mode: {exc}")
        return requested
    result.mode = describe_mode(requested, effective)
    if effective != requested:
        progress(f"{result.testbed}: proxy mode {result.mode}")
    return effective


def _control_plane(spec: Any) -> tuple[str, str]:
    """Testbeds alike in this run the same API server and controllers (the mode-neutral tests' subject)."""
    return spec.provider.value, repr(spec.external_controllers)


def _environment_entry(result: TestbedResult) -> dict[str, object]:
    """A testbed's line in environment.json: what it ran on, and how each phase went."""
    return {
        "mode": result.mode,
        "provider": result.provider,
        "runtime": result.kernel.split(" ")[0] if result.kernel else "",
        "kernel": result.kernel,
        "skipped": result.skipped_reason,
        "phases": [
            {"name": p.name, "ok": p.ok, "seconds": round(p.seconds, 1), "detail": p.detail} for p in result.phases
        ],
    }


def default_testbeds(folder: Path = Path("clusters")) -> list[Path]:
    """Every spec in ``folder`` but the opt-in ones, sorted."""
    return sorted(Path(p) for p in glob.glob(str(folder / "*.yaml")) if Path(p).name not in OPT_IN_TESTBEDS)


def chosen_testbeds(files: list[Path], extra: list[Path], folder: Path = Path("clusters")) -> list[Path]:
    """``files`` (default: ``default_testbeds``), then each ``--testbed`` not among them."""
    chosen = list(files or default_testbeds(folder))
    return chosen + [path for path in dict.fromkeys(extra) if path not in chosen]


def run(args: argparse.Namespace) -> int:
    from svclab.report import render_report
    from svclab.report.environment import write_environment

    files = chosen_testbeds(args.files, args.testbed)
    if not files:
        print("svclab run: no testbeds (give FILES or run from a checkout with clusters/)")
        return 2
    args.reports.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    started = _now()
    assessed = {path: _assess(path) for path in files}
    lanes = plan_lanes(
        [(path, result.kernel.split(" ")[0] or "host") for path, (_, result) in assessed.items()],
        sequential=args.sequential,
    )
    progress(
        f"svclab run: {len(files)} testbeds, load profile {args.profile}, "
        f"results in {args.reports}/"
        + (
            f"; lanes side by side: {' | '.join(' '.join(p.stem for p in lane) for lane in lanes)}"
            if len(lanes) > 1
            else ""
        )
    )
    selections = plan_selections(
        [
            TestbedTraits(path, result.kernel.startswith("uml"), _control_plane(spec))
            for path, (spec, result) in assessed.items()
            if spec is not None and not result.skipped_reason
        ],
        profile=args.profile,
        user_args=args.conformance_args,
    )
    results = run_lanes(
        lanes,
        lambda path, controls: _run_testbed(
            path, *assessed[path], selections.get(path, Selection()), args, progress, controls
        ),
        progress,
    )
    ordered = [results[path] for path in files if path in results]
    write_environment(
        args.reports / "environment.json",
        started=started,
        finished=_now(),
        profile=args.profile,
        lanes=[[p.stem for p in lane] for lane in lanes],
        testbeds={r.testbed: _environment_entry(r) for r in ordered},
    )
    index = render_report(args.reports, args.reports)
    for line in summary_lines(ordered, str(index)):
        print(line)
    return 1 if any(r.failed for r in ordered) else 0
