"""YAML bodies become the JSON values sigs.k8s.io/yaml would make of them."""

from __future__ import annotations

import json

import pytest

from svclab.apiserver.yaml_json import YamlError, load_yaml_as_json


def test_timestamps_stay_strings_and_keys_become_strings() -> None:
    value = load_yaml_as_json(b"when: 2026-12-03T10:00:00Z\nday: 2026-12-03\n2: two\ntrue: yes\n")
    assert value == {"when": "2026-12-03T10:00:00Z", "day": "2026-12-03", "2": "two", "true": True}
    json.dumps(value)


def test_escaped_surrogate_pairs_are_joined() -> None:
    assert load_yaml_as_json(b'{"a": "\\ud800\\udc00"}') == {"a": "\U00010000"}


@pytest.mark.parametrize("body", [b'{"a": "\\ud800"}', b"a: .nan\n", b"a: [\n", b"? [1, 2]\n: x\n"])
def test_what_json_cannot_carry_is_refused(body: bytes) -> None:
    with pytest.raises(YamlError):
        load_yaml_as_json(body)


def test_binary_becomes_base64() -> None:
    assert load_yaml_as_json(b"data: !!binary aGVsbG8=\n") == {"data": "aGVsbG8="}
