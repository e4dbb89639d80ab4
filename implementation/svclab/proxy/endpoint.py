"""Endpoints as kube-proxy sees them (upstream ``pkg/proxy/endpoint.go``).

One ``Endpoint`` is one backend ``ip:port`` for one service port, with the
EndpointSlice conditions resolved the way upstream resolves nil values:
``ready`` defaults to true, ``serving`` to ``ready``, ``terminating`` to false.
``is_local`` says the backend runs on this proxy's node; ``zone_hints`` and
``node_hints`` are the slice's hints, ``hinted_for_node`` whether the node hints
name this proxy's node (decided by the tracker, which knows the node, as
``is_local`` is). Modes subclass it
through a factory to precompute chain names (upstream ``newEndpointInfo``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from svclab.proxy.service_port import ServicePortName

__all__ = ["Endpoint", "EndpointFactory", "EndpointsMap"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One backend of one service port. ``str()`` is ``ip:port`` (``[ip]:port`` for v6)."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    is_local: bool = False
    zone_hints: frozenset[str] = frozenset()
    node_name: str = ""
    node_hints: frozenset[str] = frozenset()
    hinted_for_node: bool = False

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"

    @property
    def serving_terminating(self) -> bool:
        """Usable only as a fallback when no endpoint is ready."""
        return self.serving and self.terminating


EndpointFactory = Callable[[Endpoint, ServicePortName], Endpoint]
EndpointsMap = Mapping[ServicePortName, Sequence[Endpoint]]
