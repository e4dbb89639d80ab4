"""nftables mode, imperative part: one ``nft -f`` transaction per sync.

Like the iptables proxier, each sync re-plans only changed service ports,
assembles the desired ``NftRuleset`` and sends only the difference to what the
last successful sync installed: new/changed chains (flushed and refilled),
element additions and deletions in the verdict maps, and deletion of chains
and affinity sets that went away. A full sync (first sync or after a failure)
re-adds every object, flushes every chain and base map, and deletes stale
objects that ``nft list`` shows in our table. Affinity sets are never flushed,
so client stickiness survives syncs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.nftables.base import BASE_SETS, assemble
from svclab.proxy.nftables.plan import (TABLE, NftOptions, NftRuleset, NftServicePort,
                                        NftServiceRules, make_endpoint, make_service_port,
                                        plan_service)
from svclab.proxy.service_port import ServicePortName

__all__ = ["NftError", "NftExecutor", "NftablesProxier", "SubprocessNft", "transaction"]

_P = f"ip {TABLE}"


class NftError(RuntimeError):
    """``nft -f`` rejected a transaction; the message quotes the failing line."""

    def __init__(self, message: str, data: str = "", line: int = 0) -> None:
        lines = data.splitlines()
        if line and 0 < line <= len(lines):
            message = f"{message}\n> {line}: {lines[line - 1]}"
        super().__init__(message)


class NftExecutor(Protocol):
    """The system adapter; ``testing.FakeNft`` is the fake."""

    def run(self, transaction: str) -> None: ...
    def list_objects(self) -> tuple[set[str], set[str]]: ...  # (chains, sets+maps) in our table
    def delete_table(self) -> None: ...


def _key_only(key: str) -> str:
    return key.split(" comment ", 1)[0]


def _full(new: NftRuleset, stale_chains: Sequence[str], stale_sets: Sequence[str]) -> list[str]:
    out = [f'add table {_P} {{ comment "rules for kube-proxy" ; }}']
    out += [f"add {kind} {_P} {name}{decl}" for name, (kind, decl) in new.sets.items()]
    out += [f"flush {kind} {_P} {name}" for name, (kind, _) in new.sets.items() if name in BASE_SETS]
    out += [f"add chain {_P} {name}{decl}" for name, (decl, _) in new.chains.items()]
    out += [f"flush chain {_P} {name}" for name in [*new.chains, *stale_chains]]
    out += [f"delete chain {_P} {name}" for name in stale_chains]
    out += [f"add rule {_P} {name} {r}" for name, (_, rules) in new.chains.items() for r in rules]
    out += [f"add element {_P} {m} {{ {k}{' : ' + v if v else ''} }}" for (m, k), v in new.elements.items()]
    out += [f"delete set {_P} {name}" for name in stale_sets]
    return out


def transaction(new: NftRuleset, previous: NftRuleset | None, stale_chains: Sequence[str] = (),
                stale_sets: Sequence[str] = ()) -> list[str]:
    """Commands turning ``previous`` (None: unknown) into ``new``. Side-effect-free."""
    if previous is None:
        return _full(new, stale_chains, stale_sets)
    out: list[str] = []
    changed = [n for n, c in new.chains.items()
               if n not in previous.chains or (previous.chains[n] is not c and previous.chains[n] != c)]
    gone_chains = [n for n in previous.chains if n not in new.chains]
    out += [f"add chain {_P} {n}{new.chains[n][0]}" for n in changed if n not in previous.chains]
    out += [f"flush chain {_P} {n}" for n in [*changed, *gone_chains] if n in previous.chains]
    out += [f"add {kind} {_P} {n}{decl}" for n, (kind, decl) in new.sets.items() if n not in previous.sets]
    old_el, new_el = previous.elements, new.elements
    out += [f"delete element {_P} {m} {{ {_key_only(k)} }}" for (m, k), v in old_el.items()
            if new_el.get((m, k)) != v]
    out += [f"add rule {_P} {n} {r}" for n in changed for r in new.chains[n][1]]
    out += [f"add element {_P} {m} {{ {k}{' : ' + v if v else ''} }}" for (m, k), v in new_el.items()
            if old_el.get((m, k)) != v]
    out += [f"delete chain {_P} {n}" for n in gone_chains]
    out += [f"delete {previous.sets[n][0]} {_P} {n}" for n in previous.sets if n not in new.sets]
    return out


@dataclass
class NftablesProxier:
    """The nftables ``ModeBackend``."""

    executor: NftExecutor
    options: NftOptions = field(default_factory=NftOptions)
    need_full_sync: bool = True
    last_sync_full: bool = False
    service_port_factory = staticmethod(make_service_port)
    endpoint_factory = staticmethod(make_endpoint)
    applied: NftRuleset | None = None
    last_transaction: list[str] = field(default_factory=list)
    _labels: Mapping[str, str] | None = None
    _cache: dict[ServicePortName, tuple[NftServiceRules, object, object]] = field(default_factory=dict)

    def _plan_services(self, state: "_State", full: bool) -> list[NftServiceRules]:
        if full or state.node_labels is not self._labels:
            self._cache.clear()  # topology may differ for every service
            self._labels = state.node_labels
        for name in [n for n in self._cache if n not in state.service_ports]:
            del self._cache[name]
        out = []
        for name, port in sorted(state.service_ports.items()):
            eps = state.endpoints.get(name, ())
            cached = self._cache.get(name)
            if cached is None or cached[1] is not port or cached[2] is not eps:
                if not isinstance(port, NftServicePort):
                    raise TypeError(f"service port {name} was not built by the nftables factory")
                cached = (plan_service(port, eps, self.options, state.node_labels), port, eps)
                self._cache[name] = cached
            out.append(cached[0])
        return out

    def sync_rules(self, state: "_State") -> dict[str, int]:
        """Plan and apply one transaction. Raises ``NftError`` (next sync is full)."""
        full = self.last_sync_full = self.need_full_sync
        ruleset = assemble(self._plan_services(state, full), self.options)
        stale_chains: list[str] = []
        stale_sets: list[str] = []
        if full:
            chains, sets = self.executor.list_objects()
            stale_chains = sorted(c for c in chains if c not in ruleset.chains)
            stale_sets = sorted(s for s in sets if s not in ruleset.sets)
        self.last_transaction = transaction(ruleset, None if full else self.applied, stale_chains, stale_sets)
        try:
            if self.last_transaction:
                self.executor.run("\n".join(self.last_transaction) + "\n")
        except Exception:
            self.need_full_sync, self.applied = True, None
            raise
        self.need_full_sync, self.applied = False, ruleset
        return {TABLE: sum(len(r) for _, r in ruleset.chains.values())}

    def cleanup(self) -> None:
        """Delete our table (``--cleanup``)."""
        self.executor.delete_table()
        self.need_full_sync, self.applied = True, None


class _State(Protocol):
    @property
    def service_ports(self) -> Mapping[ServicePortName, object]: ...
    @property
    def endpoints(self) -> Mapping[ServicePortName, Sequence[Endpoint]]: ...
    @property
    def node_labels(self) -> Mapping[str, str]: ...


@dataclass
class SubprocessNft:
    """Runs the real ``nft``; ``prefix`` e.g. ``("ip", "netns", "exec", NS)``."""

    prefix: tuple[str, ...] = ()

    def _nft(self, *args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, "nft", *args], input=data, text=True,
                              capture_output=True, check=False)

    def run(self, transaction: str) -> None:
        result = self._nft("-f", "-", data=transaction)
        if result.returncode != 0:
            match = re.search(r":(\d+):", result.stderr)
            raise NftError(f"nft -f failed: {result.stderr.strip()}", transaction,
                           int(match.group(1)) if match else 0)

    def list_objects(self) -> tuple[set[str], set[str]]:
        chains = self._nft("list", "chains", "ip").stdout
        sets = self._nft("list", "sets", "ip").stdout + self._nft("list", "maps", "ip").stdout
        return (set(re.findall(rf"chain (\S+) {{", _only_our_table(chains))),
                set(re.findall(r"(?:set|map) (\S+) {", _only_our_table(sets))))

    def delete_table(self) -> None:
        self._nft("delete", "table", "ip", TABLE)


def _only_our_table(listing: str) -> str:
    blocks = re.split(r"^table ", listing, flags=re.M)
    return "".join(b for b in blocks if b.startswith(f"ip {TABLE} "))
