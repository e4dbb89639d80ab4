"""Locust in distributed mode as pods: one master, N workers, one locustfile.

On a real cluster the load generators must run where the traffic goes, in
pods, so that packets cross the proxy under test exactly as an application's
would. ``locust_manifests(options)`` renders a ConfigMap holding the
locustfile, a master Job running headless (it exits when the run ends, so a
Job, not a Deployment that would start it again) (``--headless --master
--expect-workers N``, stats as CSV under ``/tmp``), a ClusterIP Service for the
workers to reach the master on 5557, and a worker Deployment of N replicas
(``--worker --master-host <service>``). The load-test helper applies them,
reads the master's logs / CSV through ``kubectl exec`` and deletes them.

Side-effect-free; returns plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LOCUST_IMAGE", "LocustOptions", "locust_manifests"]

# The locust version the load tests are written for (PyPI locust 2.47.0).
LOCUST_IMAGE = "locustio/locust:2.47.0"
MASTER_PORT = 5557  # workers connect here
WEB_PORT = 8089
LOCUSTFILE_KEY = "locustfile.py"
LOCUSTFILE_DIR = "/mnt/locust"


@dataclass(frozen=True, slots=True)
class LocustOptions:
    """One distributed run: what to run, against which host, with how much load."""

    name: str  # prefix of every object, e.g. "locust-iptables"
    namespace: str
    locustfile: str  # the locustfile's text
    host: str  # e.g. http://svc.ns.svc.cluster.local
    workers: int = 2
    users: int = 50
    spawn_rate: float = 10.0
    run_time: str = "60s"
    image: str = LOCUST_IMAGE


def _meta(options: LocustOptions, suffix: str, role: str) -> dict[str, Any]:
    return {"name": f"{options.name}-{suffix}", "namespace": options.namespace, "labels": _labels(options, role)}


def _labels(options: LocustOptions, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "locust",
        "app.kubernetes.io/instance": options.name,
        "app.kubernetes.io/component": role,
    }


def _container(options: LocustOptions, role: str, args: list[str]) -> dict[str, Any]:
    return {
        "name": f"locust-{role}",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["-f", f"{LOCUSTFILE_DIR}/{LOCUSTFILE_KEY}", *args],
        "volumeMounts": [{"name": "locustfile", "mountPath": LOCUSTFILE_DIR, "readOnly": True}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }


def _deployment(options: LocustOptions, role: str, replicas: int, container: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(options, role)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options, role, role),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "locustfile", "configMap": {"name": f"{options.name}-locustfile"}}],
                },
            },
        },
    }


def _master_job(options: LocustOptions, container: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(options, "master")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(options, "master", "master"),
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": [{"name": "locustfile", "configMap": {"name": f"{options.name}-locustfile"}}],
                },
            },
        },
    }


def locust_manifests(options: LocustOptions) -> list[dict[str, Any]]:
    """ConfigMap, master Job and Service, worker Deployment, in apply order."""
    if options.workers < 1:
        raise ValueError(f"locust needs at least one worker, got {options.workers}")
    master_args = [
        "--master",
        "--headless",
        f"--expect-workers={options.workers}",
        f"--users={options.users}",
        f"--spawn-rate={options.spawn_rate:g}",
        f"--run-time={options.run_time}",
        f"--host={options.host}",
        "--csv=/tmp/locust",
        "--only-summary",
    ]
    master = _container(options, "master", master_args)
    master["ports"] = [{"name": "master", "containerPort": MASTER_PORT}, {"name": "web", "containerPort": WEB_PORT}]
    worker_args = ["--worker", f"--master-host={options.name}-master", f"--host={options.host}"]
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(options, "locustfile", "config"),
            "data": {LOCUSTFILE_KEY: options.locustfile},
        },
        _master_job(options, master),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(options, "master", "master"),
            "spec": {
                "selector": _labels(options, "master"),
                "ports": [
                    {"name": "master", "port": MASTER_PORT, "targetPort": MASTER_PORT},
                    {"name": "web", "port": WEB_PORT, "targetPort": WEB_PORT},
                ],
            },
        },
        _deployment(options, "worker", options.workers, _container(options, "worker", worker_args)),
    ]
