"""The kind provider as a ``svclab.testbed.provider.Provider`` (see ``kind.cluster``)."""

from __future__ import annotations

from dataclasses import dataclass

from svclab.testbed.kind import cluster
from svclab.testbed.kind.tools import KindError, preflight
from svclab.testbed.provider import Progress, ProviderError
from svclab.testbed.spec import Testbed

__all__ = ["KIND", "KindProvider"]

MIN_UP_TIMEOUT = 300.0  # image loading and rollouts on a small machine


@dataclass(frozen=True, slots=True)
class KindProvider:
    kind: str = "kind"
    creates_clusters: bool = True

    def preflight(self, spec: Testbed) -> str | None:
        return preflight(spec)

    def kernel(self, spec: Testbed) -> str:
        del spec
        return self.kind

    def up(
        self, spec: Testbed, *, progress: Progress, timeout: float | None = None, keep_on_failure: bool = False
    ) -> cluster.KindCluster:
        """Create the cluster and deploy svclab on it; raises ProviderError."""
        try:
            return cluster.bring_up(
                spec,
                spec.name,
                progress=progress,
                timeout=max(timeout or 0.0, MIN_UP_TIMEOUT),
                keep_on_failure=keep_on_failure,
            )
        except KindError as exc:
            raise ProviderError(str(exc)) from exc

    def down(self, name: str) -> bool:
        """Delete the kind testbed ``name``; False when none of that name was brought up here."""
        if cluster.kubeconfig_path(name) is None:
            return False
        try:
            cluster.tear_down(name)
        except KindError as exc:
            raise ProviderError(str(exc)) from exc
        return True

    def attach(self, name: str) -> cluster.KindCluster | None:
        if cluster.kubeconfig_path(name) is None:
            return None
        try:
            return cluster.handle(name)
        except KindError as exc:
            raise ProviderError(f"kind testbed {name}: {exc}") from exc


KIND = KindProvider()
