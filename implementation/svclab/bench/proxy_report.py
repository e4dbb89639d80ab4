"""Results of `svclab bench proxy` and how they are printed.

``ModeResult`` gathers the worker's step records (see ``proxy_worker``) for one
mode and Service count, plus timeouts and errors; ``render_result`` turns it
into the figure lines, with issue 5's goals printed beside the figures they
concern (figures only, never pass/fail). Rendering is side-effect-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "GOAL_OVERHEAD",
    "GOAL_PARTIAL_SECONDS",
    "GOAL_SERVICES",
    "ModeResult",
    "STEPS",
    "render_result",
    "render_userspace_cpu",
    "result_from_json",
]

#: the worker's steps, in the order it reports them
STEPS = ("setup", "full", "partial", "latency", "floor")
#: issue 5: full-sync overhead above the floor, and one-Service partial sync, at this many Services
GOAL_SERVICES = 10_000
GOAL_OVERHEAD = 0.50
GOAL_PARTIAL_SECONDS = 0.050
_LABEL = 37


@dataclass
class ModeResult:
    """One mode at one Service count; filled step by step while the worker reports."""

    mode: str
    services: int
    endpoints_per_service: int
    kernel: str = ""
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeouts: dict[str, float] = field(default_factory=dict)
    error: str = ""
    #: the same measurement with the full sync seeded by a whole-table restore (iptables, after a timeout)
    seeded: ModeResult | None = None

    def overhead(self) -> float | None:
        """Full-sync time above the floor, as a fraction of the floor (None if either is missing)."""
        full, floor = self.steps.get("full"), self.steps.get("floor")
        if not full or not floor or "seconds" not in floor or floor["seconds"] <= 0:
            return None
        return float(full["seconds"]) / float(floor["seconds"]) - 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def result_from_json(data: dict[str, Any]) -> ModeResult:
    """Inverse of ``ModeResult.to_json`` (results coming back from a UML guest)."""
    seeded = data.get("seeded")
    return ModeResult(**{**data, "seeded": result_from_json(seeded) if seeded else None})


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _duration(seconds: float) -> str:
    return _ms(seconds) if seconds < 1 else f"{seconds:.3f} s"


def _calls(calls: dict[str, list[float]]) -> str:
    ordered = sorted(calls.items(), key=lambda kv: -kv[1][1])
    return ", ".join(f"{name} {int(count)}x {_duration(seconds)}" for name, (count, seconds) in ordered)


def _where_time_went(record: dict[str, Any]) -> str:
    python = record["seconds"] - record["tool_seconds"]
    tools = "/".join(record["process_names"]) or "none"
    return (
        f"{record['processes']} processes ({tools}); executor calls {_duration(record['tool_seconds'])} "
        f"[{_calls(record['calls'])}], Python {_duration(max(python, 0.0))}"
    )


def _goal(result: ModeResult, text: str) -> str:
    return f"   (goal {text} at {GOAL_SERVICES:,} Services)" if result.services == GOAL_SERVICES else ""


def _full_lines(result: ModeResult, full: dict[str, Any]) -> list[str]:
    rules = ", ".join(f"{table} {count}" for table, count in sorted(full["rules"].items()))
    label = "full sync (seeded, whole-table)" if full.get("seeded") else "full sync"
    return [
        f"  {label:<{_LABEL}}{_duration(full['seconds'])}",
        f"  {'':<{_LABEL}}{_where_time_went(full)}",
        f"  {'':<{_LABEL}}rules: {rules}"
        + (f"; tool input {full['input_bytes'] / 1e6:.1f} MB" if full["input_bytes"] else ""),
    ]


def _partial_lines(result: ModeResult, partial: dict[str, Any]) -> list[str]:
    samples = partial["samples"]
    median_run = sorted(partial["runs"], key=lambda r: r["seconds"])[len(samples) // 2]
    kind = "full!" if median_run["full"] else "partial"
    return [
        f"  {'partial sync (1 Service endpoints)':<{_LABEL}}median {_ms(partial['median'])} "
        f"(min {_ms(min(samples))}, max {_ms(max(samples))}, {len(samples)} samples, {kind})"
        f"{_goal(result, '<= 50 ms')}",
        f"  {'':<{_LABEL}}median sync: {_where_time_went(median_run)}",
        *_kernel_floor_lines(partial.get("kernel_floor")),
    ]


def _kernel_floor_lines(floor: dict[str, Any] | None) -> list[str]:
    """The partial-sync floor (``proxy_partial_floor``): one rule added, same namespace, same run."""
    if not floor:
        return []
    samples = floor["samples"]
    return [
        f"  {'partial floor (kernel validation)':<{_LABEL}}median {_ms(floor['median'])} "
        f"(min {_ms(min(samples))}, max {_ms(max(samples))}; {floor['command']} of one rule)"
    ]


def _floor_lines(result: ModeResult, floor: dict[str, Any]) -> list[str]:
    if "error" in floor:
        return [f"  {'floor':<{_LABEL}}failed: {floor['error']}"]
    lines = [f"  {'floor':<{_LABEL}}{_duration(floor['seconds'])}   ({floor['command']}, same input)"]
    overhead = result.overhead()
    if overhead is not None:
        lines.append(f"  {'full-sync overhead above floor':<{_LABEL}}{overhead:+.0%}{_goal(result, '<= +50%')}")
    whole = floor.get("whole_table")
    if whole and "error" in whole:
        lines.append(f"  {'floor, whole-table restore':<{_LABEL}}failed: {whole['error']}")
    elif whole:
        full = result.steps["full"]["seconds"] if "full" in result.steps else None
        above = f"; full sync is {full / whole['seconds'] - 1:+.0%} above it" if full and whole["seconds"] > 0 else ""
        lines.append(
            f"  {'floor, whole-table restore':<{_LABEL}}{_duration(whole['seconds'])}   "
            f"({whole['command']}, same input, empty namespace{above})"
        )
    return lines


def _step_lines(result: ModeResult, step: str) -> list[str]:
    record = result.steps[step]
    if step == "setup":
        return [f"  {'setup (objects, handlers)':<{_LABEL}}{_duration(record['seconds'])}"]
    if step == "full":
        return _full_lines(result, record)
    if step == "partial":
        return _partial_lines(result, record)
    if step == "latency":
        return [
            f"  {'event-to-rule latency':<{_LABEL}}p50 {_ms(record['p50'])}   p99 {_ms(record['p99'])}"
            f"   ({len(record['samples'])} single-Service changes, minSyncPeriod 0)"
        ]
    return _floor_lines(result, record)


def render_result(result: ModeResult) -> str:
    """The figure lines of one mode at one Service count."""
    lines = [
        f"{result.mode}, {result.services:,} Services x {result.endpoints_per_service} endpoints "
        f"(kernel {result.kernel}):"
    ]
    lines += _steps_lines(result)
    if result.seeded is not None:
        lines.append(
            "  then again, the full sync seeded by a whole-table restore (iptables-restore without "
            "--noflush; the same in a namespace holding only our rules):"
        )
        lines += ["  " + line for line in _steps_lines(result.seeded)]
    return "\n".join(lines)


def _steps_lines(result: ModeResult) -> list[str]:
    lines: list[str] = []
    stopped = False
    for step in STEPS:
        if step in result.steps:
            lines += _step_lines(result, step)
        elif step in result.timeouts:
            lines.append(f"  {step:<{_LABEL}}timed out after {result.timeouts[step]:g} s")
            stopped = True
        elif not stopped and result.error:
            lines.append(f"  {step:<{_LABEL}}failed: {result.error}")
            stopped = True
        else:
            lines.append(f"  {step:<{_LABEL}}skipped (an earlier step did not finish)")
    return lines


def render_userspace_cpu(figures: dict[str, Any]) -> str:
    """``bench_userspace`` figures: proxy CPU per 10,000 requests and throughput vs direct."""
    if "error" in figures:
        return f"userspace proxy CPU per 10,000 requests: failed: {figures['error']}"
    lines = [f"userspace proxy CPU per 10,000 requests ({figures['topology']}):"]
    for copy_mode, (bulk, keepalive, new_connection) in figures["paths"].items():
        lines.append(
            f"  {'copy ' + copy_mode:<{_LABEL}}keep-alive {keepalive:.2f} CPU s   new connection "
            f"{new_connection:.2f} CPU s   bulk {bulk:.0f} MB/s = {bulk / figures['direct']:.0%} "
            f"of direct {figures['direct']:.0f} MB/s"
        )
    return "\n".join(lines)
