"""The proxy mode registry: one ``ModeSpec`` per mode, read by everything that offers modes.

A mode is a package under ``svclab.proxy`` (``iptables``, ``nftables``,
``ipvs``, ``userspace``) whose ``mode`` module defines ``MODE``, its
``ModeSpec``: how to build its backend from the node's options, how to
remove everything it installs, whether this host's kernel can run it, how to
read its rules dump, which metric families it feeds, and its colour in the
report. ``svclab proxy --mode``, the testbed spec, ``svclab up``,
``svclab bench proxy``, the report and the conformance harness all ask this
registry, so adding a mode means adding its package (and one line in
``_BUILTIN_MODULES``), or calling ``register()``, and nothing else.

The built-in modes are imported on the first lookup, not when this module
is imported: each mode module imports this one for ``ModeSpec``, and the
testbed asks for mode names without wanting any mode's code. Names come
back in registration order (built-ins first, in ``_BUILTIN_MODULES``
order), which is also the report's display order.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from svclab.proxy.dump import RulesDump
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import ModeBackend
from svclab.proxy.service_port import IPFamily

__all__ = [
    "IPTABLES_RULE_METRICS",
    "ModeSpec",
    "ModeUnsupported",
    "NFTABLES_RULE_METRICS",
    "RuleMetrics",
    "build_backend",
    "find",
    "get",
    "mode_names",
    "mode_specs",
    "register",
    "resolve",
    "unregister",
]

#: The modules defining the built-in modes' ``MODE``, in display order.
_BUILTIN_MODULES = (
    "svclab.proxy.iptables.mode",
    "svclab.proxy.nftables.mode",
    "svclab.proxy.ipvs.mode",
    "svclab.proxy.userspace.mode",
)


@dataclass(frozen=True, slots=True)
class RuleMetrics:
    """The metric families a mode's syncs feed (upstream ``pkg/proxy/metrics`` names).

    ``rules_total`` is a gauge, labelled by table when ``by_table`` (else
    the sum over tables); ``failures`` counts failed applies.
    """

    rules_total: str
    rules_help: str
    by_table: bool
    failures: str
    failures_help: str


#: What the iptables-based modes feed (the ipvs and userspace modes program iptables too).
IPTABLES_RULE_METRICS = RuleMetrics(
    "kubeproxy_sync_proxy_rules_iptables_total",
    "Total number of iptables rules owned by kube-proxy",
    True,
    "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
    "Cumulative proxy iptables restore failures",
)
NFTABLES_RULE_METRICS = RuleMetrics(
    "kubeproxy_sync_proxy_rules_nftables_total",
    "Total number of nftables rules owned by kube-proxy",
    False,
    "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
    "Cumulative proxy nftables sync failures",
)


def _always_supported() -> str | None:
    return None


def _every_family_usable(family: IPFamily) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class ModeSpec:
    """One proxy mode as the rest of svclab sees it.

    ``build(node, args)`` returns the mode's backend with real executors,
    from the node's options and the ``svclab proxy`` flags (``args``, which
    holds at least what ``add_arguments`` registered, or is a bare
    ``Namespace``: builders fall back to defaults). ``cleanup()`` removes
    everything the mode ever installs on this node. ``supported()`` is None
    when this host's kernel can run the mode, else why not (one phrase, e.g.
    "needs IPVS, which this kernel lacks"); ``uml_fallback`` says a
    User-Mode Linux guest can run it then (``spec.kernel: auto`` picks one).
    ``schedulers`` are the values ``spec.proxy.scheduler`` may take (empty:
    the mode takes none). ``fallback`` names the mode ``svclab proxy`` runs
    instead when this kernel cannot run this one (ipvs -> iptables, as
    kube-proxy did). ``rules_dump`` (None: the mode has no dump the
    conformance checks can read) and ``metrics`` are described in
    ``svclab.proxy.dump`` and ``RuleMetrics``; ``colour`` is the mode's
    colour in report charts (None: a fallback colour). ``families`` are
    the IP families ``build`` can make a proxier for (its ``NodeOptions.family``);
    ``family_unusable(family)`` says, at proxy start, why this host cannot run
    that family's proxier (None: it can): the iptables-based modes probe
    ``iptables`` / ``ip6tables`` as upstream's ``platformCheckSupported``; the
    default, like upstream's nftables mode, assumes both families work.
    """

    name: str
    build: Callable[[NodeOptions, argparse.Namespace], ModeBackend]
    cleanup: Callable[[], None]
    supported: Callable[[], str | None] = _always_supported
    uml_fallback: bool = False
    fallback: str | None = None
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    schedulers: tuple[str, ...] = ()
    rules_dump: RulesDump | None = None
    metrics: RuleMetrics = IPTABLES_RULE_METRICS
    colour: str | None = None
    families: tuple[IPFamily, ...] = (IPFamily.IPV4,)
    family_unusable: Callable[[IPFamily], str | None] = _every_family_usable


_registry: dict[str, ModeSpec] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    extras = dict(_registry)
    _registry.clear()
    for module_name in _BUILTIN_MODULES:
        spec = importlib.import_module(module_name).MODE
        if not isinstance(spec, ModeSpec):
            raise TypeError(f"{module_name}.MODE is not a ModeSpec")
        _registry[spec.name] = spec
    _registry.update(extras)


def register(spec: ModeSpec) -> ModeSpec:
    """Add a mode after the built-in ones; raises ``ValueError`` if the name is taken."""
    _load_builtins()
    if spec.name in _registry or spec.name == "none":  # "none" is the testbed's "no proxy"
        raise ValueError(f"proxy mode {spec.name!r} is already registered")
    _registry[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a mode added by ``register`` (tests); unknown names are ignored."""
    _load_builtins()
    _registry.pop(name, None)


def find(name: str) -> ModeSpec | None:
    """The mode called ``name``, or None (e.g. for ``none``)."""
    _load_builtins()
    return _registry.get(name)


def get(name: str) -> ModeSpec:
    """The mode called ``name``; raises ``ValueError`` naming the known ones."""
    spec = find(name)
    if spec is None:
        raise ValueError(f"unknown proxy mode {name!r} (known: {', '.join(mode_names())})")
    return spec


def mode_specs() -> tuple[ModeSpec, ...]:
    """Every registered mode, in display order."""
    _load_builtins()
    return tuple(_registry.values())


def mode_names() -> tuple[str, ...]:
    """Every registered mode's name, in display order."""
    return tuple(spec.name for spec in mode_specs())


class ModeUnsupported(ValueError):
    """This kernel cannot run the requested mode, and no fallback may be used."""


def resolve(name: str, *, allow_fallback: bool = True) -> tuple[ModeSpec, str | None]:
    """The mode to run when ``name`` is asked for, and why it differs (None: it does not).

    Raises ``ModeUnsupported`` when this kernel cannot run ``name`` and it has no
    usable fallback (or ``allow_fallback`` is false), ``ValueError`` for unknown names.
    """
    spec = get(name)
    reason = spec.supported()
    if reason is None:
        return spec, None
    fallback = find(spec.fallback) if spec.fallback and allow_fallback else None
    if fallback is None or fallback.supported() is not None:
        raise ModeUnsupported(f"proxy mode {name} cannot run here: {reason}")
    return fallback, reason


def build_backend(
    name: str, args: argparse.Namespace, node_ips: tuple[str, ...] = (), node: NodeOptions | None = None
) -> ModeBackend:
    """Mode ``name``'s backend with real executors, configured from ``svclab proxy`` flags
    (``--cluster-cidr``, ``--masquerade-all``, the mode's own) and the node's IPs; or, for one
    family of a dual-stack node, from that family's ``node`` options (``metaproxier``)."""
    if node is None:
        node = NodeOptions(
            cluster_cidr=getattr(args, "cluster_cidr", None),
            masquerade_all=getattr(args, "masquerade_all", False),
            node_ips=tuple(node_ips),
        )
    return get(name).build(node, args)
