"""Discovery and OpenAPI documents, generated from the resource table.

kubectl reads legacy discovery (`/api`, `/apis`, one APIResourceList per
group/version) and, before `apply`, an OpenAPI v3 index. A minimal v3 document
per group/version is enough for client-side apply as long as each PATCH
operation declares `x-kubernetes-group-version-kind` and the `fieldValidation`
parameter (then kubectl leaves field validation to the server).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson

from . import apiextensions, openapi
from .resources import ResourceType, all_resources, served_generation

__all__ = [
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "group_versions",
    "openapi_v3_document",
    "openapi_v3_index",
    "version_info",
]

KUBERNETES_VERSION = "v1.33.0"

_SUBRESOURCE_KINDS = {
    "binding": ("Binding", ("create",)),
    "finalize": ("Namespace", ("update",)),
    "log": ("Pod", ("get",)),
    "exec": ("PodExecOptions", ("create", "get")),
    "attach": ("PodAttachOptions", ("create", "get")),
    "portforward": ("PodPortForwardOptions", ("create", "get")),
}
# Subresources served in another group's kind: (group, version, kind, verbs), as upstream lists them.
_FOREIGN_SUBRESOURCES = {
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}


def version_info() -> dict[str, Any]:
    return {
        "major": "1",
        "minor": "33",
        "gitVersion": KUBERNETES_VERSION + "-svclab",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


def group_versions() -> list[tuple[str, str]]:
    """(group, version) pairs served, core first, in a stable order."""
    seen: list[tuple[str, str]] = []
    for r in all_resources():
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> dict[str, Any]:
    versions: dict[str, list[str]] = {}
    for group, version in group_versions():
        if group:
            versions.setdefault(group, []).append(version)
    groups = []
    for group, names in versions.items():
        entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in names]
        # the first listed is preferred: a custom group lists its storage version first
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_entries(r: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(r.verbs),
        "storageVersionHash": hashlib.sha256(f"{r.api_version}/{r.kind}".encode()).hexdigest()[:12],
    }
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    entries = [main]
    for sub in r.subresources:
        entry: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
        if sub in _FOREIGN_SUBRESOURCES:
            group, version, kind, verbs = _FOREIGN_SUBRESOURCES[sub]
            entry.update(group=group, version=version)
        else:
            kind, verbs = _SUBRESOURCE_KINDS.get(sub, (r.kind, ("get", "patch", "update")))
        entries.append(dict(entry, kind=kind, verbs=list(verbs)))
    return entries


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    resources = [r for r in all_resources() if (r.group, r.version) == (group, version)]
    if not resources:
        return None
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": [e for r in resources for e in _resource_entries(r)],
    }


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_document(group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group/version (custom ones included); callers only serialise it."""
    return _openapi_v3_document(group, version, served_generation())


@functools.lru_cache(maxsize=256)  # the same until CustomResourceDefinitions change
def _openapi_v3_document(group: str, version: str, generation: int) -> dict[str, Any] | None:
    resources = [r for r in all_resources() if (r.group, r.version) == (group, version)]
    if not resources:
        return None
    paths: dict[str, Any] = {}
    field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
    for r in resources:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        prefix = "/" + _gv_path(group, version)
        base = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
        op = {
            "operationId": f"patch{r.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [field_validation],
            "responses": {"200": {"description": "OK"}},
        }
        create = dict(op, operationId=f"create{r.kind}", **{"x-kubernetes-action": "post"})
        paths[base] = {"post": create}
        paths[base + "/{name}"] = {
            "patch": op,
            "put": dict(op, operationId=f"replace{r.kind}", **{"x-kubernetes-action": "put"}),
        }
    schemas = dict(openapi.v3_schemas())
    schemas.update(_custom_schema(r) for r in resources if r.custom)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _custom_schema(r: ResourceType) -> tuple[str, dict[str, Any]]:
    """(component name, schema) of a custom kind, named as upstream publishes it
    (reversed group, version, kind); ``kubectl explain`` finds it by its GVK."""
    served = apiextensions.custom_kind_of(r.kind)
    schema = dict(served.schema if served else {"type": "object"})
    properties = dict(schema.get("properties") or {})
    properties.update(
        apiVersion={"type": "string"},
        kind={"type": "string"},
        metadata={"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
    )
    schema["properties"] = properties
    schema["x-kubernetes-group-version-kind"] = [{"group": r.group, "version": r.version, "kind": r.kind}]
    name = ".".join([*reversed(r.group.split(".")), r.version, r.kind])
    return name, schema


def openapi_v3_index() -> dict[str, Any]:
    return _openapi_v3_index(served_generation())


@functools.lru_cache(maxsize=8)
def _openapi_v3_index(generation: int) -> dict[str, Any]:
    paths = {}
    for group, version in group_versions():
        doc = orjson.dumps(openapi_v3_document(group, version))
        digest = hashlib.sha512(doc).hexdigest()[:64].upper()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
