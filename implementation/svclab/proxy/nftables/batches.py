"""nftables mode: a full sync written as several bounded transactions. Side-effect-free.

Why: the kernel binds each rule's anonymous set (the ``numgen random mod N
vmap { ... }`` of every service chain) by walking the whole transaction
(``__nft_set_trans_bind``), so one transaction holding every Service costs
binds x transaction length: quadratic in the number of Services (3,000
Services 12-16 s, 10,000 Services 160-200 s here). Split into transactions of
at most ``DEFAULT_LINE_BUDGET`` commands, the same rules cost time linear in
their number.

The split keeps every intermediate state one a packet may safely meet:

1. **base**: the table, every set and map *declared* (not flushed: the
   maps still hold the previous dispatch while the rest is written), the base
   chains flushed and refilled in one go;
2. **service groups**: whole service ports, each one's affinity sets
   declared and all its chains added, flushed and refilled in the same
   transaction, so a chain is never seen empty and never jumps to a chain of
   its own port that is not yet written; until the last transaction the maps
   still send packets to the previous chains, each of which is complete;
3. **dispatch**: the base sets and maps flushed and refilled with every
   element at once (every chain they name is written by then), chains that
   went away flushed (no element points at them any more), sets that went
   away deleted.

So between two transactions a packet meets either a Service's previous rules
or its new ones, never a half-written chain or an empty map. The commands of
all transactions together are those of the single transaction
(``proxier.transaction(new, None, ...)``), in another order and grouping,
with one difference of spelling: a service port's rules go into their chain
as ``add chain NAME { RULE ; RULE ; }`` instead of one ``add rule NAME RULE``
each. The kernel receives the same rules in the same order (``nft list
table`` is identical), but nft 1.0.6 loads every chain of the table into its
cache before it evaluates an ``add rule`` (the kernel's chain dump grows with
the square of the chains: 1.5-2 s per ``nft`` run at 10,000 Services, paid
once per transaction), and not for ``add chain``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from svclab.proxy.nftables.base import BASE_CHAINS, BASE_SETS
from svclab.proxy.nftables.plan import NftRuleset, NftServiceRules

__all__ = ["DEFAULT_LINE_BUDGET", "full_sync_size", "full_sync_transactions"]

#: size of a service-group transaction, counted as the one transaction would spell it (sets,
#: chains added and flushed, rules); whole service ports, so one big port may exceed it
DEFAULT_LINE_BUDGET = 10_000


def _element(prefix: str, table_map: str, key: str, value: str) -> str:
    return f"add element {prefix} {table_map} {{ {key}{' : ' + value if value else ''} }}"


def _base(new: NftRuleset) -> list[str]:
    tbl = new.prefix
    out = [f'add table {tbl} {{ comment "rules for kube-proxy" ; }}']
    out += [f"add {kind} {tbl} {name}{decl}" for name, (kind, decl) in new.sets.items() if name in BASE_SETS]
    base = [name for name in new.chains if name in BASE_CHAINS]
    out += [f"add chain {tbl} {name}{new.chains[name][0]}" for name in base]
    out += [f"flush chain {tbl} {name}" for name in base]
    out += [f"add rule {tbl} {name} {rule}" for name in base for rule in new.chains[name][1]]
    return out


def _service_port(new: NftRuleset, svc: NftServiceRules) -> list[str]:
    """Its affinity sets, then each chain added, flushed and refilled by ``add chain NAME { rules }``."""
    tbl = new.prefix
    out = [f"add {kind} {tbl} {name}{decl}" for name, kind, decl in svc.sets]
    out += [f"add chain {tbl} {name}" for name, _ in svc.chains]
    out += [f"flush chain {tbl} {name}" for name, _ in svc.chains]
    out += [f"add chain {tbl} {name} {{ {' ; '.join(rules)} ; }}" for name, rules in svc.chains if rules]
    return out


def _size(svc: NftServiceRules) -> int:
    """A service port's commands in the one-transaction spelling: sets, chains added and flushed, rules."""
    return len(svc.sets) + 2 * len(svc.chains) + sum(len(rules) for _, rules in svc.chains)


def _service_groups(new: NftRuleset, services: Sequence[NftServiceRules], budget: int) -> Iterator[list[str]]:
    group: list[str] = []
    size = 0
    for svc in services:
        if group and size + _size(svc) > budget:
            yield group
            group, size = [], 0
        group += _service_port(new, svc)
        size += _size(svc)
    if group:
        yield group


def _dispatch(new: NftRuleset, stale_chains: Sequence[str], stale_sets: Sequence[str]) -> list[str]:
    tbl = new.prefix
    out = [f"flush {kind} {tbl} {name}" for name, (kind, _) in new.sets.items() if name in BASE_SETS]
    out += [_element(tbl, m, k, v) for (m, k), v in new.elements.items()]
    out += [f"flush chain {tbl} {name}" for name in stale_chains]
    out += [f"delete set {tbl} {name}" for name in stale_sets]
    return out


def full_sync_size(new: NftRuleset) -> int:
    """About how many commands the one-transaction full sync of ``new`` holds (sets and maps,
    chains added and flushed, rules, elements), without writing them."""
    rules = sum(len(rules) for _, rules in new.chains.values())
    return len(new.sets) + 2 * len(new.chains) + rules + len(new.elements)


def full_sync_transactions(
    new: NftRuleset,
    services: Sequence[NftServiceRules],
    stale_chains: Sequence[str] = (),
    stale_sets: Sequence[str] = (),
    *,
    line_budget: int = DEFAULT_LINE_BUDGET,
) -> list[list[str]]:
    """The full sync of ``new`` (assembled from ``services`` and the base objects) as transactions
    to apply in order: base, service groups of at most ``line_budget`` (``_size``), dispatch.

    ``stale_chains`` (in our table, not in ``new``) are flushed, ``stale_sets`` deleted, last."""
    if line_budget < 1:
        raise ValueError(f"line_budget must be positive, got {line_budget}")
    return [_base(new), *_service_groups(new, services, line_budget), _dispatch(new, stale_chains, stale_sets)]
