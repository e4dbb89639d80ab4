"""`svclab apiserver`: run the API server in the foreground.

It serves HTTPS on every --listen address (and on --listen-netns addresses,
whose sockets are made inside a network namespace), writes STATE/kubeconfig
(first listen address) and STATE/kubeconfig.internal (advertise address) once
it is ready, and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .certs import Pki

__all__ = ["add_arguments", "run", "serve"]

log = logging.getLogger("svclab.apiserver")


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    ipaddress.ip_address(host.strip("[]"))
    return host.strip("[]"), int(port)


def _netns_host_port(text: str) -> tuple[str, str, int]:
    netns, sep, rest = text.partition("=")
    if not sep or not netns:
        raise argparse.ArgumentTypeError(f"expected NETNS=HOST:PORT, got {text!r}")
    return (netns, *_host_port(rest))


def _service_cidrs(text: str) -> str:
    """--service-cidr: one CIDR, or a dual-stack pair PRIMARY,SECONDARY."""
    from .services import parse_service_cidrs

    try:
        return ",".join(parse_service_cidrs(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", required=True, type=Path, help="directory for the database, certificates and kubeconfigs"
    )
    parser.add_argument(
        "--listen",
        action="append",
        type=_host_port,
        default=None,
        metavar="HOST:PORT",
        help="listen address (repeatable; port 0 picks a free one; default 127.0.0.1:0)",
    )
    parser.add_argument(
        "--listen-netns",
        action="append",
        type=_netns_host_port,
        default=[],
        metavar="NETNS=HOST:PORT",
        help="also listen inside a network namespace (repeatable)",
    )
    parser.add_argument(
        "--service-cidr",
        default="10.96.0.0/16",
        type=_service_cidrs,
        help="service ClusterIP range; a dual-stack pair as PRIMARY,SECONDARY (one IPv4, one IPv6)",
    )
    parser.add_argument(
        "--advertise-address", default=None, help="address in the default/kubernetes Endpoints (default: first listen)"
    )
    parser.add_argument("--cluster-name", default="svclab")
    parser.add_argument(
        "--node-agent-socket",
        default="",
        metavar="TEMPLATE",
        help="Unix socket of each node's agent, '{node}' standing for the node name "
        "(pods/log, exec, attach and portforward go there; none: those answer 503)",
    )
    # short: reflectors take a watch silent for a few intervals for a dead connection (issue 15)
    parser.add_argument("--watch-bookmark-interval", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="INFO")


def _bind(host: str, port: int, netns: str | None = None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM) if netns is None else _socket_in_netns(netns, family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


_CLONE_NEWNET = 0x40000000


def _socket_in_netns(netns: str, family: int) -> socket.socket:
    """A socket made inside ``/run/netns/<netns>`` (a socket keeps the namespace it was made
    in); the thread goes back to its own namespace at once. A missing namespace is an
    error, never created. Done in this thread at start-up (nothing else runs yet) rather
    than in pyroute2's forked helper: inside a busy UML guest that helper missed its
    timeout and the restarted API server exited (issue 15). The testbed's own setns
    helpers are above this layer; Python 3.11 has no ``os.setns``, hence ctypes."""
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)

    def setns(fd: int) -> None:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the network namespace {netns}: {os.strerror(err)}")

    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            return socket.socket(family, socket.SOCK_STREAM)
        finally:
            setns(home)
    finally:
        os.close(home)


def _bind_all(args: argparse.Namespace) -> list[socket.socket]:
    listens = args.listen or [("127.0.0.1", 0)]
    return [_bind(h, p) for h, p in listens] + [_bind(h, p, ns) for ns, h, p in args.listen_netns]


async def serve(args: argparse.Namespace, stop: asyncio.Event, sockets: list[socket.socket] | None = None) -> None:
    from . import apiextensions, authn, bootstrap, certs, serviceaccounts
    from .registry import Registry
    from .server import ApiServer
    from .services import ServiceAllocations, kubernetes_service_ip, parse_service_cidrs
    from .storage import Store
    from .streaming import NodeAgents

    state: Path = args.state_dir
    state.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - start-up, before serving
    sockets = _bind_all(args) if sockets is None else sockets
    bound = [s.getsockname()[:2] for s in sockets]
    advertise = args.advertise_address or bound[-1][0] if args.listen_netns else (args.advertise_address or bound[0][0])
    advertise_port = bound[-1][1] if args.listen_netns else bound[0][1]
    primary_cidr = parse_service_cidrs(args.service_cidr)[0]
    service_ip = kubernetes_service_ip(primary_cidr)
    ips = sorted({"127.0.0.1", advertise, service_ip, *(h for h, _ in bound)} - {"0.0.0.0", "::"})
    pki = certs.ensure_pki(state, ips, ["localhost"])
    token = _secret(state, "token")

    store = Store(state / "state.db")
    allocations = ServiceAllocations(args.service_cidr)
    allocations.restore(store.list("Service"))
    registry = Registry(store, allocations)
    apiextensions.install(registry)  # before anything lists stored custom objects
    serviceaccounts.install(registry)
    bootstrap.ensure_system_objects(registry, primary_cidr, advertise, advertise_port)
    serviceaccounts.ensure_default_service_accounts(registry)
    bootstrap.ensure_bootstrap_policy(registry)
    server = ApiServer(
        store,
        registry,
        token,
        server_address=f"{advertise}:{advertise_port}",
        bookmark_interval=args.watch_bookmark_interval,
        issuer=authn.TokenIssuer(_secret(state, "sa.key").encode(), store),
        agents=NodeAgents(args.node_agent_socket),
    )
    ssl_ctx = _ssl_context(pki)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    for sock in sockets:
        await web.SockSite(runner, sock, ssl_context=ssl_ctx, shutdown_timeout=1.0).start()
    gc_task = asyncio.create_task(registry.gc.run())
    registry.gc.kick()
    server.ready = True
    kubeconfigs = {"kubeconfig": bound[0], "kubeconfig.internal": (advertise, advertise_port)}
    for name, (host, port) in kubeconfigs.items():
        url = f"https://{_url_host(host)}:{port}"
        admin_cert = (pki.admin_cert_pem, pki.admin_key_pem) if name == "kubeconfig" else None
        certs.write_kubeconfig(state / name, url, pki.ca_cert_pem, token, args.cluster_name, admin_cert)
    log.info("serving on %s; kubeconfig %s", ", ".join(f"{h}:{p}" for h, p in bound), state / "kubeconfig")
    try:
        await stop.wait()
    finally:
        gc_task.cancel()
        await runner.cleanup()
        store.close()


def _ssl_context(pki: Pki) -> ssl.SSLContext:
    """The serving context: our certificate; client certificates optional, but one the
    cluster CA did not issue fails the handshake."""
    ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ssl_ctx.load_cert_chain(pki.cert_path, pki.key_path)
    ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
    ssl_ctx.load_verify_locations(pki.ca_path)
    return ssl_ctx


def _secret(state: Path, name: str) -> str:
    """STATE/<name>, a random secret made (mode 0600) at first start: the admin
    bearer token ("token") or the ServiceAccount token signing key ("sa.key")."""
    from . import certs

    token_file = state / name
    if not token_file.exists():
        token_file.write_text(certs.make_token())
        token_file.chmod(0o600)
    return token_file.read_text().strip()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay usable
        pass

    async def main(sockets: list[socket.socket]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(args, stop, sockets)

    try:
        # Bound before the loop's signal handlers exist (pyroute2's forked netns helper, used
        # once, shared the loop's wakeup fd: its SIGTERM stopped the server).
        asyncio.run(main(_bind_all(args)))
    except OSError as exc:
        print(f"svclab apiserver: {exc}", file=sys.stderr)
        return 1
    return 0
