"""Rows of the workload kinds, of ConfigMaps, Secrets and ServiceAccounts, and of RBAC
bindings, as upstream's printers compute them (``printDeployment``, ``printJob``,
``printRoleBinding`` ...). Roles print with the default columns (name, creation time).

Each ``*_row(obj, now)`` returns the cells in the order of its kind's columns
(:mod:`.columns`), wide columns included. Side-effect-free.
"""

from __future__ import annotations

import datetime as dt

from svclab.apimachinery.labels import label_selector_from_api
from svclab.apimachinery.selection import SelectorError

from .cells import NONE, Cells, Obj, format_labels, human_duration, parse_time, since

__all__ = [
    "binding_row",
    "config_map_row",
    "controller_revision_row",
    "daemon_set_row",
    "deployment_row",
    "job_row",
    "replica_set_row",
    "replication_controller_row",
    "secret_row",
    "service_account_row",
    "stateful_set_row",
]


def _name_age(obj: Obj, now: dt.datetime) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("name", ""), since(meta.get("creationTimestamp"), now)


def config_map_row(config_map: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(config_map, now)
    return [name, len(config_map.get("data") or {}) + len(config_map.get("binaryData") or {}), age]


def secret_row(secret: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(secret, now)
    return [name, secret.get("type", ""), len(secret.get("data") or {}), age]


def service_account_row(account: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(account, now)
    return [name, len(account.get("secrets") or []), age]


def _template_cells(obj: Obj, selector: str) -> list[str]:
    """Wide cells: container names, images, selector (upstream layoutContainerCells)."""
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers), selector]


def _selector_text(obj: Obj) -> str:
    """metav1.LabelSelectorAsSelector(spec.selector).String(); a nil selector prints ``<none>``."""
    selector = (obj.get("spec") or {}).get("selector")
    if selector is None:
        return NONE
    try:
        text = str(label_selector_from_api(selector))
    except SelectorError:
        return NONE
    return text or NONE


def deployment_row(deployment: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(deployment, now)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}"
    cells: Cells = [name, ready, status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age]
    return cells + _template_cells(deployment, _selector_text(deployment))


def replica_set_row(replica_set: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(replica_set, now)
    spec, status = replica_set.get("spec") or {}, replica_set.get("status") or {}
    cells: Cells = [name, spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0), age]
    return cells + _template_cells(replica_set, _selector_text(replica_set))


def replication_controller_row(rc: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(rc, now)
    spec, status = rc.get("spec") or {}, rc.get("status") or {}
    cells: Cells = [name, spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0), age]
    return cells + _template_cells(rc, format_labels(spec.get("selector")))


def daemon_set_row(daemon_set: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(daemon_set, now)
    status = daemon_set.get("status") or {}
    template_spec = ((daemon_set.get("spec") or {}).get("template") or {}).get("spec") or {}
    counts = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled")
    cells: Cells = [name, *(status.get(key, 0) for key in counts), status.get("numberAvailable", 0)]
    cells += [format_labels(template_spec.get("nodeSelector")), age]
    return cells + _template_cells(daemon_set, _selector_text(daemon_set))


def stateful_set_row(stateful_set: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(stateful_set, now)
    spec, status = stateful_set.get("spec") or {}, stateful_set.get("status") or {}
    cells: Cells = [name, f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", age]
    return cells + _template_cells(stateful_set, "")[:2]


def _has_condition(status: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def _job_status(job: Obj) -> str:
    status = job.get("status") or {}
    for condition, word in (("Complete", "Complete"), ("Failed", "Failed")):
        if _has_condition(status, condition):
            return word
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for condition in ("SuccessCriteriaMet", "FailureTarget", "Suspended"):
        if _has_condition(status, condition):
            return condition
    return "Running"


def _job_completions(spec: Obj, succeeded: int) -> str:
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_row(job: Obj, now: dt.datetime) -> Cells:
    name, age = _name_age(job, now)
    spec, status = job.get("spec") or {}, job.get("status") or {}
    started, finished = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if started is None else human_duration((finished or now) - started)
    cells: Cells = [name, _job_status(job), _job_completions(spec, status.get("succeeded", 0)), duration, age]
    return cells + _template_cells(job, _selector_text(job))


def binding_row(binding: Obj, now: dt.datetime) -> Cells:
    """RoleBinding and ClusterRoleBinding: the role as Kind/name; subjects by kind (wide)."""
    name, age = _name_age(binding, now)
    role_ref = binding.get("roleRef") or {}
    subjects = binding.get("subjects") or []

    def of_kind(kind: str) -> str:
        picked = [s for s in subjects if s.get("kind") == kind]
        if kind == "ServiceAccount":
            return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in picked)
        return ", ".join(s.get("name", "") for s in picked)

    role = f"{role_ref.get('kind', '')}/{role_ref.get('name', '')}"
    return [name, role, age, of_kind("User"), of_kind("Group"), of_kind("ServiceAccount")]


def controller_revision_row(revision: Obj, now: dt.datetime) -> Cells:
    """Upstream printControllerRevision: the controlling owner as kind.group/name, or <none>."""
    name, age = _name_age(revision, now)
    controller = NONE
    for owner in (revision.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("controller"):
            group = owner.get("apiVersion", "").rpartition("/")[0]
            kind = f"{owner.get('kind', '')}.{group}" if group else owner.get("kind", "")
            controller = f"{kind.lower()}/{owner.get('name', '')}"
    return [name, controller, revision.get("revision", 0), age]
