"""The measuring half of `svclab bench proxy`: runs inside the bench's network namespace.

``svclab.bench.proxy`` starts ``python -m svclab.bench.proxy_worker`` with
its network namespace already entered, so the mode's real backend
(``svclab.proxy.modes.build_backend``, no command prefix) programs that
namespace's kernel exactly as ``svclab proxy`` would on a node. The worker
prints one JSON line per finished step, in this order, so the parent can
bound each step with a timeout and still show what finished:

``setup``    building N Services + EndpointSlices and handing them to the Proxier;
``full``     the first sync: empty node -> everything programmed;
``partial``  syncs after one Service's endpoints changed (several samples);
``latency``  event-to-rule: from handing a change to the Proxier's handlers
             (the sync loop running, minSyncPeriod 0) to the end of the sync
             that contains it, alternating EndpointSlice and Service changes;
``floor``    the bare kernel tool on the full sync's own input: ``iptables-restore``
             / ``nft -f`` of the same text into a fresh namespace, or for ipvs the
             recorded ipset/iptables restores and netlink operations replayed
             without planning after a cleanup.

Every sync also reports how many processes it started (an audit hook on
``subprocess.Popen``) and the wall time spent in each executor method, which
separates kernel-tool time from Python planning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from svclab.bench.proxy_partial_floor import partial_floor
from svclab.bench.proxy_scenario import NODE_IP, NODE_NAME, Scenario, build_scenario, endpoint_change, service_change
from svclab.proxy import modes
from svclab.proxy.provider import Proxier, ProxierOptions, SyncReport

__all__ = ["CallLog", "TimedExecutor", "WholeTableFirstRestore", "main"]

_CLUSTER_CIDR = "10.0.0.0/8"


@dataclass
class CallLog:
    """Executor calls and started processes since the last ``take``."""

    calls: dict[str, list[float]] = field(default_factory=dict)  # method -> [count, seconds]
    processes: list[str] = field(default_factory=list)

    def record_call(self, name: str, seconds: float) -> None:
        entry = self.calls.setdefault(name, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds

    def take(self) -> dict[str, Any]:
        """The figures gathered so far, then start afresh."""
        taken = {
            "calls": {k: [int(v[0]), round(v[1], 6)] for k, v in self.calls.items()},
            "tool_seconds": round(sum(v[1] for v in self.calls.values()), 6),
            "processes": len(self.processes),
            "process_names": sorted({p.rsplit("/", 1)[-1] for p in self.processes}),
        }
        self.calls, self.processes = {}, []
        return taken


class TimedExecutor:
    """Wraps a system adapter and times each method call into a ``CallLog``.

    Calls are logged by method name, prefixed with ``label.`` when given
    (a backend with several adapters: ``ipset.restore``, ``iptables.restore``).
    """

    def __init__(self, inner: Any, log: CallLog, label: str = "") -> None:
        self._inner = inner
        self._log = log
        self._label = f"{label}." if label else ""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._log.record_call(self._label + name, time.perf_counter() - started)

        return timed


class WholeTableFirstRestore:
    """Wraps the iptables executor: its first ``restore`` replaces the tables instead (no ``--noflush``).

    Only for seeding a namespace that holds nothing but our rules, where both
    mean the same: iptables-nft's ``--noflush`` restore of a whole 10,000-Service
    table takes longer than any step timeout (it grows with rules x chains),
    which would leave the partial-sync figures at that scale unmeasured.
    ``reinstall`` runs afterwards to put back the jumps and canaries the
    table replacement removed.
    """

    def __init__(self, inner: Any, reinstall: Callable[[], None]) -> None:
        self._inner = inner
        self._reinstall = reinstall
        self._armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def restore(self, data: str, *, noflush: bool = True, counters: bool = False) -> None:
        if not self._armed:
            self._inner.restore(data, noflush=noflush, counters=counters)
            return
        self._armed = False
        self._inner.restore(data, noflush=False, counters=counters)
        self._reinstall()


class ThreadBoundBackend:
    """A ``ModeBackend`` built and driven on one dedicated thread.

    pyroute2 0.9's synchronous API (the ipvs mode's ``NetlinkIpvs``) runs its own
    event loop and raises "This event loop is already running" on a thread
    whose asyncio loop is running, as the Proxier's is. The sync still blocks
    the loop while it runs, as every other mode's does.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-backend")
        self.inner = self.call(build)

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        return self._thread.submit(function, *args).result()

    @property
    def service_port_factory(self) -> Any:
        return self.inner.service_port_factory

    @property
    def endpoint_factory(self) -> Any:
        return self.inner.endpoint_factory

    @property
    def last_sync_full(self) -> bool:
        return bool(self.inner.last_sync_full)

    def sync_rules(self, state: Any) -> Any:
        return self.call(self.inner.sync_rules, state)

    def rules_missing(self) -> bool:
        return bool(self.call(self.inner.rules_missing))

    def cleanup(self) -> None:
        self.call(self.inner.cleanup)


def _emit(step: str, **figures: Any) -> None:
    print(json.dumps({"step": step, **figures}), flush=True)


def _install_process_counter(log: CallLog) -> None:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "subprocess.Popen":
            log.processes.append(str(args[0]))

    sys.addaudithook(hook)


#: the attributes backends hold their system adapters in, and the label of their calls
_ADAPTERS = (("executor", ""), ("ipvs", "ipvs"), ("ipset", "ipset"), ("iptables", "iptables"))


def _make_proxier(
    mode: str, log: CallLog, on_sync: Callable[[SyncReport], None], *, seed_whole_table: bool = False
) -> Proxier:
    args = argparse.Namespace(cluster_cidr=_CLUSTER_CIDR, masquerade_all=False, ipvs_scheduler="rr")

    def build() -> Any:
        backend: Any = modes.build_backend(mode, args, (NODE_IP,))
        if seed_whole_table:
            # _bootstrap is the backend's own jump/canary installer; reusing it keeps the seed exact.
            backend.executor = WholeTableFirstRestore(backend.executor, backend._bootstrap)
        for attribute, label in _ADAPTERS:
            if hasattr(backend, attribute):
                setattr(backend, attribute, TimedExecutor(getattr(backend, attribute), log, label))
        return backend

    return Proxier(
        ThreadBoundBackend(build) if mode == "ipvs" else build(),
        ProxierOptions(node_name=NODE_NAME, min_sync_period=0.0, sync_period=3600.0, rules_check_period=0.0),
        on_sync=on_sync,
    )


async def _timed_sync(proxier: Proxier, log: CallLog) -> dict[str, Any]:
    log.take()
    started = time.perf_counter()
    report = await proxier.sync()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 6), "full": report.full, "rules": dict(report.rules_by_table), **log.take()}


def _sync_input(backend: Any) -> tuple[str, int]:
    """What the full sync handed the kernel tool, for the floor, and its size."""
    text = getattr(backend, "last_restore", None)
    if text is None and hasattr(backend, "last_transactions"):
        text = _NFT_TRANSACTION_BREAK.join("\n".join(tx) + "\n" for tx in backend.last_transactions)
    return (text or ""), len((text or "").encode())


def _restore_floor(argv: list[str], text: str, netns: str) -> dict[str, Any]:
    from svclab.testbed.local.nsexec import run_in_netns

    started = time.perf_counter()
    result = run_in_netns(argv, netns, input=text, text=True, capture_output=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        return {"error": f"{argv[0]} exited {result.returncode}: {result.stderr.strip()[:300]}"}
    return {"seconds": round(seconds, 6), "command": " ".join(argv)}


def _ensure_nfacct_objects(text: str, floor_netns: Sequence[str]) -> None:
    """Create in each floor namespace the nfacct objects ``text``'s ``-m nfacct`` matches name:
    the proxy made them in its own namespace first (``iptables.accounting``), and a restore
    naming a missing one fails."""
    from svclab.proxy.adapters.nfacct import NetlinkNfacct
    from svclab.testbed.local.nsexec import in_netns

    names = sorted(set(re.findall(r"--nfacct-name (\S+)", text)))
    for netns in floor_netns if names else ():
        with in_netns(netns):
            nfacct = NetlinkNfacct()
            for name in names:
                nfacct.ensure(name)


#: how ``_sync_input`` separates the transactions of one nftables sync (a split full sync has several)
_NFT_TRANSACTION_BREAK = "\n#: next transaction\n"


def _nft_floor(text: str, netns: str) -> dict[str, Any]:
    """``nft -f`` of each of the full sync's transactions in turn, as the backend applied them."""
    transactions = text.split(_NFT_TRANSACTION_BREAK)
    total = 0.0
    for tx in transactions:
        figures = _restore_floor(["nft", "-f", "-"], tx, netns)
        if "error" in figures:
            return figures
        total += figures["seconds"]
    command = "nft -f" if len(transactions) == 1 else f"nft -f, {len(transactions)} transactions"
    return {"seconds": round(total, 6), "command": command, "input_bytes": len(text.encode())}


def _floor_tool(mode: str, text: str, floor_netns: Sequence[str], *, seeded: bool) -> dict[str, Any]:
    """The bare tool on ``text``, each variant into its own fresh namespace.

    iptables and userspace: ``--noflush`` as the backend runs it, and the
    whole-table restore (no ``--noflush``; equal in an empty namespace), which
    the nft backend of iptables does several times faster (DESIGN.md
    "Rule-programming costs"); only the latter when ``seeded`` (the full sync
    restored whole tables itself, or was seeded so). A mode the bench has no floor for (one
    registered besides the built-in ones) reports that instead of a figure.
    """
    if mode == "nftables":
        return _nft_floor(text, floor_netns[0])
    if mode not in ("iptables", "userspace"):
        return {"error": f"no floor tool known for mode {mode}"}
    _ensure_nfacct_objects(text, floor_netns)
    if seeded:  # a whole-table full sync: its own command (or the --noflush floor timed out unseeded)
        return {**_restore_floor(["iptables-restore", "-w"], text, floor_netns[1]), "input_bytes": len(text.encode())}
    figures = _restore_floor(["iptables-restore", "-w", "--noflush"], text, floor_netns[0])
    whole = _restore_floor(["iptables-restore", "-w"], text, floor_netns[1])
    return {**figures, "input_bytes": len(text.encode()), "whole_table": whole}


def _floor_ipvs(bound: ThreadBoundBackend, recorded: dict[str, Any]) -> dict[str, Any]:
    return dict(bound.call(_replay_ipvs, bound.inner, recorded))


def _replay_ipvs(backend: Any, recorded: dict[str, Any]) -> dict[str, Any]:
    """Replay the full sync's ipset/iptables restores and netlink operations after a cleanup."""
    # the untimed adapters: the floor has no bookkeeping
    ipvs, ipset, iptables = backend.ipvs._inner, backend.ipset._inner, backend.iptables._inner
    backend.cleanup()
    started = time.perf_counter()
    ipvs.ensure_dummy_device(backend.options.dummy_device)
    ipset.restore(recorded["ipset"])
    iptables.restore(recorded["iptables"], noflush=True)
    for address in recorded["addresses"]:
        ipvs.bind_address(backend.options.dummy_device, address)
    for op in recorded["ops"]:
        ipvs.execute(op)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 6),
        "command": "ipset restore + iptables-restore + netlink",
        "operations": len(recorded["ops"]) + len(recorded["addresses"]) + 2,
    }


async def _partial_samples(proxier: Proxier, log: CallLog, scenario: Scenario, samples: int) -> dict[str, Any]:
    """One Service's endpoints change, then one sync; ``samples`` times on different Services."""
    runs = []
    count = len(scenario.services)
    for sample in range(samples):
        index = (sample * 7919 + count // 2) % count  # spread over the table, not just its head
        proxier.on_endpoint_slice(endpoint_change(scenario, index, 1_000 + sample))
        runs.append(await _timed_sync(proxier, log))
    seconds = [r["seconds"] for r in runs]
    return {"samples": seconds, "median": statistics.median(seconds), "runs": runs}


def _partial_floor_samples(mode: str, samples: int) -> dict[str, Any] | None:
    """The kernel's floor under a partial sync (``proxy_partial_floor``), timed ``samples`` times."""
    floor = partial_floor(mode)
    if floor is None:
        return None
    seconds = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run(floor.argv, input=floor.add, text=True, capture_output=True, check=True)
        seconds.append(round(time.perf_counter() - started, 6))
        subprocess.run(floor.argv, input=floor.remove, text=True, capture_output=True, check=True)
    return {"samples": seconds, "median": statistics.median(seconds), "command": " ".join(floor.argv)}


async def _event_latency(proxier: Proxier, scenario: Scenario, changes: int, completed: list[float]) -> dict[str, Any]:
    """Hand ``changes`` single-Service changes to the handlers, one at a time, with the loop running."""
    loop_task = asyncio.create_task(proxier.sync_loop())
    try:
        while not completed:  # the loop's own first sync, a no-op
            await asyncio.sleep(0.001)
        latencies: list[float] = []
        count = len(scenario.services)
        affinity: dict[int, bool] = {}
        for change in range(changes):
            index = (change * 104_729 + 13) % count
            seen = len(completed)
            handed = time.perf_counter()
            if change % 2 == 0:
                proxier.on_endpoint_slice(endpoint_change(scenario, index, 2_000 + change))
            else:
                before = service_change(index, affinity=affinity.get(index, False))
                affinity[index] = not affinity.get(index, False)
                proxier.on_service(before, service_change(index, affinity=affinity[index]))
            while len(completed) == seen:
                await asyncio.sleep(0)
            latencies.append(completed[seen] - handed)
    finally:
        loop_task.cancel()
        await asyncio.gather(loop_task, return_exceptions=True)
    ordered = sorted(latencies)
    return {
        "samples": [round(x, 6) for x in latencies],
        "p50": ordered[int(0.5 * (len(ordered) - 1))],
        "p99": ordered[round(0.99 * (len(ordered) - 1))],
    }


async def _run(options: argparse.Namespace) -> int:
    log = CallLog()
    _install_process_counter(log)
    completed: list[float] = []
    proxier = _make_proxier(
        options.mode,
        log,
        lambda report: completed.append(time.perf_counter()),
        seed_whole_table=options.seed_whole_table,
    )
    started = time.perf_counter()
    scenario = build_scenario(options.services, options.endpoints_per_service)
    for service, endpoint_slice in zip(scenario.services, scenario.slices, strict=True):
        proxier.on_service(None, service)
        proxier.on_endpoint_slice(endpoint_slice)
    _emit("setup", seconds=round(time.perf_counter() - started, 6))
    full = await _timed_sync(proxier, log)
    backend: Any = getattr(proxier.backend, "inner", proxier.backend)
    text, size = _sync_input(backend)
    # iptables restores whole tables on a full sync where it can (its floor is then the same restore)
    whole_table = not getattr(backend, "last_restore_noflush", True)
    recorded = (
        {
            "ipset": backend.last_ipset_restore,
            "iptables": backend.last_iptables_restore,
            "ops": list(backend.last_ops),
            "addresses": sorted(backend.applied.bound_addresses),
        }
        if options.mode == "ipvs"
        else {}
    )
    _emit("full", input_bytes=size, seeded=options.seed_whole_table, **full)
    partial = await _partial_samples(proxier, log, scenario, options.partial_samples)
    kernel_floor = _partial_floor_samples(options.mode, options.partial_samples)
    _emit("partial", **partial, **({"kernel_floor": kernel_floor} if kernel_floor else {}))
    _emit("latency", **await _event_latency(proxier, scenario, options.changes, completed))
    if options.mode == "ipvs":
        _emit("floor", **_floor_ipvs(proxier.backend, recorded))  # type: ignore[arg-type]
    else:
        floor_netns = options.floor_netns.split(",")
        _emit("floor", **_floor_tool(options.mode, text, floor_netns, seeded=options.seed_whole_table or whole_table))
    if options.mode == "userspace":
        backend.close_sockets()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svclab.bench.proxy_worker")
    parser.add_argument("--mode", required=True, choices=modes.mode_names())
    parser.add_argument("--services", type=int, required=True)
    parser.add_argument("--endpoints-per-service", type=int, default=10)
    parser.add_argument("--partial-samples", type=int, default=5)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument(
        "--floor-netns", default="", help="two fresh namespaces for the floors, comma-separated (not ipvs)"
    )
    parser.add_argument(
        "--seed-whole-table",
        action="store_true",
        help="iptables: full sync by whole-table restore (see WholeTableFirstRestore)",
    )
    options = parser.parse_args(argv)
    try:
        return asyncio.run(_run(options))
    except subprocess.CalledProcessError as exc:
        print(json.dumps({"step": "error", "error": f"{exc}: {exc.stderr}"}), flush=True)
        return 1
    except Exception as exc:
        print(json.dumps({"step": "error", "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
