"""Ingress, NetworkPolicy, CertificateSigningRequest and CSIStorageCapacity served end to end
(discovery, create, list, 422), as kr8s's cluster tests and kubectl list them on kind.

Address plan: one API server on 127.0.0.1:<random>; no pods, no nodes.
"""

from __future__ import annotations

INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: minimal-ingress}
spec:
  ingressClassName: nginx-example
  rules:
  - http:
      paths:
      - {path: /testpath, pathType: Prefix, backend: {service: {name: test, port: {number: 80}}}}
"""


def test_discovery_names_them(api) -> None:  # type: ignore[no-untyped-def]
    networking = {r["name"]: r for r in api.get("/apis/networking.k8s.io/v1").json()["resources"]}
    assert networking["ingresses"]["shortNames"] == ["ing"]
    assert networking["networkpolicies"]["shortNames"] == ["netpol"]
    assert "ingresses/status" in networking
    certificates = {r["name"]: r for r in api.get("/apis/certificates.k8s.io/v1").json()["resources"]}
    assert certificates["certificatesigningrequests"]["namespaced"] is False
    assert certificates["certificatesigningrequests"]["shortNames"] == ["csr"]
    storage = {r["name"] for r in api.get("/apis/storage.k8s.io/v1").json()["resources"]}
    assert "csistoragecapacities" in storage


def test_kubectl_creates_and_lists_them(kubectl) -> None:  # type: ignore[no-untyped-def]
    assert "created" in kubectl("apply", "-f", "-", input=INGRESS).stdout
    kubectl(
        "create",
        "-f",
        "-",
        input='{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",'
        '"metadata":{"name":"deny"},"spec":{"podSelector":{}}}',
    )
    names = kubectl("get", "ingress,netpol,csr", "-o", "name").stdout.split()
    assert names == ["ingress.networking.k8s.io/minimal-ingress", "networkpolicy.networking.k8s.io/deny"]
    types = kubectl("get", "netpol", "deny", "-o", "jsonpath={.spec.policyTypes}").stdout
    assert types == '["Ingress"]'


def test_an_invalid_ingress_is_422(api) -> None:  # type: ignore[no-untyped-def]
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "empty"}, "spec": {}}
    reply = api.post("/apis/networking.k8s.io/v1/namespaces/default/ingresses", body)
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        'Ingress.networking.k8s.io "empty" is invalid: spec: Invalid value: []networking.IngressRule(nil): '
        "either `defaultBackend` or `rules` must be specified"
    )
