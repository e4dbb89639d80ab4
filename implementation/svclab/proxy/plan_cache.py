"""Each service port's plan from the last successful sync, so a partial sync re-plans only what changed.

The iptables and nftables backends plan one service port at a time
(``plan_service``) and keep the result with the inputs it came from. A full
sync plans every port (``plan_all``); a partial sync (``replan``) visits the
ports the trackers report changed, skips one whose ``ServicePort`` and
endpoints are the very objects it was planned from (the trackers hand out
new objects only on change), re-plans the others and drops the deleted
ones, and says what changed (``PlanChange``) so the backend can send the
kernel only that. Ports are visited in name order (namespace, Service, port,
protocol), which is also the order of every ruleset. Both functions return a
new mapping; the backend keeps it only once the kernel accepted the sync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.provider import ProxyStateLike
from svclab.proxy.service_port import ServicePort, ServicePortName

__all__ = ["CachedPlan", "PlanChange", "PlanPort", "plan_all", "replan", "sorted_plans"]

Plan = TypeVar("Plan")
#: plans one service port: (name, port, its endpoints, node labels) -> the mode's plan
PlanPort = Callable[[ServicePortName, ServicePort, Sequence[Endpoint], Mapping[str, str]], Plan]


@dataclass(frozen=True, slots=True)
class CachedPlan(Generic[Plan]):
    """A port's plan and the very objects it was planned from."""

    plan: Plan
    port: ServicePort
    endpoints: Sequence[Endpoint]


@dataclass(frozen=True, slots=True)
class PlanChange(Generic[Plan]):
    """One port's plan before and after a partial sync (None: absent)."""

    name: ServicePortName
    old: Plan | None
    new: Plan | None


def plan_all(state: ProxyStateLike, plan_port: PlanPort[Plan]) -> dict[ServicePortName, CachedPlan[Plan]]:
    """Every port of ``state`` planned, in name order. Side-effect-free (if ``plan_port`` is)."""
    return {
        name: CachedPlan(plan_port(name, port, eps, state.node_labels), port, eps)
        for name, port in sorted(state.service_ports.items())
        for eps in (state.endpoints.get(name, ()),)
    }


def replan(
    cache: Mapping[ServicePortName, CachedPlan[Plan]], state: ProxyStateLike, plan_port: PlanPort[Plan]
) -> tuple[dict[ServicePortName, CachedPlan[Plan]], list[PlanChange[Plan]]]:
    """``cache`` updated for ``state.changed_ports``, and what changed, in name order (see module docstring)."""
    updated = dict(cache)
    changes: list[PlanChange[Plan]] = []
    for name in sorted(state.changed_ports):
        old = updated.get(name)
        port = state.service_ports.get(name)
        eps = state.endpoints.get(name, ())
        if old is not None and old.port is port and old.endpoints is eps:
            continue
        new = CachedPlan(plan_port(name, port, eps, state.node_labels), port, eps) if port is not None else None
        if old is None and new is None:
            continue  # added and deleted again between two syncs
        if new is None:
            updated.pop(name, None)
        else:
            updated[name] = new
        changes.append(PlanChange(name, old.plan if old else None, new.plan if new else None))
    return updated, changes


def sorted_plans(cache: Mapping[ServicePortName, CachedPlan[Plan]]) -> list[Plan]:
    """The cached plans in name order."""
    return [cache[name].plan for name in sorted(cache)]
