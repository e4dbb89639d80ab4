"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl does not format objects itself: it asks the server for a Table (columns plus
one row of cells per object) and prints it. A plain List gets only ``NAME AGE``, so
to look like a real cluster the server must produce the same columns and cell text as
upstream's printers (``pkg/printers/internalversion/printers.go``):

* ``columns`` - each kind's column definitions (priority 1 = ``-o wide`` only).
* ``cells``   - cell text every printer shares: ages (upstream ``HumanDuration``,
  from an injected clock), ``<none>``, labels, host:port, "+ N more..." lists.
* ``rows``    - the row of each kind but Pod.
* ``workloads`` - rows of Deployments, ReplicaSets, DaemonSets, StatefulSets,
  ReplicationControllers, Jobs, ConfigMaps, Secrets, ServiceAccounts and RBAC bindings.
* ``pods``    - a Pod's row: upstream ``printPod``'s walk over container statuses.
* ``table``   - :func:`to_table`, the Table itself.

All functions are side-effect-free.
"""

from .cells import human_duration
from .columns import Column, column_definitions
from .table import to_table

__all__ = ["Column", "column_definitions", "human_duration", "to_table"]
