"""ConfigMap, Secret and ServiceAccount validation, as upstream's core validation does it.

Keys of ``data`` / ``binaryData`` are config keys (``[-._a-zA-Z0-9]+``, at most
253 bytes, not ``.``, ``..`` or starting with ``..``), a key may not be in both
maps, and the values together hold at most 1 MiB. A Secret's type asks for
what it needs (a TLS Secret ``tls.crt`` and ``tls.key``, a service-account token
Secret the ``kubernetes.io/service-account.name`` annotation ...); the type is
immutable, and an ``immutable`` object keeps its data. Values arrive as base64
text (Secret ``data``, ``binaryData``); their size is the decoded size.
All functions are side-effect-free.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from svclab.apimachinery.validation import max_len_error, regex_error

from .access import key, mapping, text
from .errors import FieldError, forbidden, invalid, required, too_long
from .formats import name_is_dns_subdomain
from .meta import validate_immutable, validate_object_meta

__all__ = [
    "CONFIG_VALIDATORS",
    "is_config_map_key",
    "validate_config_map",
    "validate_secret",
    "validate_service_account",
]

MAX_SECRET_SIZE = 1024 * 1024
_KEY_FORMAT = "[-._a-zA-Z0-9]+"
_KEY_MESSAGE = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_IMMUTABLE = "field is immutable when `immutable` is set"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"


def is_config_map_key(value: str) -> list[str]:
    """Upstream ``IsConfigMapKey``."""
    errs = []
    if len(value.encode()) > 253:
        errs.append(max_len_error(253))
    if not re.fullmatch(_KEY_FORMAT, value):
        errs.append(regex_error(_KEY_MESSAGE, _KEY_FORMAT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _decoded(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _key_errors(values: dict[str, Any], path: str) -> list[FieldError]:
    return [invalid(key(path, k), k, msg) for k in sorted(values) for msg in is_config_map_key(k)]


def validate_config_map(config_map: dict[str, Any]) -> list[FieldError]:
    errs = validate_object_meta(mapping(config_map, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain)
    data, binary = mapping(config_map, "data"), mapping(config_map, "binaryData")
    errs += _key_errors(data, "data")
    errs += [invalid(key("data", k), k, "duplicate of key present in binaryData") for k in sorted(data) if k in binary]
    errs += _key_errors(binary, "binaryData")
    errs += [invalid(key("binaryData", k), k, "duplicate of key present in data") for k in sorted(binary) if k in data]
    size = sum(len(str(v).encode()) for v in data.values()) + sum(len(_decoded(v)) for v in binary.values())
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("", MAX_SECRET_SIZE))
    return errs


def _docker_config_errors(data: dict[str, Any], name: str) -> list[FieldError]:
    if name not in data:
        return [required(key("data", name))]
    try:
        json.loads(_decoded(data[name]) or b"{}")
    except ValueError as exc:
        return [invalid(key("data", name), "<secret contents redacted>", str(exc))]
    return []


def _type_errors(secret: dict[str, Any], data: dict[str, Any]) -> list[FieldError]:
    kind = text(secret, "type")
    if kind == "kubernetes.io/service-account-token":
        annotations = mapping(mapping(secret, "metadata"), "annotations")
        if not annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            return [required(key("metadata.annotations", SERVICE_ACCOUNT_NAME_KEY))]
    if kind == "kubernetes.io/dockercfg":
        return _docker_config_errors(data, ".dockercfg")
    if kind == "kubernetes.io/dockerconfigjson":
        return _docker_config_errors(data, ".dockerconfigjson")
    if kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        return [required(key("data", "username")), required(key("data", "password"))]
    if kind == "kubernetes.io/ssh-auth" and not _decoded(data.get("ssh-privatekey", "")):
        return [required(key("data", "ssh-privatekey"))]
    if kind == "kubernetes.io/tls":
        return [required(key("data", name)) for name in ("tls.crt", "tls.key") if name not in data]
    return []


def validate_secret(secret: dict[str, Any]) -> list[FieldError]:
    errs = validate_object_meta(mapping(secret, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain)
    data = mapping(secret, "data")
    errs += _key_errors(data, "data")
    if sum(len(_decoded(v)) for v in data.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    return errs + _type_errors(secret, data)


def _immutable_data(new: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...]) -> list[FieldError]:
    if old.get("immutable") is not True:
        return []
    errs = [] if new.get("immutable") is True else [forbidden("immutable", _IMMUTABLE)]
    return errs + [forbidden(name, _IMMUTABLE) for name in fields if mapping(new, name) != mapping(old, name)]


def _validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs = validate_immutable(text(new, "type"), text(old, "type"), "type")
    return errs + _immutable_data(new, old, ("data",)) + validate_secret(new)


def _validate_config_map_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return _immutable_data(new, old, ("data", "binaryData")) + validate_config_map(new)


def validate_service_account(account: dict[str, Any]) -> list[FieldError]:
    return validate_object_meta(mapping(account, "metadata"), namespaced=True, name_fn=name_is_dns_subdomain)


# kind -> (create, update) validators; the ObjectMeta update rules are added by the caller.
CONFIG_VALIDATORS: dict[str, tuple[Any, Any]] = {
    "ConfigMap": (validate_config_map, _validate_config_map_update),
    "Secret": (validate_secret, _validate_secret_update),
    "ServiceAccount": (validate_service_account, lambda new, old: validate_service_account(new)),
}
