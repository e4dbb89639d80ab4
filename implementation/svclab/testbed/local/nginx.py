"""The built-in nginx: what Docker Hub's ``nginx`` image does with no command.

Its default site serves the files under ``/usr/share/nginx/html`` on port 80
(``index.html`` for ``/``, 404 for a missing file). The node agent runs this in
the container's own view of ``/usr/share`` (see ``agent/image_fs.py``), so a
file that ``kubectl exec`` writes there is served, as with the real image.
``python -m svclab.testbed.local.nginx [--port 80] [--root DIR]``.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["main"]

DEFAULT_ROOT = "/usr/share/nginx/html"


class _Handler(SimpleHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version  # the base class appends " " + sys_version

    def list_directory(self, path: Any) -> None:
        self.send_error(403)  # nginx's autoindex is off: a directory without index.html is forbidden
        return None

    def log_message(self, format: str, *args: Any) -> None:
        sys.stdout.write(f"{self.address_string()} - - [{self.log_date_time_string()}] {format % args}\n")
        sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nginx")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--root", default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("0.0.0.0", args.port), functools.partial(_Handler, directory=args.root))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # nginx stops on SIGTERM (fast shutdown)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
