"""The testbed spec: one YAML file describes one testbed.

A ``Testbed`` wraps a kind ``Cluster`` config verbatim (so the same file can
drive a real kind cluster) and adds what kind has no words for: the provider,
the kernel to run on, the proxy mode with its sync periods, and which of our
controllers run.

``load_spec(path)`` parses and validates a file and returns a frozen
``Testbed``. Validation is strict and exhaustive: unknown fields and bad
values are all collected and raised together in one ``SpecError`` whose
lines read ``FILE: FIELD.PATH: what is allowed``, so a user fixes the file in
one go. ``parse_spec(document, source)`` does the same for an already loaded
mapping and has no side effects.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import yaml

from svclab.proxy import modes as proxy_modes
from svclab.testbed.checker import Checker as _Checker
from svclab.testbed.checker import Duration, SpecError, parse_duration
from svclab.testbed.external import EXTERNAL, ExternalCommand, check_external

from . import networking

__all__ = [
    "API_VERSION",
    "Controller",
    "Duration",
    "ENDPOINT_CONTROLLERS",
    "KIND",
    "KernelChoice",
    "NodeRole",
    "NodeSpec",
    "ProviderKind",
    "ProxyMode",
    "ProxySpec",
    "SpecError",
    "Testbed",
    "WORKLOAD_CONTROLLERS",
    "default_controllers",
    "load_spec",
    "parse_duration",
    "parse_spec",
]

API_VERSION = "svclab.dev/v1alpha1"
KIND = "Testbed"
KIND_API_VERSION = "kind.x-k8s.io/v1alpha4"
DEFAULT_POD_SUBNET, DEFAULT_SERVICE_SUBNET = networking.default_subnets("ipv4")

# kind Cluster fields we accept as they are (kind's own schema, v1alpha4); the
# ones we use are validated more closely.
_KIND_CLUSTER_FIELDS = frozenset(
    {
        "kind",
        "apiVersion",
        "name",
        "networking",
        "nodes",
        "featureGates",
        "runtimeConfig",
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
        "containerdConfigPatches",
        "containerdConfigPatchesJSON6902",
    }
)
_KIND_NETWORKING_FIELDS = frozenset(
    {
        "ipFamily",
        "apiServerPort",
        "apiServerAddress",
        "podSubnet",
        "serviceSubnet",
        "disableDefaultCNI",
        "kubeProxyMode",
        "dnsSearch",
    }
)
_KIND_NODE_FIELDS = frozenset(
    {
        "role",
        "image",
        "labels",
        "extraMounts",
        "extraPortMappings",
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
    }
)


class ProviderKind(StrEnum):
    LOCAL = "local"
    KIND = "kind"
    KUBECONFIG = "kubeconfig"


class KernelChoice(StrEnum):
    AUTO = "auto"
    HOST = "host"
    UML = "uml"


class ProxyMode(str):
    """``none`` (no proxy), a mode of the proxy mode registry, or ``external``.

    Not an enum: the registry (``svclab.proxy.modes``) decides which names
    exist, so a registered mode is valid here without editing this module.
    ``external`` (the user's own command runs as the proxy) is the spec's, not
    the registry's: see ``svclab.testbed.external`` for why.
    ``ProxyMode(name)`` raises ``ValueError`` for any other name.
    """

    NONE: ClassVar[str] = "none"
    EXTERNAL: ClassVar[str] = EXTERNAL

    def __new__(cls, value: str) -> ProxyMode:
        if value not in cls.choices():
            raise ValueError(f"{value!r} is not a proxy mode (one of {', '.join(cls.choices())})")
        return super().__new__(cls, value)

    @classmethod
    def choices(cls) -> tuple[str, ...]:
        """Every valid value: ``none``, then the registered modes in display order."""
        return (cls.NONE, *proxy_modes.mode_names(), cls.EXTERNAL)

    @property
    def value(self) -> str:
        """The plain name (as ``StrEnum`` members have it)."""
        return str.__str__(self)


class Controller(StrEnum):
    """A controller of ``svclab controller-manager`` (its ``--controllers`` name)."""

    ENDPOINTS = "endpoints"
    ENDPOINTSLICE = "endpointslice"
    ENDPOINTSLICE_MIRRORING = "endpointslice-mirroring"
    REPLICASET = "replicaset"
    REPLICATIONCONTROLLER = "replicationcontroller"
    DEPLOYMENT = "deployment"
    DAEMONSET = "daemonset"
    JOB = "job"


ENDPOINT_CONTROLLERS = (Controller.ENDPOINTS, Controller.ENDPOINTSLICE, Controller.ENDPOINTSLICE_MIRRORING)
WORKLOAD_CONTROLLERS = (
    Controller.REPLICASET,
    Controller.REPLICATIONCONTROLLER,
    Controller.DEPLOYMENT,
    Controller.DAEMONSET,
    Controller.JOB,
)


class NodeRole(StrEnum):
    CONTROL_PLANE = "control-plane"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class ProxySpec:
    mode: ProxyMode = field(default_factory=lambda: ProxyMode("iptables"))
    min_sync_period: Duration = Duration("1s", 1.0)
    sync_period: Duration = Duration("30s", 30.0)
    scheduler: str | None = None  # ipvs only
    # The mode to run when this kernel cannot run ``mode`` (ipvs -> iptables,
    # as kube-proxy did); None: the proxies refuse instead (--no-mode-fallback).
    ipvs_fallback: str | None = None
    external: ExternalCommand | None = None  # mode external: what runs instead of `svclab proxy`
    # mode external: the registered mode whose rules dump the suite may read (None: unknown)
    rules: str | None = None

    @property
    def label(self) -> str:
        """The mode as reports name it: ``iptables``, or ``external: <command basename>``."""
        return self.external.label if self.external is not None else self.mode.value


@dataclass(frozen=True, slots=True)
class NodeSpec:
    role: NodeRole
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Testbed:
    """A validated testbed spec. ``cluster`` is the kind config, verbatim."""

    name: str
    source: str
    provider: ProviderKind
    kernel: KernelChoice
    proxy: ProxySpec
    controllers: tuple[Controller, ...]
    pod_subnet: str
    service_subnet: str
    kube_proxy_mode: str
    ip_family: str
    nodes: tuple[NodeSpec, ...]
    cluster: Mapping[str, Any] = field(compare=False, repr=False)
    # spec.controllers mode external: what runs in place of (or beside ``controllers`` of) ours
    external_controllers: ExternalCommand | None = None


_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def _check_mode(check: _Checker, value: Any, path: str) -> ProxyMode:
    if value is None:
        return ProxyMode("iptables")
    if value not in ProxyMode.choices():
        check.fail(path, "must be one of " + ", ".join(ProxyMode.choices()))
        return ProxyMode("iptables")
    return ProxyMode(value)


_EXTERNAL_PROXY_FIELDS = frozenset({"command", "env", "rules"})
_REFERENCE_PROXY_FIELDS = frozenset({"minSyncPeriod", "syncPeriod"})


def _check_external_proxy(check: _Checker, proxy: dict[str, Any], mode: ProxyMode) -> dict[str, Any]:
    """``command``/``env``/``rules`` belong to mode external, sync periods to the reference proxy."""
    if mode != ProxyMode.EXTERNAL:
        for key in sorted(_EXTERNAL_PROXY_FIELDS & proxy.keys()):
            check.fail(f"spec.proxy.{key}", "only allowed with mode: external")
        return {}
    for key in sorted(_REFERENCE_PROXY_FIELDS & proxy.keys()):
        check.fail(f"spec.proxy.{key}", "not used with mode external (pass your command its own flags)")
    rules = proxy.get("rules")
    readable = [spec.name for spec in proxy_modes.mode_specs() if spec.rules_dump is not None]
    if rules is not None and rules not in readable:
        check.fail("spec.proxy.rules", "must be one of " + ", ".join(readable))
        rules = None
    return {"external": check_external(proxy, "spec.proxy", check.fail), "rules": rules}


def _check_proxy(check: _Checker, raw: Any) -> ProxySpec:
    proxy = check.mapping(
        raw,
        "spec.proxy",
        frozenset({"mode", "scheduler", "ipvsFallback"}) | _REFERENCE_PROXY_FIELDS | _EXTERNAL_PROXY_FIELDS,
    )
    mode = _check_mode(check, proxy.get("mode"), "spec.proxy.mode")
    external = _check_external_proxy(check, proxy, mode)
    fallback = _check_fallback(check, proxy.get("ipvsFallback"), mode)
    scheduler = proxy.get("scheduler")
    if scheduler is not None:
        mode_spec = proxy_modes.find(mode.value)
        schedulers = mode_spec.schedulers if mode_spec is not None else ()
        if not schedulers:
            with_schedulers = [spec.name for spec in proxy_modes.mode_specs() if spec.schedulers]
            check.fail("spec.proxy.scheduler", "only allowed with mode: " + ", ".join(with_schedulers))
        elif scheduler not in schedulers:
            check.fail("spec.proxy.scheduler", "must be one of " + ", ".join(schedulers))
    defaults = ProxySpec()
    return ProxySpec(
        mode=mode,
        min_sync_period=check.duration(
            proxy.get("minSyncPeriod"), "spec.proxy.minSyncPeriod", defaults.min_sync_period
        ),
        sync_period=check.duration(proxy.get("syncPeriod"), "spec.proxy.syncPeriod", defaults.sync_period),
        scheduler=scheduler if isinstance(scheduler, str) else None,
        ipvs_fallback=fallback,
        **external,
    )


def _check_fallback(check: _Checker, value: Any, mode: ProxyMode) -> str | None:
    """``spec.proxy.ipvsFallback``: only for a mode with a fallback, and only that fallback."""
    if value is None:
        return None
    mode_spec = proxy_modes.find(mode.value)
    if mode_spec is None or mode_spec.fallback is None:
        with_fallback = [spec.name for spec in proxy_modes.mode_specs() if spec.fallback]
        check.fail("spec.proxy.ipvsFallback", "only allowed with mode: " + ", ".join(with_fallback))
        return None
    if value != mode_spec.fallback:
        check.fail("spec.proxy.ipvsFallback", f"must be {mode_spec.fallback}")
        return None
    return str(value)


def default_controllers(provider: ProviderKind) -> tuple[Controller, ...]:
    """What runs when ``spec.controllers`` is omitted.

    A local cluster has nothing else, so it gets every controller (then
    ``kubectl create deployment`` works); on kind, kube-controller-manager
    keeps its workload controllers and we replace only the endpoint ones.
    """
    return tuple(Controller) if provider is ProviderKind.LOCAL else ENDPOINT_CONTROLLERS


def _check_external_controllers(check: _Checker, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``spec.controllers: {mode: external, command, env, reference}``: the user's controllers
    run instead of ours; ``reference`` names ours that still run beside them (default: the
    workload controllers, so Deployments keep working while the endpoint controllers are theirs)."""
    fields = check.mapping(raw, "spec.controllers", frozenset({"mode", "command", "env", "reference"}))
    if fields.get("mode") != EXTERNAL:
        check.fail("spec.controllers.mode", "must be external (or give spec.controllers as a list)")
    reference = fields.get("reference", [member.value for member in WORKLOAD_CONTROLLERS])
    return {
        "controllers": _check_controller_list(check, reference, "spec.controllers.reference"),
        "external_controllers": check_external(fields, "spec.controllers", check.fail),
    }


def _check_controllers(check: _Checker, raw: Any, provider: ProviderKind) -> dict[str, Any]:
    if raw is None:
        return {"controllers": default_controllers(provider)}
    if isinstance(raw, Mapping):
        return _check_external_controllers(check, raw)
    return {"controllers": _check_controller_list(check, raw, "spec.controllers")}


def _check_controller_list(check: _Checker, raw: Any, path: str) -> tuple[Controller, ...]:
    if not isinstance(raw, list):
        check.fail(path, "must be a list (or, at spec.controllers, a mapping with mode: external)")
        return ()
    allowed = [member.value for member in Controller]
    chosen: list[Controller] = []
    for index, item in enumerate(raw):
        if item not in allowed:
            check.fail(f"{path}[{index}]", "must be one of " + ", ".join(allowed))
        elif Controller(item) in chosen:
            check.fail(f"{path}[{index}]", f"duplicate controller {item}")
        else:
            chosen.append(Controller(item))
    return tuple(chosen)


def _check_labels(check: _Checker, raw: Any, path: str) -> tuple[tuple[str, str], ...]:
    labels = check.mapping(raw, path, None)
    result = []
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
            check.fail(f"{path}.{key}", "must map a string to a string")
            continue
        result.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return tuple(result)


def _check_nodes(check: _Checker, raw: Any) -> tuple[NodeSpec, ...]:
    if raw is None:
        return (NodeSpec(NodeRole.CONTROL_PLANE),)  # kind's default: one control-plane node
    if not isinstance(raw, list) or not raw:
        check.fail("spec.cluster.nodes", "must be a non-empty list")
        return ()
    nodes = []
    for index, item in enumerate(raw):
        path = f"spec.cluster.nodes[{index}]"
        node = check.mapping(item, path, _KIND_NODE_FIELDS)
        role = check.choice(node.get("role"), f"{path}.role", NodeRole, "control-plane")
        nodes.append(NodeSpec(role, _check_labels(check, node.get("labels"), f"{path}.labels")))
    return tuple(nodes)


def _check_cluster(check: _Checker, raw: Any) -> dict[str, Any]:
    cluster = check.mapping(raw, "spec.cluster", _KIND_CLUSTER_FIELDS)
    if cluster.get("kind", "Cluster") != "Cluster":
        check.fail("spec.cluster.kind", "must be Cluster")
    if cluster.get("apiVersion", KIND_API_VERSION) != KIND_API_VERSION:
        check.fail("spec.cluster.apiVersion", f"must be {KIND_API_VERSION}")
    net = check.mapping(cluster.get("networking"), "spec.cluster.networking", _KIND_NETWORKING_FIELDS)
    ip_family = net.get("ipFamily", "ipv4")
    if ip_family not in networking.IP_FAMILIES:
        check.fail("spec.cluster.networking.ipFamily", "must be one of " + ", ".join(networking.IP_FAMILIES))
        ip_family = "ipv4"
    kube_proxy_mode = net.get("kubeProxyMode", "none")
    if kube_proxy_mode not in ("iptables", "ipvs", "nftables", "none"):
        check.fail("spec.cluster.networking.kubeProxyMode", "must be one of iptables, ipvs, nftables, none")
    defaults = networking.default_subnets(str(ip_family))
    return {
        "pod_subnet": check.subnets(net.get("podSubnet"), "spec.cluster.networking.podSubnet", ip_family, defaults[0]),
        "service_subnet": check.subnets(
            net.get("serviceSubnet"), "spec.cluster.networking.serviceSubnet", ip_family, defaults[1]
        ),
        "kube_proxy_mode": str(kube_proxy_mode),
        "ip_family": str(ip_family),
        "nodes": _check_nodes(check, cluster.get("nodes")),
    }


def _check_local_limits(check: _Checker, testbed: dict[str, Any]) -> None:
    """What the local provider cannot do (kind can): say so up front."""
    roles = [node.role for node in testbed["nodes"]]
    if roles and roles.count(NodeRole.CONTROL_PLANE) != 1:
        check.fail("spec.cluster.nodes", "the local provider needs exactly one control-plane node")
    pods = [ipaddress.ip_network(m) for m in networking.split_subnets(testbed["pod_subnet"])]
    services = [ipaddress.ip_network(m) for m in networking.split_subnets(testbed["service_subnet"])]
    bits = max(len(roles) - 1, 0).bit_length()
    for pod_subnet in pods:
        size = 24 if pod_subnet.version == 4 else 64
        if pod_subnet.prefixlen > size - bits:
            check.fail("spec.cluster.networking.podSubnet", f"too small for {len(roles)} nodes with a /{size} each")
    if any(p.overlaps(s) for p in pods for s in services if p.version == s.version):
        check.fail("spec.cluster.networking.serviceSubnet", "overlaps podSubnet")


def parse_spec(document: Any, source: str, name: str | None = None) -> Testbed:
    """Validate a loaded YAML document; ``name`` overrides metadata.name.

    Raises SpecError listing every problem. Side-effect-free.
    """
    check = _Checker(source)
    top = check.mapping(document, "(top level)", frozenset({"apiVersion", "kind", "metadata", "spec"}))
    if top.get("apiVersion") != API_VERSION:
        check.fail("apiVersion", f"must be {API_VERSION}")
    if top.get("kind") != KIND:
        check.fail("kind", f"must be {KIND}")
    metadata = check.mapping(top.get("metadata"), "metadata", frozenset({"name"}))
    chosen_name = name if name is not None else metadata.get("name")
    if not isinstance(chosen_name, str) or not _NAME.match(chosen_name):
        where = "--name" if name is not None else "metadata.name"
        check.fail(where, "must be 1-32 lowercase letters, digits or '-', starting and ending with a letter or digit")
    spec = check.mapping(top.get("spec"), "spec", frozenset({"provider", "kernel", "proxy", "controllers", "cluster"}))
    provider = check.choice(spec.get("provider"), "spec.provider", ProviderKind, "local")
    kernel = check.choice(spec.get("kernel"), "spec.kernel", KernelChoice, "auto")
    proxy = _check_proxy(check, spec.get("proxy"))
    controllers = _check_controllers(check, spec.get("controllers"), provider)
    if provider is not ProviderKind.LOCAL and (proxy.external or controllers.get("external_controllers")):
        check.fail("spec.provider", "mode external (your own proxy or controllers) needs the local provider")
    cluster = _check_cluster(check, spec.get("cluster"))
    if provider is ProviderKind.LOCAL and not check.problems:
        _check_local_limits(check, cluster)
    if check.problems:
        raise SpecError(check.problems)
    return Testbed(
        name=str(chosen_name),
        source=source,
        provider=provider,
        kernel=kernel,
        proxy=proxy,
        **controllers,
        cluster=dict(spec.get("cluster") or {}),
        **cluster,
    )


def load_spec(path: str | Path, name: str | None = None) -> Testbed:
    """Read and validate a spec file; raises SpecError (also for unreadable YAML)."""
    source = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError([f"{source}: cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise SpecError([f"{source}: not valid YAML: {exc}".splitlines()[0]]) from exc
    return parse_spec(document, source, name)
