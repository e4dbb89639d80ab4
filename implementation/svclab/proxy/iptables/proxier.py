"""iptables mode, imperative part: apply a ``Ruleset`` with one ``iptables-restore``.

Each sync re-plans only the service ports that changed (cached
``ServiceRules`` for the rest), assembles the full desired ``Ruleset`` and
sends ``iptables-restore --noflush`` only the chains whose content differs
from what the last successful sync installed, plus ``-X`` for chains that
went away. So a change that only moves endpoints rewrites that Service's
chains and nothing else (upstream rewrites KUBE-SERVICES every time; see
DESIGN.md "Rule-programming costs"). A full sync (first sync, after a
failure, or when the ``KUBE-PROXY-CANARY`` chain vanished because someone
flushed the tables) rewrites every chain and deletes stale ``KUBE-*`` chains
found by ``iptables-save``: by restoring ``filter`` and ``nat`` whole, their
foreign rules kept (``whole_table.py``, no ``--noflush``: seconds instead of
minutes at 10,000 Services), or, when their save output cannot be restored
or such a restore failed once, with ``--noflush`` as upstream. The executor
is the iptables adapter (``svclab.proxy.adapters.iptables``), shared with the
ipvs and userspace modes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.registry import Collector

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.iptables import IptablesExecutor, Rule
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.full_sync import FullSyncBookkeeping
from svclab.proxy.iptables.plan import (
    KUBE_EXTERNAL_SERVICES,
    KUBE_FIREWALL,
    KUBE_FORWARD,
    KUBE_MARK_MASQ,
    KUBE_NODEPORTS,
    KUBE_POSTROUTING,
    KUBE_PROXY_CANARY,
    KUBE_PROXY_FIREWALL,
    KUBE_SERVICES,
    SERVICE_CHAIN_PREFIXES,
    Chain,
    IptablesServicePort,
    PlanOptions,
    Ruleset,
    ServiceRules,
    assemble,
    is_large_cluster,
    localhost_node_ports,
    make_endpoint,
    make_service_port,
    plan_service,
    shared_chains,
)
from svclab.proxy.iptables.whole_table import TABLES, restorable, whole_table_restore
from svclab.proxy.plan_cache import CachedPlan, plan_all, replan, sorted_plans
from svclab.proxy.provider import ProxyStateLike
from svclab.proxy.service_port import ServicePort, ServicePortName

__all__ = ["IptablesProxier", "JUMP_RULES", "render_restore", "restore_input"]

log = logging.getLogger(__name__)


def _c(text: str) -> str:
    return f'-m comment --comment "{text}"'


#: Jumps from the built-in chains into ours (upstream ``iptablesJumpChains``).
JUMP_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "filter",
        "INPUT",
        f"-m conntrack --ctstate NEW {_c('kubernetes externally-visible service portals')} -j {KUBE_EXTERNAL_SERVICES}",
    ),
    (
        "filter",
        "FORWARD",
        f"-m conntrack --ctstate NEW {_c('kubernetes externally-visible service portals')} -j {KUBE_EXTERNAL_SERVICES}",
    ),
    ("filter", "INPUT", f"{_c('kubernetes health check service ports')} -j {KUBE_NODEPORTS}"),
    ("filter", "FORWARD", f"-m conntrack --ctstate NEW {_c('kubernetes service portals')} -j {KUBE_SERVICES}"),
    ("filter", "OUTPUT", f"-m conntrack --ctstate NEW {_c('kubernetes service portals')} -j {KUBE_SERVICES}"),
    ("filter", "FORWARD", f"{_c('kubernetes forwarding rules')} -j {KUBE_FORWARD}"),
    (
        "filter",
        "INPUT",
        f"-m conntrack --ctstate NEW {_c('kubernetes load balancer firewall')} -j {KUBE_PROXY_FIREWALL}",
    ),
    (
        "filter",
        "OUTPUT",
        f"-m conntrack --ctstate NEW {_c('kubernetes load balancer firewall')} -j {KUBE_PROXY_FIREWALL}",
    ),
    (
        "filter",
        "FORWARD",
        f"-m conntrack --ctstate NEW {_c('kubernetes load balancer firewall')} -j {KUBE_PROXY_FIREWALL}",
    ),
    ("filter", "INPUT", f"-j {KUBE_FIREWALL}"),
    ("filter", "OUTPUT", f"-j {KUBE_FIREWALL}"),
    ("nat", "OUTPUT", f"{_c('kubernetes service portals')} -j {KUBE_SERVICES}"),
    ("nat", "PREROUTING", f"{_c('kubernetes service portals')} -j {KUBE_SERVICES}"),
    ("nat", "POSTROUTING", f"{_c('kubernetes postrouting rules')} -j {KUBE_POSTROUTING}"),
)
BASE_CHAINS = (
    ("filter", KUBE_EXTERNAL_SERVICES),
    ("filter", KUBE_NODEPORTS),
    ("filter", KUBE_SERVICES),
    ("filter", KUBE_FORWARD),
    ("filter", KUBE_PROXY_FIREWALL),
    ("filter", KUBE_FIREWALL),
    ("nat", KUBE_SERVICES),
    ("nat", KUBE_POSTROUTING),
    ("nat", KUBE_NODEPORTS),
    ("nat", KUBE_MARK_MASQ),
)
CANARY_TABLES = ("mangle", "nat", "filter")


def is_service_chain(name: str) -> bool:
    """Chains we own per service (and may delete when unused)."""
    return name.startswith(SERVICE_CHAIN_PREFIXES)


def chains_in_save(text: str) -> set[str]:
    """Chain names declared in ``iptables-save`` output."""
    return {line[1:].split()[0] for line in text.splitlines() if line.startswith(":")}


def render_restore(writes: Sequence[Chain], deletes: Sequence[tuple[str, str]]) -> str:
    """``--noflush`` restore text: (re)write ``writes``, then delete ``deletes``. Side-effect-free."""
    out: list[str] = []
    for table in ("filter", "nat"):
        chains = [c for c in writes if c.table == table]
        gone = [name for t, name in deletes if t == table]
        out.append(f"*{table}")
        out += [f":{c.name} - [0:0]" for c in chains] + [f":{name} - [0:0]" for name in gone]
        out += [f"-A {c.name} {r}" for c in chains for r in c.rules]
        out += [f"-X {name}" for name in gone]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def restore_input(new: Ruleset, stale: Mapping[str, Sequence[str]] | None = None) -> str:
    """Full-sync restore text: every chain of ``new``, and ``-X`` for ``stale`` chains."""
    deletes = [(table, name) for table, names in (stale or {}).items() for name in names]
    return render_restore(list(new.chains.values()), deletes)


def _count(chains: Iterable[Chain], sign: int, counts: dict[str, int]) -> None:
    for chain in chains:
        counts[chain.table] = counts.get(chain.table, 0) + sign * len(chain.rules)


_Cache = dict[ServicePortName, CachedPlan[ServiceRules]]
# restore text, whether it needs --noflush, shared chains, per-service cache and rule counts after the sync
_SyncPlan = tuple[str, bool, dict[tuple[str, str], Chain], _Cache, dict[str, int]]


@dataclass
class IptablesProxier(FullSyncBookkeeping):
    """The iptables ``ModeBackend``: incremental planning and atomic apply."""

    executor: IptablesExecutor
    options: PlanOptions = field(default_factory=PlanOptions)
    service_port_factory = staticmethod(make_service_port)
    endpoint_factory = staticmethod(make_endpoint)
    last_restore: str = ""
    last_restore_noflush: bool = True  # False: last_restore replaced filter and nat whole
    chains_touched: int = 0
    _labels: Mapping[str, str] | None = None
    _shared: dict[tuple[str, str], Chain] = field(default_factory=dict)
    _cache: _Cache = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    # upstream's large-cluster mode, decided at each sync; only re-planned Services follow a change
    large_cluster: bool = False
    #: endpoints of every service port as of the last successful sync (the large-cluster measure)
    endpoint_total: int = 0
    #: full syncs restore filter and nat whole (module docstring); switched off by a failed one
    whole_table_restore: bool = True
    #: extra /metrics collectors (the nfacct counters, see ``accounting``)
    collectors: tuple[Collector, ...] = ()

    def _jumps(self) -> list[Rule]:
        return [
            (table, chain, rule)
            for table, chain, rule in JUMP_RULES
            if not (chain == "INPUT" and KUBE_FIREWALL in rule and not localhost_node_ports(self.options))
        ]

    def _bootstrap(self) -> None:
        for table, chain in BASE_CHAINS:
            self.executor.ensure_chain(table, chain)
        for table, chain, rule in self._jumps():
            self.executor.ensure_rule(table, chain, rule)
        for table in CANARY_TABLES:
            self.executor.ensure_chain(table, KUBE_PROXY_CANARY)

    def _plan_port(
        self, name: ServicePortName, port: ServicePort, eps: Sequence[Endpoint], labels: Mapping[str, str]
    ) -> ServiceRules:
        if not isinstance(port, IptablesServicePort):
            raise TypeError(f"service port {name} was not built by the iptables factory")
        return plan_service(port, eps, self.options, labels, self.large_cluster)

    def _full_sync(self, state: ProxyStateLike) -> _SyncPlan:
        cache = plan_all(state, self._plan_port)
        ruleset = assemble(sorted_plans(cache), self.options)
        shared = {k: c for k, c in ruleset.chains.items() if not is_service_chain(k[1])}
        counts: dict[str, int] = {}
        _count(ruleset.chains.values(), 1, counts)
        saved = {t: self.executor.save(t, counters=True) for t in TABLES} if self.whole_table_restore else {}
        active = {name for (t, name) in ruleset.chains if t == "nat"}
        in_nat = chains_in_save(saved["nat"] if saved else self.executor.save("nat"))
        stale = {"nat": sorted(c for c in in_nat if is_service_chain(c) and c not in active)}
        self.chains_touched = len(ruleset.chains) + len(stale["nat"])
        if saved and all(restorable(text) for text in saved.values()):
            self.executor.ensure_chain("mangle", KUBE_PROXY_CANARY)  # the restore writes the other two
            return whole_table_restore(saved, ruleset, self._jumps(), BASE_CHAINS), False, shared, cache, counts
        self._bootstrap()
        return restore_input(ruleset, stale), True, shared, cache, counts

    def _partial_sync(self, state: ProxyStateLike) -> _SyncPlan:
        """Re-plan only the changed Services; rewrite shared chains only if their content moved."""
        cache, changes = replan(self._cache, state, self._plan_port)
        counts = dict(self._counts)
        writes: list[Chain] = []
        deletes: list[tuple[str, str]] = []
        shared_dirty = False
        for change in changes:
            old, new = change.old, change.new
            old_chains = {(c.table, c.name): c for c in old.chains} if old else {}
            new_chains = new.chains if new else ()
            writes += [
                c
                for c in new_chains
                if old_chains.get((c.table, c.name), c).rules != c.rules or (c.table, c.name) not in old_chains
            ]
            _count(old.chains if old else (), -1, counts)
            _count(new_chains, 1, counts)
            kept = {(c.table, c.name) for c in new_chains}
            deletes += [key for key in old_chains if key not in kept]
            shared_dirty |= (old.shared if old else ()) != (new.shared if new else ())
        shared = self._shared
        if shared_dirty:
            shared = shared_chains(sorted_plans(cache), self.options)
            writes = [c for k, c in shared.items() if self._shared.get(k) != c] + writes
            _count(self._shared.values(), -1, counts)
            _count(shared.values(), 1, counts)
        self.chains_touched = len(writes) + len(deletes)
        return (render_restore(writes, deletes) if self.chains_touched else ""), True, shared, cache, counts

    def _count_endpoints(self, state: ProxyStateLike, full: bool) -> int:
        """Endpoints of every service port (upstream's large-cluster measure). A partial sync
        adjusts the last total by the changed ports only: recounting hashes every port name,
        tens of milliseconds at 10,000 Services (issue 16)."""
        if full:
            return sum(len(state.endpoints.get(name, ())) for name in state.service_ports)
        total = self.endpoint_total
        for name in state.changed_ports:
            old = self._cache.get(name)
            total -= len(old.endpoints) if old is not None else 0
            total += len(state.endpoints.get(name, ())) if name in state.service_ports else 0
        return total

    def rules_missing(self) -> bool:
        """Someone flushed our rules (e.g. a firewall reload): a canary chain is gone."""
        return not all(self.executor.chain_exists(t, KUBE_PROXY_CANARY) for t in CANARY_TABLES)

    def sync_rules(self, state: ProxyStateLike) -> dict[str, int]:
        """Plan and apply; see the module docstring. Raises ``IptablesRestoreError``."""
        # New node labels: topology may differ for every service.
        full = self.begin_sync(force=state.node_labels is not self._labels)
        total = self._count_endpoints(state, full)
        self.large_cluster = is_large_cluster(total)
        text, noflush, shared, cache, counts = self._full_sync(state) if full else self._partial_sync(state)
        self.last_restore, self.last_restore_noflush = text, noflush
        with self.applying():
            if text:
                self._restore(text, noflush)
        self._labels, self._shared, self._cache, self._counts = state.node_labels, shared, cache, counts
        self.endpoint_total = total
        return {t: counts.get(t, 0) for t in ("filter", "nat")}

    def _restore(self, text: str, noflush: bool) -> None:
        try:
            # a whole-table restore carries the foreign rules' counters
            self.executor.restore(text, noflush=noflush, counters=not noflush)
        except IptablesRestoreError as exc:
            if not noflush:  # a foreign rule iptables-restore cannot read back: never again
                self.whole_table_restore = False
                log.warning("event=whole_table_restore_failed fallback=noflush error=%s", exc)
            raise

    def cleanup(self) -> None:
        """Remove jump rules, our chains and the canaries (``--cleanup``)."""
        for table, chain, rule in JUMP_RULES:
            self.executor.delete_rule(table, chain, rule)
        for table in ("filter", "nat"):
            ours = [c for c in chains_in_save(self.executor.save(table)) if c.startswith("KUBE-")]
            text = (
                f"*{table}\n"
                + "".join(f":{c} - [0:0]\n" for c in ours)
                + "".join(f"-X {c}\n" for c in ours)
                + "COMMIT\n"
            )
            self.executor.restore(text, noflush=True)
        self.executor.delete_chains("mangle", [KUBE_PROXY_CANARY])
        self.need_full_sync = True
