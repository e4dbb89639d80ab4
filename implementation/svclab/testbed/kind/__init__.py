"""svclab.testbed.kind: the kind provider.

* ``tools``: kind, kubectl and docker found on PATH; ``preflight(spec)``;
* ``image``: the svclab image (``svclab image build``);
* ``rbac`` and ``manifests``: what runs svclab in a cluster
  (``svclab image manifests``);
* ``cluster``: ``bring_up(spec, name)``, ``handle(name)``, ``tear_down(name)``
  through pytest-kind-ng; ``KindCluster``, the cluster's handle;
* ``provider``: ``KIND``, the ``svclab.testbed.provider.Provider``.
"""

from svclab.testbed.kind.tools import KindError, preflight

__all__ = ["KindError", "preflight"]
