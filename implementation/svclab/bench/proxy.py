"""`svclab bench proxy`: how long each proxy mode takes to program its rules.

For each mode and Service count N (E ready endpoints per Service, ClusterIP,
TCP; see ``proxy_scenario``), in a throwaway network namespace
``svclab-bench-<pid>-<mode>-<N>`` (plus ``...-floor`` and ``...-floor-whole``, all deleted
afterwards, also on failure or timeout; never the root namespace):

* full sync: empty node -> every Service programmed, through the mode's real
  backend (``svclab.proxy.modes.build_backend``, as ``svclab proxy`` builds it);
* partial sync after one Service's endpoints changed (median of a few), and
  beside it (iptables, nftables) the kernel's floor under any partial sync: one
  rule committed into the same namespace (``proxy_partial_floor``);
* the floor: the bare kernel tool on the full sync's own input
  (``iptables-restore`` / ``nft -f`` of the same text; for ipvs the recorded
  ipset/iptables restores and netlink operations without planning), and the
  full sync's overhead above it;
* event-to-rule latency p50/p99: from handing a change to the Proxier's
  handlers (sync loop running, minSyncPeriod 0) to the end of its sync;
* userspace also: proxy CPU seconds per 10,000 requests (``bench_userspace``).

The measuring runs in ``proxy_worker`` inside the namespace; this module
bounds every step with ``--step-timeout`` ("timed out after X s") and prints
figures, never pass/fail. The goals of issue 5 are printed beside them. The
modes are the registry's (``svclab.proxy.modes``); one this kernel cannot
run but a User-Mode Linux guest can (ipvs without IPVS) runs inside a guest.

iptables-nft's ``--noflush`` restore of a whole table grows faster than
linearly (about rules x chains: 1,000 Services 6 s, 3,000 Services 166 s
here), which is why the iptables mode's full sync restores whole tables
(``svclab.proxy.iptables.whole_table``; its floor is then that same
command). Should a full sync still time out (a node whose tables cannot be
restored whole falls back to ``--noflush``), the remaining steps are
measured again after a full sync seeded by a whole-table restore, so the
partial-sync figures exist at that scale too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from svclab.bench.proxy_report import STEPS, ModeResult, render_result, render_userspace_cpu
from svclab.proxy import modes as proxy_modes

__all__ = ["add_arguments", "run", "run_mode"]

_REPO = Path(__file__).resolve().parents[3]
_PEER = "bench-peer"


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("Service counts must be positive")
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=proxy_modes.mode_names(),
        action="append",
        help="mode to measure (repeatable; default: every mode)",
    )
    parser.add_argument(
        "--services",
        type=_counts,
        default=[1000, 10000],
        metavar="N[,N...]",
        help="Service counts (default 1000,10000)",
    )
    parser.add_argument("--endpoints-per-service", type=int, default=10)
    parser.add_argument("--changes", type=int, default=50, help="changes for event-to-rule latency")
    parser.add_argument("--partial-samples", type=int, default=5)
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="bound on each step (setup, full, partial, latency, floor)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1000 Services, 10 changes, short userspace CPU run (for tests)"
    )
    parser.add_argument(
        "--no-uml",
        action="store_true",
        help="run every mode in this kernel, even one it cannot run (used inside the UML guest)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def _create_netns(name: str, *, with_node_ip: bool) -> None:
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        if with_node_ip:  # an address for NodePort/host-IP logic; a veth pair needs no module
            from svclab.bench.proxy_scenario import NODE_IP

            _ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", _PEER)
            _ip("-n", name, "addr", "add", f"{NODE_IP}/24", "dev", "eth0")
            _ip("-n", name, "link", "set", _PEER, "up")
            _ip("-n", name, "link", "set", "eth0", "up")
    except subprocess.CalledProcessError:
        _delete_netns(name)
        raise


def _delete_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """The worker and the kernel tools it started (its own session, so its own group)."""
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def _drive_worker(argv: Sequence[str], netns: str, step_timeout: float, result: ModeResult) -> None:
    from svclab.testbed.local.nsexec import preexec_entering

    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=preexec_entering(netns),
        start_new_session=True,
        limit=1 << 24,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        for step in STEPS:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), step_timeout)
            except TimeoutError:
                result.timeouts[step] = step_timeout
                return
            if not line:
                stderr = (await process.stderr.read()).decode(errors="replace").strip()
                result.error = f"worker exited before {step}: {stderr[-800:]}"
                return
            data = json.loads(line)
            if data["step"] == "error":
                result.error = f"{step}: {data['error']}"
                return
            result.steps[data["step"]] = data
    finally:
        _kill_group(process)
        await process.wait()


def _measure(mode: str, services: int, options: argparse.Namespace, *, seed_whole_table: bool) -> ModeResult:
    """One worker run in fresh namespaces (removed afterwards, whatever happens)."""
    result = ModeResult(mode, services, options.endpoints_per_service, kernel=os.uname().release)
    netns = f"svclab-bench-{os.getpid()}-{mode}-{services}"
    floors = [f"{netns}-floor", f"{netns}-floor-whole"]
    argv = [
        sys.executable,
        "-m",
        "svclab.bench.proxy_worker",
        "--mode",
        mode,
        "--services",
        str(services),
        "--endpoints-per-service",
        str(options.endpoints_per_service),
        "--changes",
        str(options.changes),
        "--partial-samples",
        str(options.partial_samples),
        "--floor-netns",
        ",".join(floors),
    ]
    if seed_whole_table:
        argv.append("--seed-whole-table")
    try:
        _create_netns(netns, with_node_ip=True)
        for floor in floors:
            _create_netns(floor, with_node_ip=False)
        asyncio.run(_drive_worker(argv, netns, options.step_timeout, result))
    except (OSError, subprocess.CalledProcessError) as exc:
        result.error = f"setting up namespaces: {exc}"
    finally:
        for name in (*floors, netns):
            _delete_netns(name)
    return result


def run_mode(mode: str, services: int, options: argparse.Namespace) -> ModeResult:
    """Measure one mode at one Service count.

    When the iptables full sync times out, the remaining steps are measured in
    a second run whose full sync is seeded by a whole-table restore
    (``proxy_worker.WholeTableFirstRestore``), reported beside the timeout.
    """
    result = _measure(mode, services, options, seed_whole_table=False)
    if mode == "iptables" and "full" in result.timeouts:
        result.seeded = _measure(mode, services, options, seed_whole_table=True)
    return result


def _guest_argv(mode: str, options: argparse.Namespace, out: Path) -> list[str]:
    """``svclab bench proxy`` for one mode inside the guest, in this kernel, results to ``out``."""
    return [
        sys.executable,
        "-m",
        "svclab.cli",
        "bench",
        "proxy",
        "--mode",
        mode,
        "--no-uml",
        "--services",
        ",".join(map(str, options.services)),
        "--endpoints-per-service",
        str(options.endpoints_per_service),
        "--changes",
        str(options.changes),
        "--partial-samples",
        str(options.partial_samples),
        "--step-timeout",
        str(options.step_timeout),
        "--json",
        str(out),
    ]


def _run_in_uml(mode: str, options: argparse.Namespace) -> list[ModeResult]:
    """One mode inside a UML guest (the host kernel cannot run it); results come back as JSON."""
    import tempfile

    from svclab.bench.proxy_report import result_from_json
    from svclab.testbed.local.uml import IPVS_MODULES, UmlError, run_in_uml

    shared = Path(tempfile.mkdtemp(prefix="svclab-uml-bench-"))
    out = shared / f"{mode}.json"
    budget = options.step_timeout * len(STEPS) * len(options.services) + 120
    failed = [ModeResult(mode, n, options.endpoints_per_service, kernel="uml") for n in options.services]
    try:
        uml = run_in_uml(
            _guest_argv(mode, options, out),
            workdir=_REPO,
            modules=IPVS_MODULES,
            memory="3G",
            timeout=budget,
            shared_dir=shared,
            writable_paths=[shared],
            # the guest runs this very tree, also where the installed svclab is another checkout's
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(_REPO / "implementation"),
            },
        )
    except UmlError as exc:
        for result in failed:
            result.error = str(exc)
        return failed
    if not out.exists():
        tail = uml.output_path.read_text(errors="replace")[-800:] if uml.output_path.exists() else ""
        for result in failed:
            result.error = (
                f"UML guest exited {uml.exit_code}"
                + (" (timed out)" if uml.timed_out else "")
                + f" without results: {tail}"
            )
        return failed
    results = [result_from_json(item) for item in json.loads(out.read_text())]
    for result in results:
        result.kernel = f"{result.kernel} (User-Mode Linux guest, booted in {uml.boot_seconds:.1f} s)"
    return results


def _userspace_cpu(options: argparse.Namespace) -> dict[str, Any]:
    """``bench_userspace`` in a child process (its namespaces ``svclab-bench-<child>-*``), bounded."""
    sizes = (
        {"bulk_bytes": 32 << 20, "requests": 2_000, "new_conn_requests": 500, "rounds": 1}
        if options.quick
        else {"bulk_bytes": 256 << 20, "requests": 20_000, "new_conn_requests": 5_000, "rounds": 2}
    )
    code = (
        "import json,sys; from svclab.bench.proxy_userspace import bench_userspace; "
        f"f = bench_userspace(**{sizes!r}); "
        "print(json.dumps({'topology': f.topology, 'direct': f.direct.bulk_mb_s, "
        "'paths': {m.value: [p.bulk_mb_s, p.cpu_s_per_10k_keepalive, p.cpu_s_per_10k_new_connection] "
        "for m, p in f.proxied.items()}}))"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = child.communicate(timeout=options.step_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return {"error": f"timed out after {options.step_timeout:g} s"}
    finally:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for name in (line.split()[0] for line in listed.splitlines() if line.strip()):
            if name.startswith(f"svclab-bench-{child.pid}-"):
                _delete_netns(name)
    if child.returncode != 0:
        return {"error": f"exited {child.returncode}: {stderr.strip()[-500:]}"}
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("svclab bench proxy: needs root (it creates network namespaces)", file=sys.stderr)
        return 2
    if args.quick:
        args.services, args.changes = [1000], min(args.changes, 10)
    modes = args.mode or list(proxy_modes.mode_names())
    print(
        f"proxy: {', '.join(map(str, args.services))} Services x {args.endpoints_per_service} endpoints "
        f"(ClusterIP, TCP, endpoints on another node); step timeout {args.step_timeout:g} s; "
        f"load average {os.getloadavg()[0]:.2f} at start (2 cores shared with other work)"
    )
    results: list[ModeResult] = []
    for mode in modes:
        spec = proxy_modes.get(mode)
        if spec.uml_fallback and not args.no_uml and spec.supported() is not None:
            mode_results = _run_in_uml(mode, args)
            for result in mode_results:
                print(render_result(result))
            results += mode_results
            continue
        for count in args.services:
            result = run_mode(mode, count, args)
            print(render_result(result), flush=True)
            results.append(result)
        if mode == "userspace":
            print(render_userspace_cpu(_userspace_cpu(args)), flush=True)
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=1))
    return 0
