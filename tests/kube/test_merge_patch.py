"""merge_patch (RFC 7386): its contract; the RFC's examples run in tests/apiserver/test_patch.py."""

from __future__ import annotations

from svclab.kube.merge_patch import merge_patch


def test_merge_patch_changes_neither_argument() -> None:
    target = {"a": {"b": 1}, "gone": [1]}
    patch = {"a": {"c": [2]}, "gone": None}
    merged = merge_patch(target, patch)
    assert merged == {"a": {"b": 1, "c": [2]}}
    merged["a"]["c"].append(3)
    assert target == {"a": {"b": 1}, "gone": [1]}
    assert patch == {"a": {"c": [2]}, "gone": None}


def test_a_patch_that_is_not_an_object_replaces_the_target() -> None:
    assert merge_patch({"a": 1}, [{"b": None}]) == [{"b": None}]
    assert merge_patch([1], {"a": None, "b": 2}) == {"b": 2}
