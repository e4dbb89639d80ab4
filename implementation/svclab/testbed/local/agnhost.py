"""The built-in agnhost: the e2e test image's network servers, in Python.

Upstream's ``registry.k8s.io/e2e-test-images/agnhost`` is one Go binary with
many subcommands; the Service e2e tests use three of them, and the local
provider runs these instead of the image (``python -m
svclab.testbed.local.agnhost ARGS...`` inside the pod's namespaces):

* ``serve-hostname [--http] [--udp] [--tcp] [--close] [--port 9376]``: answers
  every HTTP request, UDP datagram or TCP connection with the host name (the
  pod name). ``--http`` is on unless another protocol is chosen, as upstream.
* ``netexec [--http-port 8080] [--udp-port 8081] [--delay-shutdown N]``: HTTP
  endpoints ``/`` ("NOW: <time>"), ``/hostname``, ``/clientip`` ("ip:port" of the
  peer), ``/echo?msg=``, ``/exit?code=``, ``/healthz``, ``/readyz``,
  ``/header?key=``; UDP commands ``hostname``, ``echo <text>``, ``clientip``.
  As upstream's, ``/readyz`` answers 503 "shutting down" once SIGTERM arrived
  (while ``--delay-shutdown`` keeps the server up), so a readiness probe on it
  takes a deleted pod out of the ready endpoints while it still serves.
* ``pause``: sleeps until SIGTERM/SIGINT.

netexec is the load-test backend, so its HTTP server is a small hand-written
HTTP/1.1 protocol (keep-alive and pipelining, no per-request allocations beyond
the response) on uvloop when available, rather than a general web framework.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

__all__ = ["HttpProtocol", "main", "netexec_http_response", "netexec_udp_reply"]

MAX_HEADER_BYTES = 64 * 1024

# A handler maps (method, target, headers, peer) to (status, body, close-after).
Handler = Callable[[str, str, dict[bytes, bytes], tuple[str, int]], tuple[int, bytes, bool]]

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    412: b"Precondition Failed",
    503: b"Service Unavailable",
}


def _render(status: int, body: bytes, keep_alive: bool) -> bytes:
    head = (b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%s\r\n") % (
        status,
        _REASONS.get(status, b"Status"),
        len(body),
        b"" if keep_alive else b"Connection: close\r\n",
    )
    return head + body


class HttpProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 server connection: keep-alive, pipelining, bodies skipped."""

    __slots__ = ("_buffer", "_handler", "_peer", "_skip", "_transport")

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._peer: tuple[str, int] = ("", 0)
        self._skip = 0  # request-body bytes still to discard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername") or ("", 0)
        self._peer = (str(peer[0]), int(peer[1]))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None:
            if self._skip:
                taken = min(self._skip, len(self._buffer))
                self._buffer, self._skip = self._buffer[taken:], self._skip - taken
                if self._skip:
                    return
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    self._respond(400, b"header too large", keep_alive=False)
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            self._handle_head(head)

    def _handle_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            self._respond(400, b"bad request line", keep_alive=False)
            return
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self._skip = int(headers.get(b"content-length", b"0") or 0)
        connection = headers.get(b"connection", b"").lower()
        keep_alive = connection != b"close" if parts[2] == b"HTTP/1.1" else connection == b"keep-alive"
        status, body, close = self._handler(parts[0].decode("latin-1"), parts[1].decode("latin-1"), headers, self._peer)
        self._respond(status, body, keep_alive=keep_alive and not close)

    def _respond(self, status: int, body: bytes, *, keep_alive: bool) -> None:
        assert self._transport is not None
        self._transport.write(_render(status, body, keep_alive))
        if not keep_alive:
            self._transport.close()
            self._transport = None


def netexec_http_response(
    hostname: str,
    method: str,
    target: str,
    headers: dict[bytes, bytes],
    peer: tuple[str, int],
    *,
    terminating: bool = False,
) -> tuple[int, bytes, bool]:
    """Answer one netexec HTTP request (side-effect-free except ``/exit``).

    ``terminating``: SIGTERM has arrived; ``/readyz`` then fails.
    """
    url = urlsplit(target)
    path = url.path
    if path == "/hostname":
        return 200, hostname.encode(), False
    if path == "/clientip":
        return 200, f"{_join_host_port(peer)}".encode(), False
    if path == "/echo":
        query = parse_qs(url.query)
        return 200, query.get("msg", [""])[0].encode(), False
    if path == "/readyz" and terminating:
        return 503, b"shutting down", False
    if path in ("/healthz", "/readyz"):
        return 200, b"ok", False
    if path == "/header":
        key = parse_qs(url.query).get("key", [""])[0].lower().encode()
        return 200, headers.get(key, b""), False
    if path == "/exit":
        code = int(parse_qs(url.query).get("code", ["0"])[0] or 0)
        asyncio.get_running_loop().call_soon(os._exit, code)
        return 200, b"", True
    if path == "/":
        now = datetime.datetime.now(datetime.UTC)
        return 200, f"NOW: {now.isoformat()}".encode(), False
    return 404, b"404 page not found\n", False


def netexec_udp_reply(hostname: str, message: bytes, peer: tuple[str, int]) -> bytes:
    """Answer one netexec UDP datagram (side-effect-free)."""
    text = message.decode("utf-8", "replace").strip()
    command, _, rest = text.partition(" ")
    if command == "hostname":
        return hostname.encode()
    if command == "echo":
        return rest.encode()
    if command == "clientip":
        return _join_host_port(peer).encode()
    return b""


def _join_host_port(peer: tuple[str, int]) -> str:
    host = peer[0]
    return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, reply: Callable[[bytes, tuple[str, int]], bytes]) -> None:
        self._reply = reply
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self._reply(data, (str(addr[0]), int(addr[1])))
        if answer and self._transport is not None:
            self._transport.sendto(answer, addr)


class _CloseWithHostname(asyncio.Protocol):
    def __init__(self, hostname: str) -> None:
        self._hostname = hostname

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        stream.write(self._hostname.encode())
        stream.close()


def _dual_stack_socket(kind: socket.SocketKind, port: int) -> socket.socket:
    """One socket for IPv4 and IPv6, like Go's listeners on ":port"."""
    sock = socket.socket(socket.AF_INET6, kind)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", port))
    return sock


async def _serve_udp(port: int, reply: Callable[[bytes, tuple[str, int]], bytes]) -> None:
    loop = asyncio.get_running_loop()
    sock = _dual_stack_socket(socket.SOCK_DGRAM, port)
    await loop.create_datagram_endpoint(lambda: _UdpServer(lambda data, peer: reply(data, _unmap(peer))), sock=sock)


def _unmap(peer: tuple[str, int]) -> tuple[str, int]:
    host = peer[0]
    return (host[7:], peer[1]) if host.startswith("::ffff:") else (host, peer[1])


async def _serve_http(port: int, handler: Handler) -> None:
    def unmapped(
        method: str, target: str, headers: dict[bytes, bytes], peer: tuple[str, int]
    ) -> tuple[int, bytes, bool]:
        return handler(method, target, headers, _unmap(peer))

    loop = asyncio.get_running_loop()
    await loop.create_server(
        lambda: HttpProtocol(unmapped), sock=_dual_stack_socket(socket.SOCK_STREAM, port), backlog=4096
    )


async def _wait_for_termination(delay_shutdown: float = 0.0, stop: asyncio.Event | None = None) -> None:
    """Return on SIGTERM/SIGINT, ``delay_shutdown`` seconds later; ``stop`` is set at the signal."""
    loop = asyncio.get_running_loop()
    stop = stop if stop is not None else asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    if delay_shutdown > 0:
        await asyncio.sleep(delay_shutdown)


async def _serve_hostname(args: argparse.Namespace) -> None:
    hostname = socket.gethostname()
    use_http = args.http if args.http is not None else not (args.udp or args.tcp)
    if use_http:
        body = hostname.encode()
        await _serve_http(args.port, lambda *_: (200, body, bool(args.close)))
    if args.udp:
        await _serve_udp(args.port, lambda *_: hostname.encode())
    if args.tcp:
        await asyncio.get_running_loop().create_server(
            lambda: _CloseWithHostname(hostname), sock=_dual_stack_socket(socket.SOCK_STREAM, args.port)
        )
    await _wait_for_termination()


def _log(message: str) -> None:
    """A line as Go's standard logger writes it (agnhost's start-up lines, seen in ``kubectl logs``)."""
    print(time.strftime("%Y/%m/%d %H:%M:%S ") + message, file=sys.stderr, flush=True)


async def _netexec(args: argparse.Namespace) -> None:
    hostname = socket.gethostname()
    stop = asyncio.Event()
    await _serve_http(
        args.http_port, lambda m, t, h, p: netexec_http_response(hostname, m, t, h, p, terminating=stop.is_set())
    )
    _log(f"Started HTTP server on port {args.http_port}")
    if args.udp_port > 0:
        await _serve_udp(args.udp_port, lambda data, peer: netexec_udp_reply(hostname, data, peer))
        _log(f"Started UDP server on port {args.udp_port}")
    await _wait_for_termination(args.delay_shutdown, stop)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agnhost", description="svclab's built-in agnhost")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve-hostname")
    serve.add_argument("--http", type=_flag_bool, nargs="?", const=True, default=None)
    serve.add_argument("--udp", type=_flag_bool, nargs="?", const=True, default=False)
    serve.add_argument("--tcp", type=_flag_bool, nargs="?", const=True, default=False)
    serve.add_argument("--close", type=_flag_bool, nargs="?", const=True, default=False)
    serve.add_argument("--port", type=int, default=9376)
    netexec = sub.add_parser("netexec")
    netexec.add_argument("--http-port", type=int, default=8080)
    netexec.add_argument("--udp-port", type=int, default=8081)
    netexec.add_argument("--sctp-port", type=int, default=-1)  # accepted, not served
    netexec.add_argument("--delay-shutdown", type=float, default=0.0)
    sub.add_parser("pause")
    return parser


async def _pause(_args: argparse.Namespace) -> None:
    await _wait_for_termination()


def _flag_bool(text: str) -> bool:
    """Go's flag package spelling of booleans (``--udp=true``)."""
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _normalise_go_flags(argv: Sequence[str]) -> list[str]:
    """Go flags accept one dash (``-port=80``); argparse wants two."""
    return [f"-{arg}" if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 else arg for arg in argv]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_normalise_go_flags(sys.argv[1:] if argv is None else argv))
    runners: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, None]]] = {
        "serve-hostname": _serve_hostname,
        "netexec": _netexec,
        "pause": _pause,
    }
    try:
        import uvloop

        run: Callable[..., object] = uvloop.run
    except ImportError:  # plain asyncio works, only slower
        run = asyncio.run
    try:
        run(runners[args.command](args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
