"""make_client: a lightkube ``AsyncClient`` configured the svclab way.

Configuration comes from, in order: the ``kubeconfig`` argument, the
``$KUBECONFIG`` variable, the in-cluster service account (a controller running
in a kind pod), then ``~/.kube/config``.  Requests time out after 10 s
(connect 2 s: SYNs go out at 0 and 1 s, so a client retrying an API server
it was cut off from tries again soon after the path heals, issue 15); watches
have no read timeout (lightkube lifts it for watches and the server ends them
after ``timeoutSeconds``; the reflector detects a silent one itself).  Writes carry
``fieldManager`` so managed fields name svclab.
"""

from __future__ import annotations

import os

import httpx2
from lightkube import AsyncClient, KubeConfig

__all__ = ["REQUEST_TIMEOUT", "make_client"]

# Seconds: whole-request timeout, and the connect part of it.
REQUEST_TIMEOUT = 10.0
CONNECT_TIMEOUT = 2.0


def _load_config(kubeconfig: str | None) -> KubeConfig:
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        # $KUBECONFIG may list several files; as kubectl, the first one wins here.
        return KubeConfig.from_file(path.split(os.pathsep)[0])
    return KubeConfig.from_env()


def make_client(kubeconfig: str | None = None, *, field_manager: str = "svclab") -> AsyncClient:
    """Build an ``AsyncClient``; raises lightkube ``ConfigError`` without any config."""
    return AsyncClient(
        _load_config(kubeconfig),
        timeout=httpx2.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
        field_manager=field_manager,
    )
