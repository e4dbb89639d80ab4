"""Client-certificate authentication (x509, as kind's admin kubeconfig uses it).

Address plan: one API server on 127.0.0.1:<random>; clients use the kubeconfig's
client certificate, a certificate from a foreign CA, or none at all.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from svclab.apiserver.authn import user_from_certificate


def _write_admin_cert(apiserver, directory: Path) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    user = yaml.safe_load(apiserver.kubeconfig.read_text())["users"][0]["user"]
    cert, key = directory / "client.crt", directory / "client.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    return str(cert), str(key)


def _whoami(apiserver, cert: tuple[str, str] | None, token: str | None = None) -> requests.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        apiserver.server + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        headers=headers,
        cert=cert,
        verify=str(apiserver.ca_file),
        timeout=30,
    )


def test_kubeconfig_client_certificate_authenticates_as_the_admin(apiserver, tmp_path: Path) -> None:
    cert = _write_admin_cert(apiserver, tmp_path)
    reply = _whoami(apiserver, cert)
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"]["userInfo"] == {
        "username": "kubernetes-admin",
        "groups": ["kubeadm:cluster-admins", "system:authenticated"],
    }
    pods = requests.get(apiserver.server + "/api/v1/pods", cert=cert, verify=str(apiserver.ca_file), timeout=30)
    assert pods.status_code == 200, pods.text


def test_no_credentials_is_401(apiserver) -> None:
    assert _whoami(apiserver, None).status_code == 401


def test_certificate_of_another_ca_fails_the_handshake(apiserver, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(requests.exceptions.SSLError):
        _whoami(apiserver, (str(tmp_path / "c.crt"), str(tmp_path / "c.key")))


def test_kubectl_with_only_the_client_certificate(apiserver, kubectl, tmp_path: Path) -> None:
    config = yaml.safe_load(apiserver.kubeconfig.read_text())
    del config["users"][0]["user"]["token"]
    only_cert = tmp_path / "cert-only"
    only_cert.write_text(yaml.safe_dump(config))
    result = kubectl("--kubeconfig", str(only_cert), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert result.stdout == "kubernetes-admin"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ((((("commonName", "jane"),),)), ("jane", ("system:authenticated",))),
        (
            ((("organizationName", "dev"),), (("organizationName", "ops"),), (("commonName", "bob"),)),
            ("bob", ("dev", "ops", "system:authenticated")),
        ),
        (((("organizationName", "dev"),),), None),
    ],
    ids=["cn-only", "cn-and-orgs", "no-cn"],
)
def test_user_from_certificate(subject: tuple[object, ...], expected: tuple[str, tuple[str, ...]] | None) -> None:
    user = user_from_certificate({"subject": subject})
    assert (None if user is None else (user.username, user.groups)) == expected


def test_no_certificate_is_no_user() -> None:
    assert user_from_certificate(None) is None
    assert user_from_certificate({}) is None
