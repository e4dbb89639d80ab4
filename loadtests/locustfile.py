"""svclab's locustfile: the same users as ``python -m svclab.load.worker``, for locust's CLI.

Used for distributed runs (kind and other real clusters), where locust runs as
a master pod and worker pods::

    locust -f loadtests/locustfile.py --master --headless -u 50 -r 50 -t 30s \
        --svclab-url http://10.96.0.10/hostname --csv out/run --html out/run.html \
        KeepAliveUser
    locust -f loadtests/locustfile.py --worker --master-host locust-master

Pick the scenario by class name: ``KeepAliveUser``, ``NewConnectionUser`` or
``ConnectProbeUser`` (the connection probe: TCP connect and connect + first
response timed on a bare socket, reported as request types ``CONNECT`` and
``FIRST_RESPONSE``; give it few users, e.g. one per worker).
``--svclab-url`` may be repeated (or comma-separated); each user cycles
through the URLs, starting at a different one.  Locust forwards custom
arguments from the master to its workers.

This entry point does *not* interleave targets: all URLs form one target
(requests named ``/hostname``), so the direct baseline, ClusterIP and
NodePort are separate runs one after another, and their ratios include
whatever the cluster's load did in between.  Interleaving needs one process
that switches every user at slice boundaries and counts seconds per target,
which is what ``python -m svclab.load.worker --target NAME=URL ...`` does;
locust's master cannot switch its workers' users in step.
"""

from __future__ import annotations

from typing import Any

from locust import events

from svclab.load import users
from svclab.load.users import REQUEST_NAME, TargetSwitch, configure

__all__ = ["ConnectProbeUser", "KeepAliveUser", "NewConnectionUser"]


class ConnectProbeUser(users.ConnectProbeUser):
    """Times new connections (URLs set from ``--svclab-url`` at init)."""

    abstract = False


class KeepAliveUser(users.KeepAliveUser):
    """Persistent connections (URLs set from ``--svclab-url`` at init)."""

    abstract = False


class NewConnectionUser(users.NewConnectionUser):
    """A new TCP connection per request (URLs set from ``--svclab-url`` at init)."""

    abstract = False


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def add_svclab_arguments(parser: Any) -> None:
    parser.add_argument(
        "--svclab-url",
        action="append",
        default=[],
        include_in_web_ui=True,
        help="target URL, repeatable or comma-separated (svclab)",
    )


@events.init.add_listener  # type: ignore[untyped-decorator]
def configure_users(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    urls = [u for arg in (getattr(options, "svclab_url", None) or []) for u in arg.split(",") if u]
    if not urls and options is not None and options.host:
        urls = [options.host.rstrip("/") + "/hostname"]
    if urls:
        switch = TargetSwitch({REQUEST_NAME: urls})
        configure(KeepAliveUser, switch)
        configure(NewConnectionUser, switch)
        configure(ConnectProbeUser, switch)
