"""A TCP forwarder from 127.0.0.1 on the host to a User-Mode Linux guest.

The guest's only link is a tap device inside a network namespace of ours
(``svclab-<name>-uml``); the host's root namespace has no route to it and must
not get one. So the forwarder listens on 127.0.0.1 in the root namespace and,
per connection, creates its outgoing socket *inside* the guest's namespace
(``setns`` there and back; a socket keeps the namespace it was made in), then
copies bytes both ways. TLS passes through untouched.

Run as ``python -m svclab.testbed.local.uml.forwarder --netns NS --listen
127.0.0.1:PORT --target IP:PORT`` (``start_guest`` does); ``--ready-file`` is
written once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
from pathlib import Path

from svclab.testbed.local.nsexec import socket_in_netns

__all__ = ["Forwarder", "main"]

_log = logging.getLogger(__name__)
_CHUNK = 256 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()


class Forwarder:
    """Forwards ``listen`` (host, root namespace) to ``target`` inside ``netns``."""

    def __init__(self, netns: str, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.netns, self.listen, self.target = netns, listen, target
        self.server: asyncio.Server | None = None

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream = socket_in_netns(self.netns)
        upstream.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(upstream, self.target)
        except OSError as exc:
            _log.warning("event=connect_failed target=%s:%s error=%s", *self.target, exc)
            upstream.close()
            client_writer.close()
            return
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader, writer = await asyncio.open_connection(sock=upstream)
        try:
            await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))
        finally:
            writer.close()
            client_writer.close()

    async def start(self) -> None:
        """Listen; returns once the socket is bound."""
        self.server = await asyncio.start_server(self._handle, *self.listen, reuse_address=True)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see module docstring)."""
    parser = argparse.ArgumentParser(prog="svclab-uml-forwarder")
    parser.add_argument("--netns", required=True)
    parser.add_argument("--listen", type=_address, required=True, help="HOST:PORT on the host")
    parser.add_argument("--target", type=_address, required=True, help="IP:PORT in the guest")
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        forwarder = Forwarder(args.netns, args.listen, args.target)
        await forwarder.start()
        if args.ready_file:
            args.ready_file.write_text("ready\n")
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
