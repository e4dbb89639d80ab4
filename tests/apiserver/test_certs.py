"""CA, serving certificate, token and kubeconfig of the local API server.

Address plan: listen 127.0.0.1, advertise 172.18.0.2, kubernetes Service 10.96.0.1.
TLS handshakes run in memory (ssl.MemoryBIO), no sockets.
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from svclab.apiserver.certs import (
    DEFAULT_DNS_SANS,
    Pki,
    ensure_pki,
    make_token,
    write_kubeconfig,
)

IP_SANS = ["127.0.0.1", "172.18.0.2", "10.96.0.1"]


def handshake(pki: Pki, server_hostname: str) -> None:
    """Run a TLS handshake client<->server in memory; raises ssl errors on failure."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.cert_path, pki.key_path)
    client_ctx = ssl.create_default_context(cafile=str(pki.ca_path))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, conn in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    conn.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return ensure_pki(tmp_path, IP_SANS, [])


@pytest.mark.parametrize("host", [*IP_SANS, *DEFAULT_DNS_SANS])
def test_serving_cert_verifies_for_every_san(pki: Pki, host: str) -> None:
    handshake(pki, host)


def test_unknown_name_is_rejected(pki: Pki) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(pki, "10.96.0.2")


def test_files_are_private_and_ca_is_named(pki: Pki, tmp_path: Path) -> None:
    for path in (pki.cert_path, pki.key_path, pki.ca_path, tmp_path / "pki" / "ca.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    ca = x509.load_pem_x509_certificate(pki.ca_cert_pem)
    assert ca.subject.rfc4514_string() == "CN=svclab-ca"
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3650)


def test_restart_reuses_ca_and_cert(pki: Pki, tmp_path: Path) -> None:
    cert_before = pki.cert_path.read_bytes()
    again = ensure_pki(tmp_path, ["172.18.0.2"], [])
    assert again.ca_cert_pem == pki.ca_cert_pem
    assert again.cert_path.read_bytes() == cert_before


def test_missing_san_reissues_cert_with_same_ca(pki: Pki, tmp_path: Path) -> None:
    cert_before = pki.cert_path.read_bytes()
    again = ensure_pki(tmp_path, [*IP_SANS, "172.18.0.9"], ["api.example"])
    assert again.ca_cert_pem == pki.ca_cert_pem
    assert again.cert_path.read_bytes() != cert_before
    handshake(again, "172.18.0.9")
    handshake(again, "api.example")
    handshake(again, "172.18.0.2")


def test_near_expiry_and_mismatched_key_reissue(pki: Pki, tmp_path: Path) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)
    cert_before = pki.cert_path.read_bytes()
    ensure_pki(tmp_path, IP_SANS, [], now=later)
    assert pki.cert_path.read_bytes() != cert_before

    pki.key_path.write_bytes((tmp_path / "pki" / "ca.key").read_bytes())  # wrong key
    again = ensure_pki(tmp_path, IP_SANS, [])
    handshake(again, "127.0.0.1")


def test_token_is_random_and_url_safe() -> None:
    tokens = {make_token() for _ in range(10)}
    assert len(tokens) == 10
    assert all(
        len(t) >= 40 and set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for t in tokens
    )


def test_kubeconfig(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, "https://127.0.0.1:6443", pki.ca_cert_pem, "tok", "svclab")
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "svclab"
    assert config["clusters"] == [
        {
            "name": "svclab",
            "cluster": {
                "server": "https://127.0.0.1:6443",
                "certificate-authority-data": base64.b64encode(pki.ca_cert_pem).decode(),
            },
        }
    ]
    assert config["users"] == [{"name": "svclab-admin", "user": {"token": "tok"}}]
    assert config["contexts"] == [{"name": "svclab", "context": {"cluster": "svclab", "user": "svclab-admin"}}]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_kubeconfig_works_with_official_client(pki: Pki, tmp_path: Path) -> None:
    from kubernetes import client, config

    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, "https://127.0.0.1:6443", pki.ca_cert_pem, "tok", "svclab")
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == "https://127.0.0.1:6443"
    assert configuration.api_key["BearerToken"] == "Bearer tok"
