"""The providers by kind: the one place that knows ``local``, ``kind`` and ``kubeconfig``.

``provider_for(kind)`` gives the ``Provider`` of a spec's ``provider:`` (the
kubeconfig provider with the file to use, None: $KUBECONFIG then
~/.kube/config); ``attach(name)`` finds a running cluster by name among the
providers that remember theirs (a local cluster first, then a kind testbed
``svclab up`` brought up), and ``down(name)`` removes it. Providers are imported on first use, so a command
never pays for the ones it does not need.
"""

from __future__ import annotations

from pathlib import Path

from svclab.testbed.provider import ClusterHandle, Provider
from svclab.testbed.spec import ProviderKind

__all__ = ["attach", "down", "provider_for"]


def provider_for(kind: ProviderKind | str, *, kubeconfig: str | Path | None = None) -> Provider:
    """The provider of ``kind``; ``kubeconfig`` only matters to the kubeconfig provider."""
    kind = ProviderKind(kind)
    if kind is ProviderKind.LOCAL:
        from svclab.testbed.local.provider import LOCAL

        return LOCAL
    if kind is ProviderKind.KIND:
        from svclab.testbed.kind.provider import KIND

        return KIND
    from svclab.testbed.kubeconfig import KubeconfigProvider

    return KubeconfigProvider(kubeconfig)


def attach(name: str) -> ClusterHandle | None:
    """The running cluster ``name`` (local first, then kind), or None.

    Raises ProviderError when a kind testbed of that name exists but cannot be reached."""
    for kind in (ProviderKind.LOCAL, ProviderKind.KIND):
        found = provider_for(kind).attach(name)
        if found is not None:
            return found
    return None


def down(name: str) -> bool:
    """Remove the running cluster ``name``: a kind testbed first (that needs no root),
    else a local cluster; False when neither had anything of that name.

    Raises ProviderError (e.g. the local provider without root)."""
    return any(provider_for(kind).down(name) for kind in (ProviderKind.KIND, ProviderKind.LOCAL))
