"""Builders for the CronTab CustomResourceDefinition the CRD tests share (upstream's documentation example)."""

from __future__ import annotations

import time
from typing import Any

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CRD_NAME = "crontabs.stable.example.com"
CTS = "/apis/stable.example.com/v1/namespaces/default/crontabs"
SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "cronSpec": {"type": "string"},
                "replicas": {"type": "integer", "minimum": 0, "default": 1},
                "selector": {"type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}}},
    },
}


def crontab_crd(*, subresources: bool = True, scope: str = "Namespaced") -> dict[str, Any]:
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA}}
    if subresources:
        version["subresources"] = {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": "stable.example.com",
            "scope": scope,
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [version],
        },
    }


def crontab(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": name}, "spec": spec}


def wait_established(api: Any, name: str = CRD_NAME) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        crd: dict[str, Any] = api.get(f"{CRDS}/{name}").json()
        conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions", [])}
        if conditions.get("Established") == "True":
            return crd
        time.sleep(0.05)
    raise AssertionError(f"CRD {name} not established: {crd}")
