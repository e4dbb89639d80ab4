"""nftables mode, imperative part: one ``nft -f`` transaction per sync (a big full sync: several).

Like the iptables proxier, each sync re-plans only changed service ports,
assembles the desired ``NftRuleset`` and sends only the difference to what the
last successful sync installed: new/changed chains (flushed and refilled),
element additions and deletions in the verdict maps, and deletion of the
affinity sets that went away. A full sync (first sync or after a failure)
re-adds every object, flushes every chain and base map, and treats the
objects ``nft list`` shows in our table beyond the plan as stale. Affinity
sets are never flushed, so client stickiness survives syncs. A full sync of
more than ``full_sync_line_budget`` commands is applied as the bounded
transactions of ``batches`` (one transaction of every Service costs the
kernel time quadratic in its size); each leaves a state packets may meet.

A chain that went away is only flushed in that transaction and deleted, in
a transaction of its own, by the first sync at least a second later
(upstream's ``staleChains``): before Linux 6.2 the kernel notices only a
little later that no map element points to the chain any more, so deleting
it together with the element can fail. Should it come back meanwhile, it is
simply refilled. The executor is the nft adapter
(``svclab.proxy.adapters.nft``); a rejected transaction raises its ``NftError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.errors import NftError
from svclab.proxy.adapters.nft import NftExecutor
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.full_sync import FullSyncBookkeeping
from svclab.proxy.nftables.base import BASE_SETS, assemble, base_rules
from svclab.proxy.nftables.batches import DEFAULT_LINE_BUDGET, full_sync_size, full_sync_transactions
from svclab.proxy.nftables.plan import (
    TABLE,
    NftOptions,
    NftRuleset,
    NftServicePort,
    NftServiceRules,
    make_endpoint,
    make_service_port,
    plan_service,
)
from svclab.proxy.plan_cache import CachedPlan, plan_all, replan, sorted_plans
from svclab.proxy.provider import ProxyStateLike
from svclab.proxy.service_port import ServicePort, ServicePortName

__all__ = ["NftablesProxier", "STALE_CHAIN_DELAY_SECONDS", "transaction"]

log = logging.getLogger(__name__)

#: a base chain whose one rule every healthy table holds; checked to detect flushes
CANARY_CHAIN = "nat-prerouting"
#: a flushed chain is deleted by the first sync more than this long after it went away (upstream's value)
STALE_CHAIN_DELAY_SECONDS = 1.0


def _key_only(key: str) -> str:
    return key.split(" comment ", 1)[0]


def _full(new: NftRuleset, stale_chains: Sequence[str], stale_sets: Sequence[str]) -> list[str]:
    tbl = new.prefix
    out = [f'add table {tbl} {{ comment "rules for kube-proxy" ; }}']
    out += [f"add {kind} {tbl} {name}{decl}" for name, (kind, decl) in new.sets.items()]
    out += [f"flush {kind} {tbl} {name}" for name, (kind, _) in new.sets.items() if name in BASE_SETS]
    out += [f"add chain {tbl} {name}{decl}" for name, (decl, _) in new.chains.items()]
    out += [f"flush chain {tbl} {name}" for name in [*new.chains, *stale_chains]]
    out += [f"add rule {tbl} {name} {r}" for name, (_, rules) in new.chains.items() for r in rules]
    out += [f"add element {tbl} {m} {{ {k}{' : ' + v if v else ''} }}" for (m, k), v in new.elements.items()]
    out += [f"delete set {tbl} {name}" for name in stale_sets]
    return out


def transaction(
    new: NftRuleset, previous: NftRuleset | None, stale_chains: Sequence[str] = (), stale_sets: Sequence[str] = ()
) -> list[str]:
    """Commands turning ``previous`` (None: unknown) into ``new``. Side-effect-free.

    Chains that go away (``stale_chains`` on a full sync) are flushed, not deleted (module docstring)."""
    if previous is None:
        return _full(new, stale_chains, stale_sets)
    tbl = new.prefix
    out: list[str] = []
    changed = [
        n
        for n, c in new.chains.items()
        if n not in previous.chains or (previous.chains[n] is not c and previous.chains[n] != c)
    ]
    gone_chains = [n for n in previous.chains if n not in new.chains]
    out += [f"add chain {tbl} {n}{new.chains[n][0]}" for n in changed if n not in previous.chains]
    out += [f"flush chain {tbl} {n}" for n in [*changed, *gone_chains] if n in previous.chains]
    out += [f"add {kind} {tbl} {n}{decl}" for n, (kind, decl) in new.sets.items() if n not in previous.sets]
    old_el, new_el = previous.elements, new.elements
    out += [f"delete element {tbl} {m} {{ {_key_only(k)} }}" for (m, k), v in old_el.items() if new_el.get((m, k)) != v]
    out += [f"add rule {tbl} {n} {r}" for n in changed for r in new.chains[n][1]]
    out += [
        f"add element {tbl} {m} {{ {k}{' : ' + v if v else ''} }}"
        for (m, k), v in new_el.items()
        if old_el.get((m, k)) != v
    ]
    out += [f"delete {previous.sets[n][0]} {tbl} {n}" for n in previous.sets if n not in new.sets]
    return out


_Cache = dict[ServicePortName, CachedPlan[NftServiceRules]]


def _rule_total(services: Sequence[NftServiceRules]) -> int:
    return sum(len(rules) for svc in services for _, rules in svc.chains)


def _rule_total_of(objects: NftRuleset) -> int:
    return sum(len(rules) for _, rules in objects.chains.values())


def _objects(services: Sequence[NftServiceRules], family: str) -> NftRuleset:
    """The objects of some service ports only (no base objects), in the table of nft ``family``."""
    return NftRuleset(
        {n: ("", r) for svc in services for n, r in svc.chains},
        {n: (kind, decl) for svc in services for n, kind, decl in svc.sets},
        {(m, k): v for svc in services for m, k, v in svc.elements},
        family,
    )


@dataclass
class NftablesProxier(FullSyncBookkeeping):
    """The nftables ``ModeBackend``."""

    executor: NftExecutor
    options: NftOptions = field(default_factory=NftOptions)
    service_port_factory = staticmethod(make_service_port)
    endpoint_factory = staticmethod(make_endpoint)
    clock: Callable[[], float] = time.monotonic
    #: a full sync of more commands than this is applied as several transactions (``batches``)
    full_sync_line_budget: int = DEFAULT_LINE_BUDGET
    #: the last sync's transactions, applied in this order (more than one only for a split full sync)
    last_transactions: list[list[str]] = field(default_factory=list)
    #: flushed chains waiting for deletion: name -> when they went away (``clock``)
    stale_chains: dict[str, float] = field(default_factory=dict)
    _labels: Mapping[str, str] | None = None
    _cache: _Cache = field(default_factory=dict)
    _rules: int = 0  # rules in service chains, kept up to date without rescanning
    _pending_rules: int = 0

    def _plan_port(
        self, name: ServicePortName, port: ServicePort, eps: Sequence[Endpoint], labels: Mapping[str, str]
    ) -> NftServiceRules:
        if not isinstance(port, NftServicePort):
            raise TypeError(f"service port {name} was not built by the nftables factory")
        return plan_service(port, eps, self.options, labels)

    @property
    def last_transaction(self) -> list[str]:
        """Every command the last sync sent, in order (all its transactions together)."""
        return [line for tx in self.last_transactions for line in tx]

    def _full_sync(self, state: ProxyStateLike) -> tuple[list[list[str]], _Cache, set[str], set[str]]:
        """One transaction, or, past ``full_sync_line_budget`` commands, the bounded ones of ``batches``."""
        cache = plan_all(state, self._plan_port)
        services = sorted_plans(cache)
        ruleset = assemble(services, self.options)
        self._pending_rules = _rule_total(services)
        chains, sets = self.executor.list_objects()
        # forget what is gone (a deleted table), then delete what has waited long enough
        self.stale_chains = {c: t for c, t in self.stale_chains.items() if c in chains}
        chains -= self._delete_stale_chains()
        gone = {c for c in chains if c not in ruleset.chains}
        stale_chains, stale_sets = sorted(gone), sorted(s for s in sets if s not in ruleset.sets)
        if full_sync_size(ruleset) <= self.full_sync_line_budget:
            txs = [transaction(ruleset, None, stale_chains, stale_sets)]
        else:
            txs = full_sync_transactions(
                ruleset, services, stale_chains, stale_sets, line_budget=self.full_sync_line_budget
            )
        return txs, cache, gone, set(ruleset.chains)

    def _partial_sync(self, state: ProxyStateLike) -> tuple[list[list[str]], _Cache, set[str], set[str]]:
        """Diff only the changed service ports' objects (base objects never change)."""
        self._delete_stale_chains()
        cache, changes = replan(self._cache, state, self._plan_port)
        family = self.options.node.facts.nft_family
        before = _objects([change.old for change in changes if change.old is not None], family)
        after = _objects([change.new for change in changes if change.new is not None], family)
        self._pending_rules = self._rules + _rule_total_of(after) - _rule_total_of(before)
        gone = {n for n in before.chains if n not in after.chains}
        tx = transaction(after, before)
        return [tx] if tx else [], cache, gone, set(after.chains)

    def _delete_stale_chains(self) -> set[str]:
        """Delete, in a transaction of their own, the flushed chains stale for long enough; returns them.

        A failure is logged and the chains stay listed, so a later sync tries again."""
        deadline = self.clock() - STALE_CHAIN_DELAY_SECONDS
        due = sorted(c for c, since in self.stale_chains.items() if since < deadline)
        if not due:
            return set()
        try:
            prefix = f"{self.options.node.facts.nft_family} {TABLE}"
            self.executor.run("".join(f"delete chain {prefix} {c}\n" for c in due))
        except NftError as exc:
            log.warning("event=stale_chain_delete_failed chains=%d error=%s", len(due), exc)
            return set()
        for chain in due:
            del self.stale_chains[chain]
        return set(due)

    def _note_stale(self, gone: set[str], active: set[str]) -> None:
        """After a successful sync: ``gone`` chains were flushed, ``active`` ones are in use again."""
        now = self.clock()
        for chain in gone:
            self.stale_chains.setdefault(chain, now)
        for chain in active:
            self.stale_chains.pop(chain, None)

    def rules_missing(self) -> bool:
        """Our table was deleted or flushed (``nft delete table``, ``nft flush ruleset``): the
        prerouting hook's jump into the services chain is gone."""
        return not self.executor.has_rules(CANARY_CHAIN)

    def sync_rules(self, state: ProxyStateLike) -> dict[str, int]:
        """Plan and apply the sync's transaction(s). Raises ``NftError`` (next sync is full)."""
        # New node labels: topology may differ for every service.
        full = self.begin_sync(force=state.node_labels is not self._labels)
        self.last_transactions, cache, gone, active = self._full_sync(state) if full else self._partial_sync(state)
        with self.applying():
            # a split full sync stopped halfway leaves whole service ports and the previous
            # dispatch (``batches``); the failure makes the next sync full again
            for tx in self.last_transactions:
                self.executor.run("\n".join(tx) + "\n")
        self._note_stale(gone, active)
        self._labels, self._cache = state.node_labels, cache
        self._rules = self._pending_rules
        return {TABLE: self._rules + sum(len(r) for r in base_rules(self.options).values())}

    def cleanup(self) -> None:
        """Delete our table (``--cleanup``)."""
        self.executor.delete_table()
        self.stale_chains.clear()
        self.need_full_sync = True
