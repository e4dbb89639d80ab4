"""merge_patch (RFC 7386): the RFC's examples (its appendix A) and its contract."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from svclab.apimachinery.merge_patch import merge_patch


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


@pytest.mark.parametrize(
    ("doc", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
    ids=[f"rfc7386-{i}" for i in range(10)],
)
def test_rfc7386_examples(doc: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    assert merge_patch(doc, patch) == result
    assert doc == before
