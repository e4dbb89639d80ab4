"""Builds ``svclab/apiserver/schemas/definitions.json`` from kubernetes-validate's copy of upstream's OpenAPI.

The API server decodes request bodies against these definitions (field
types, as kube-apiserver's typed JSON decoder does). Only the API groups the
server serves or may serve are kept, descriptions dropped. Regenerate with
``python tests/apiserver/schema_bundle.py`` after changing ``GROUPS`` or the
kubernetes-validate pin; a test keeps the committed file equal to this output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "v1.37.0"
BUNDLE = Path(__file__).resolve().parents[2] / "implementation/svclab/apiserver/schemas/definitions.json"
GROUPS = (
    "io.k8s.api.apps.v1.",
    "io.k8s.api.authentication.v1.",
    "io.k8s.api.authorization.v1.",
    "io.k8s.api.autoscaling.v1.",
    "io.k8s.api.batch.v1.",
    "io.k8s.api.certificates.v1.",
    "io.k8s.api.coordination.v1.",
    "io.k8s.api.core.v1.",
    "io.k8s.api.discovery.v1.",
    "io.k8s.api.events.v1.",
    "io.k8s.api.networking.v1.",
    "io.k8s.api.policy.v1.",
    "io.k8s.api.rbac.v1.",
    "io.k8s.api.storage.v1.",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.",
    "io.k8s.apimachinery.",
)


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def bundle_text() -> str:
    """The bundle: a header line, then one definition per line (readable diffs)."""
    import kubernetes_validate

    source = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"{KUBERNETES_VERSION}-local"
        / "_definitions.json"
    )
    definitions = json.loads(source.read_text())["$defs"]
    kept = {name: _strip(d) for name, d in sorted(definitions.items()) if name.startswith(GROUPS)}
    lines = [f'{{"kubernetesVersion": "{KUBERNETES_VERSION}", "definitions": {{']
    items = list(kept.items())
    for index, (name, definition) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(definition, sort_keys=True, separators=(',', ':'))}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    BUNDLE.write_text(bundle_text())
    print(f"wrote {BUNDLE}", file=sys.stderr)
