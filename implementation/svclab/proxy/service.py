"""The long-running proxy process: informers -> ``Proxier`` -> kernel, plus HTTP.

Wires three informers (Services, EndpointSlices, this node's Node) to the
``Proxier`` through one generic adapter (Services and EndpointSlices filtered by
``PROXY_LABEL_SELECTOR``, as kube-proxy's are), waits for them to sync, then runs the
bounded-frequency sync loop. After each sync it records metrics, marks health
and deletes stale UDP conntrack entries. A node with IPv4 and IPv6
InternalIPs runs one proxier per family behind a ``MetaProxier`` (upstream's
dual-stack kube-proxy); a family without a node address is skipped, and
logged. ``/metrics`` and ``/proxyMode`` (the
metrics address, upstream's status port; the mode actually running: a kernel
without IPVS runs ipvs' fallback, iptables) and ``/healthz`` / ``/livez`` are
served with aiohttp on the configured addresses, and each Service's
``healthCheckNodePort`` on every address of the node (``service_health``; the
primary family's endpoints count).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from svclab.proxy import modes
from svclab.proxy.conntrack import Runner, run_cleanup, subprocess_runner
from svclab.proxy.conntrack_timeouts import ConntrackTimeouts, apply_timeouts
from svclab.proxy.healthz import FamilyHealth, ProxyHealth
from svclab.proxy.metaproxier import MetaProxier, PrimaryFamilyUnsupported, family_node_options
from svclab.proxy.metrics import ProxyMetrics
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import ModeBackend, Provider, Proxier, ProxierOptions, SyncReport
from svclab.proxy.service_health import ServiceHealthServer
from svclab.proxy.service_port import IPFamily

__all__ = ["PROXY_LABEL_SELECTOR", "handler_for", "listen_health_check", "serve"]

log = logging.getLogger(__name__)

# kube-proxy's selector for its Service and EndpointSlice informers (cmd/kube-proxy):
# a Service labelled for another proxy, or headless, gets no rules, even with a ClusterIP.
PROXY_LABEL_SELECTOR = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
# modes whose sync only runs subprocesses (iptables-restore, nft) and so may leave the event loop
# to the informers meanwhile (ProxierOptions.sync_in_thread); userspace's sync opens asyncio
# servers on the loop, ipvs' talks netlink through shared sockets
SYNC_IN_THREAD_MODES = frozenset({"iptables", "nftables"})


def handler_for(on_change: Callable[[Any | None, Any | None], None]) -> Any:
    """One informer-to-proxier adapter for every kind: (previous, current) calls."""
    from svclab.kube.informer import FuncHandler

    return FuncHandler(
        on_add=lambda obj: on_change(None, obj),
        on_update=lambda old, new: on_change(old, new),
        on_delete=lambda obj: on_change(getattr(obj, "obj", obj), None),
    )


def _effective_mode(args: argparse.Namespace) -> str:
    """``--mode``, or its fallback when this kernel cannot run it (said once in the log)."""
    spec, reason = modes.resolve(args.mode, allow_fallback=args.mode_fallback)
    if reason is not None:
        log.warning("event=mode_fallback requested=%s mode=%s reason=%r", args.mode, spec.name, reason)
    return spec.name


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def _metrics_app(metrics: ProxyMetrics, mode: str, backend: ModeBackend | None = None) -> web.Application:
    """The metrics address: ``/metrics``, as upstream's status port ``/proxyMode``, and ``/debug/backends``.

    ``/debug/backends`` is svclab's: a mode whose choice of endpoint lives in
    the proxy, not in kernel rules (userspace), says there what it serves
    (JSON), so ``svclab explain`` can show it; other modes answer 404.
    """

    async def metrics_handler(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain")

    async def proxy_mode_handler(_: web.Request) -> web.Response:
        return web.Response(text=mode)

    async def backends_handler(_: web.Request) -> web.Response:
        describe = getattr(backend, "debug_state", None)
        if describe is None:
            return web.Response(status=404, text=f"mode {mode} keeps its backends in kernel rules")
        return web.json_response(describe())

    app = web.Application()
    app.add_routes(
        [
            web.get("/metrics", metrics_handler),
            web.get("/proxyMode", proxy_mode_handler),
            web.get("/debug/backends", backends_handler),
        ]
    )
    return app


def _healthz_app(health: ProxyHealth | FamilyHealth) -> web.Application:
    async def healthz_handler(_: web.Request) -> web.Response:
        status, body = health.response()
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz_handler), web.get("/livez", healthz_handler)])
    return app


async def _start_http(
    metrics: ProxyMetrics,
    health: ProxyHealth | FamilyHealth,
    args: argparse.Namespace,
    mode: str,
    backend: ModeBackend | None = None,
) -> list[web.AppRunner]:
    runners = []
    for address, app in (
        (args.metrics_bind_address, _metrics_app(metrics, mode, backend)),
        (args.healthz_bind_address, _healthz_app(health)),
    ):
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, *_split(address)).start()
        runners.append(runner)
    return runners


async def listen_health_check(
    port: int, respond: Callable[[], tuple[int, str]], host: str = "0.0.0.0"
) -> Callable[[], Awaitable[None]]:
    """Serve ``respond()`` on every path of ``host:port``; returns the coroutine function that stops it."""

    async def handler(_: web.Request) -> web.Response:
        status, body = respond()
        return web.Response(
            status=status, text=body, content_type="application/json", headers={"X-Content-Type-Options": "nosniff"}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner.cleanup


async def _node_ips(client: Any, node_name: str, *, wait: float = 60.0, interval: float = 0.5) -> tuple[str, ...]:
    """The Node's InternalIPs, of both families. Like upstream kube-proxy, wait for the Node to be
    registered (the node agent may start after the proxy): without its IPs the
    NodePort rules of some modes (nftables' nodeport-ips set) would stay empty."""
    from lightkube.resources.core_v1 import Node

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            node = await client.get(Node, node_name)
        except Exception as exc:
            if loop.time() >= deadline:
                log.warning("event=node_lookup_failed node=%s error=%s", node_name, exc)
                return ()
            await asyncio.sleep(interval)
            continue
        addresses = (node.status.addresses or []) if node.status else []
        ips = tuple(a.address for a in addresses if a.type == "InternalIP")
        if ips or loop.time() >= deadline:
            return ips
        await asyncio.sleep(interval)


def _informers(
    client: Any, node: str, proxier: Provider, metrics: ProxyMetrics, health: ProxyHealth | FamilyHealth
) -> list[Any]:
    """Services, EndpointSlices and this node's Node, each wired to the proxier's handler.

    Service and EndpointSlice changes also mark a sync as queued (metrics, health).
    """
    from lightkube.resources.core_v1 import Node, Service
    from lightkube.resources.discovery_v1 import EndpointSlice

    from svclab.kube.informer import Informer
    from svclab.kube.reflector import RECONNECT_BACKOFF, ReflectorOptions

    backoff = RECONNECT_BACKOFF  # a lost API server is retried every second or so (issue 15)

    def queued(handler: Callable[[Any | None, Any | None], None]) -> Callable[[Any | None, Any | None], None]:
        def wrapped(old: Any | None, new: Any | None) -> None:
            handler(old, new)
            metrics.queued()
            health.queued()

        return wrapped

    services = Informer(client, Service, ReflectorOptions(label_selector=PROXY_LABEL_SELECTOR, backoff=backoff))
    slices = Informer(client, EndpointSlice, ReflectorOptions(label_selector=PROXY_LABEL_SELECTOR, backoff=backoff))
    nodes = Informer(client, Node, ReflectorOptions(field_selector=f"metadata.name={node}", backoff=backoff))
    services.add_handler(handler_for(queued(proxier.on_service)))
    slices.add_handler(
        handler_for(
            queued(lambda old, new: proxier.on_endpoint_slice(new if new is not None else old, removed=new is None))
        )
    )
    nodes.add_handler(handler_for(lambda old, new: proxier.on_node(new)))
    return [services, slices, nodes]


def _apply_conntrack_timeouts(args: argparse.Namespace) -> None:
    """kube-proxy's conntrack TCP timeouts, in this node's namespace."""
    defaults = ConntrackTimeouts()
    established = getattr(args, "conntrack_tcp_timeout_established", defaults.tcp_established)
    apply_timeouts(ConntrackTimeouts(established, getattr(args, "conntrack_tcp_timeout_close_wait", 3600.0)))


def _family_options(args: argparse.Namespace, mode: str, node_ips: tuple[str, ...]) -> list[NodeOptions]:
    """Which families this node runs (``family_node_options``), the skipped ones logged; each family
    the mode programs is probed first (``ModeSpec.family_unusable``: ip6tables missing means single-stack).
    None at all (logged) when the node's primary family cannot run here."""
    spec = modes.get(mode)
    unusable = {f: why for f in spec.families if (why := spec.family_unusable(f)) is not None}
    try:
        run, skipped = family_node_options(
            node_ips,
            cluster_cidrs=getattr(args, "cluster_cidr", None),
            masquerade_all=getattr(args, "masquerade_all", False),
            supported=spec.families,
            unusable=unusable,
        )
    except PrimaryFamilyUnsupported as exc:
        log.error("event=unsupported mode=%s error=%r", mode, str(exc))
        return []
    for family, reason in skipped:
        log.info("event=family_skipped family=%s mode=%s reason=%r", family.value, mode, reason)
    # upstream's "kube-proxy running in dual-stack mode" / "... single-stack mode"
    stack = "dual-stack" if len(run) > 1 else "single-stack"
    log.info("event=running stack=%s primary_family=%s", stack, run[0].family.value if run else "none")
    return run


def _proxier(
    backend: ModeBackend,
    args: argparse.Namespace,
    family: IPFamily,
    *,
    mode: str,
    metrics: ProxyMetrics,
    health: FamilyHealth,
    conntrack: Runner,
    health_checks: ServiceHealthServer | None = None,
    sync_in_thread: bool = False,
) -> Proxier:
    """One family's proxier; after each sync: metrics, health, conntrack cleanup of that family
    and, given ``health_checks``, the health check node ports from its state."""

    def after_sync(report: SyncReport) -> None:
        metrics.record_sync(report, mode)
        health.updated(family)
        if health_checks is not None:
            health_checks.sync_soon(proxier.service_ports, proxier.endpoints)
        failed = run_cleanup(report, proxier.service_ports, conntrack, family)
        if failed:
            log.warning("event=conntrack_cleanup_failed family=%s commands=%s", family.value, failed)

    proxier = Proxier(
        backend,
        ProxierOptions(
            node_name=args.hostname_override,
            family=family,
            min_sync_period=args.min_sync_period,
            sync_period=args.sync_period,
            rules_check_period=args.rules_check_period,
            sync_in_thread=sync_in_thread,
        ),
        on_sync=after_sync,
        on_failure=lambda exc: metrics.record_failure(mode),
    )
    return proxier


def _metrics(backends: Mapping[IPFamily, ModeBackend], *, requested: str, mode: str) -> ProxyMetrics:
    """The proxy's metrics, with each mode's own counters (iptables: nfacct) and the mode running."""
    metrics = ProxyMetrics()
    for collector in (c for b in backends.values() for c in getattr(b, "collectors", ())):
        metrics.registry.register(collector)
    metrics.record_mode(requested, mode)
    return metrics


async def serve(
    args: argparse.Namespace,
    *,
    client: Any | None = None,
    backend: ModeBackend | None = None,
    conntrack_runner: Runner | None = None,
    serve_http: bool = True,
    backends: Mapping[IPFamily, ModeBackend] | None = None,
) -> int:
    """Run until cancelled. Tests inject a fake ``client``, ``backend`` (single-stack IPv4) or
    ``backends`` (one per family, the primary first) and a conntrack runner."""
    from svclab.kube.client import make_client
    from svclab.kube.informer import wait_for_sync

    real_node = backend is None and backends is None  # injected (tests' fakes) sync on the loop, turn by turn
    if backend is not None:
        backends = {IPFamily.IPV4: backend}
    mode = args.mode if backends is not None else _effective_mode(args)
    client = client if client is not None else make_client(args.kubeconfig)
    node = args.hostname_override
    if backends is None:  # a real node (tests inject backends): its conntrack sysctls too
        _apply_conntrack_timeouts(args)
        families = _family_options(args, mode, await _node_ips(client, node))
        if not families:  # no support for the primary family (logged): upstream exits too
            return 1
        backends = {opts.family: modes.build_backend(mode, args, node=opts) for opts in families}
    metrics = _metrics(backends, requested=args.mode, mode=mode)
    health = FamilyHealth({f: ProxyHealth(timeout=2 * args.sync_period) for f in backends})
    run_conntrack = conntrack_runner or subprocess_runner()
    health_checks = ServiceHealthServer(listen_health_check, health.healthy)
    proxiers = [
        _proxier(
            b,
            args,
            f,
            mode=mode,
            metrics=metrics,
            health=health,
            conntrack=run_conntrack,
            health_checks=health_checks if serve_http and index == 0 else None,  # one server: the primary's
            sync_in_thread=real_node and mode in SYNC_IN_THREAD_MODES,
        )
        for index, (f, b) in enumerate(backends.items())
    ]
    provider: Provider = proxiers[0] if len(proxiers) == 1 else MetaProxier(proxiers)
    informers = _informers(client, node, provider, metrics, health)
    runners = await _start_http(metrics, health, args, mode, next(iter(backends.values()))) if serve_http else []
    tasks = [asyncio.create_task(i.run()) for i in informers]
    try:
        await wait_for_sync(*informers)
        log.info("event=informers_synced node=%s mode=%s families=%s", node, mode, ",".join(f.value for f in backends))
        await provider.sync_loop()
    finally:
        for task in tasks:
            task.cancel()
        await health_checks.close()
        for runner in runners:
            await runner.cleanup()
    return 0
