"""YAML request bodies read as JSON values, the way kube-apiserver reads them (sigs.k8s.io/yaml).

Upstream converts YAML to JSON before decoding: map keys become strings,
timestamps stay strings, and nothing but JSON types comes out. PyYAML's safe
loader alone would hand back ``datetime`` objects, integer keys and, for a
``"\\ud800\\udc00"`` escape, two lone surrogates that no JSON encoder accepts.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import yaml

__all__ = ["YamlError", "load_yaml_as_json"]


class YamlError(ValueError):
    """The body is not YAML, or holds a value JSON cannot carry."""


class _JsonishLoader(yaml.SafeLoader):
    """The safe loader without the timestamp resolver: dates stay strings, as in JSON."""


_JsonishLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_as_json(body: bytes | str) -> Any:
    """The JSON value a YAML document stands for; raises ``YamlError``."""
    try:
        loaded = yaml.load(body, Loader=_JsonishLoader)
    except yaml.YAMLError as exc:
        raise YamlError(f"error converting YAML to JSON: {exc}") from None
    return _as_json(loaded)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, str):
        return _text(key)
    if isinstance(key, int | float):
        return str(key)
    raise YamlError(f"error converting YAML to JSON: unsupported map key {key!r}")


def _text(text: str) -> str:
    """Join UTF-16 surrogate pairs that YAML's \\u escapes leave split; refuse lone ones."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise YamlError("error converting YAML to JSON: invalid Unicode (a lone surrogate)") from None


def _as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json(v) for v in value]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise YamlError(f"error converting YAML to JSON: {value} is not a JSON number")
    if isinstance(value, bytes):  # !!binary: JSON carries bytes as base64, as Go's []byte
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return {_key(k): None for k in value}
    return value
