"""The committed OpenAPI definitions are exactly what the generator makes from kubernetes-validate."""

from __future__ import annotations

from schema_bundle import BUNDLE, bundle_text


def test_bundled_definitions_are_generated_not_edited() -> None:
    assert BUNDLE.read_text() == bundle_text(), "run: python tests/apiserver/schema_bundle.py"
