"""Validation and defaulting of the inert kinds (stored and served, acted on by nothing):
Ingress, NetworkPolicy, CertificateSigningRequest, CSIStorageCapacity, with
upstream's field paths and messages. No addresses.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from validation_builders import rendered

from svclab.apiserver.defaults import apply_defaults
from svclab.apiserver.validation import validate_create

CSR_PEM = b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"


def obj(kind: str, namespaced: bool = True, **fields: Any) -> dict[str, Any]:
    meta = {"name": "x", "namespace": "default"} if namespaced else {"name": "x"}
    return {"kind": kind, "metadata": meta, **fields}


def http_rule(*paths: dict[str, Any]) -> dict[str, Any]:
    return {"http": {"paths": [{"backend": {"service": {"name": "web", "port": {"number": 80}}}, **p} for p in paths]}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"rules": [http_rule({"path": "/a", "pathType": "Prefix"})]}, [], id="prefix-path"),
        pytest.param(
            {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}, [], id="default-backend"
        ),
        pytest.param(
            {},
            [
                "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
            ],
            id="neither",
        ),
        pytest.param(
            {"rules": [http_rule({"path": "/a"})]},
            ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
            id="no-path-type",
        ),
        pytest.param(
            {"rules": [http_rule({"path": "/a", "pathType": "Regex"})]},
            [
                'spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: '
                '"Exact", "Prefix", "ImplementationSpecific"'
            ],
            id="unknown-path-type",
        ),
        pytest.param(
            {"rules": [http_rule({"path": "a", "pathType": "Exact"})]},
            ['spec.rules[0].http.paths[0].path: Invalid value: "a": must be an absolute path'],
            id="relative-exact",
        ),
        pytest.param(
            {"rules": [http_rule({"path": "a", "pathType": "ImplementationSpecific"})]},
            [],
            id="relative-implementation-specific",
        ),
    ],
)
def test_ingress(spec: dict[str, Any], expected: list[str]) -> None:
    assert rendered(validate_create("Ingress", obj("Ingress", spec=spec))) == expected


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        pytest.param(["Ingress", "Egress"], [], id="both"),
        pytest.param(
            ["Ingress", "Sideways"],
            ['spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"'],
            id="unknown",
        ),
        pytest.param(
            ["Ingress", "Egress", "Ingress"],
            [
                'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: '
                "may not specify more than two policyTypes"
            ],
            id="three",
        ),
    ],
)
def test_network_policy_types(types: list[str], expected: list[str]) -> None:
    policy = obj("NetworkPolicy", spec={"podSelector": {}, "policyTypes": types})
    assert rendered(validate_create("NetworkPolicy", policy)) == expected


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        pytest.param({"podSelector": {}}, ["Ingress"], id="no-rules"),
        pytest.param({"podSelector": {}, "egress": [{}]}, ["Ingress", "Egress"], id="egress-rules"),
        pytest.param({"podSelector": {}, "policyTypes": ["Egress"]}, ["Egress"], id="given-kept"),
    ],
)
def test_network_policy_default_types(spec: dict[str, Any], types: list[str]) -> None:
    assert apply_defaults("NetworkPolicy", obj("NetworkPolicy", spec=spec))["spec"]["policyTypes"] == types


def test_network_policy_port_protocol_defaults_to_tcp() -> None:
    policy = obj("NetworkPolicy", spec={"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"protocol": "UDP"}]}]})
    ports = apply_defaults("NetworkPolicy", policy)["spec"]["ingress"][0]["ports"]
    assert ports == [{"port": 80, "protocol": "TCP"}, {"protocol": "UDP"}]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"request": base64.b64encode(CSR_PEM).decode(), "signerName": "kubernetes.io/kube-apiserver-client"},
            [],
            id="valid",
        ),
        pytest.param(
            {"signerName": "example.com/x"},
            ["spec.request: Required value"],
            id="no-request",
        ),
        pytest.param(
            {"request": base64.b64encode(b"not pem").decode(), "signerName": "example.com/x"},
            ["spec.request: Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST"],
            id="not-pem",
        ),
        pytest.param(
            {"request": base64.b64encode(CSR_PEM).decode()},
            ["spec.signerName: Required value"],
            id="no-signer",
        ),
    ],
)
def test_certificate_signing_request(spec: dict[str, Any], expected: list[str]) -> None:
    csr = obj("CertificateSigningRequest", namespaced=False, spec=spec)
    assert rendered(validate_create("CertificateSigningRequest", csr)) == expected


def test_csi_storage_capacity_needs_a_storage_class() -> None:
    assert rendered(validate_create("CSIStorageCapacity", obj("CSIStorageCapacity"))) == [
        "storageClassName: Required value"
    ]
    assert validate_create("CSIStorageCapacity", obj("CSIStorageCapacity", storageClassName="standard")) == []


def test_names_are_dns_subdomains() -> None:
    bad = obj("Ingress", spec={"defaultBackend": {"service": {"name": "web"}}})
    bad["metadata"]["name"] = "Bad_Name"
    assert rendered(validate_create("Ingress", bad))[0].startswith('metadata.name: Invalid value: "Bad_Name"')
