"""svclab.controllers.workloads: the controllers that keep pods running.

Upstream ``pkg/controller/{replicaset,replication,deployment,daemon,job}``,
each a pure planner plus a thin shell on the shared informers:

* ``replicas``     ``plan_replicas(desired, pods, related)``  -> ReplicaPlan (create n, delete these)
* ``rollout``      ``plan_deployment_sync(deployment, replica_sets, pods, now)`` -> RolloutPlan
* ``daemons``      ``plan_daemon_set(daemon_set, nodes, pods)``  -> DaemonPlan (nodes to fill, pods to delete)
* ``jobs``         ``plan_job(job, pods, now)``                   -> JobPlan (create n, delete these, status)
* ``pods``         ``deletion_order`` (which pods go first), ``pod_from_template``
* ``ownership``    ``plan_claims`` (adopt orphans, release pods no longer selected)
* ``expectations`` creates and deletes made but not yet seen in the cache

``deployments`` (fenceposts, hash, revisions, status), ``scaling``
(proportional scaling) and ``progress`` (the Progressing condition) are the
rest of the Deployment controller's core.  ``owner_controller`` is the base
of the pod-owning shells (pod event routing, claims, pod writes with
upstream's events); ``replicaset_controller`` holds the ReplicaSet and
ReplicationController controllers; ``deployment_controller``,
``daemonset_controller`` and ``job_controller`` the other three.
"""

from .daemons import DaemonPlan, plan_daemon_set
from .jobs import JobPlan, plan_job
from .ownership import Claims, plan_claims
from .pods import deletion_order, is_pod_active, is_pod_available, pod_from_template
from .replicas import ReplicaPlan, plan_replicas, replica_status, slow_start_batches
from .rollout import RolloutPlan, plan_deployment_sync

__all__ = [
    "Claims",
    "DaemonPlan",
    "JobPlan",
    "ReplicaPlan",
    "RolloutPlan",
    "deletion_order",
    "is_pod_active",
    "is_pod_available",
    "plan_claims",
    "plan_daemon_set",
    "plan_deployment_sync",
    "plan_job",
    "plan_replicas",
    "pod_from_template",
    "replica_status",
    "slow_start_batches",
]
