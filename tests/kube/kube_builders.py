"""Builders for svclab.kube unit tests."""

from __future__ import annotations

from typing import Any

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod


def make_pod(name: str, namespace: str = "ns1", *, labels: dict[str, str] | None = None, rv: str | None = None) -> Pod:
    return Pod(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels, resourceVersion=rv))


def names(objs: list[Any]) -> list[str]:
    return [obj.metadata.name for obj in objs]
