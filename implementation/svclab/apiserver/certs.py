"""The API server's PKI, bearer token and kubeconfig.

kubectl sends its bearer token only over TLS (see API-CLIENT-FACTS.md), so the local
API server always serves HTTPS. At first start :func:`ensure_pki` makes a private CA
(``svclab-ca``, EC P-256, 10 years) and a serving certificate signed by it, whose
subject alternative names cover every way a client reaches the server: loopback, the
listen and advertise addresses, the ``kubernetes`` Service IP and the in-cluster DNS
names of that Service. Later starts reuse the CA, so kubeconfigs handed out earlier
stay valid, and re-issue the serving certificate only when a SAN is missing, it is
about to expire, or it was not signed by this CA.

Everything secret is written with mode 0600, and every file is replaced atomically
(temporary file, fsync, rename) so a reader never sees half a file.

It also issues the admin's client certificate (``admin.crt``/``admin.key``): subject
``CN=kubernetes-admin, O=kubeadm:cluster-admins``, extended key usage clientAuth, as
kubeadm's ``admin.conf`` carries and kind's kubeconfig hands out. The kubeconfig
carries it beside the bearer token, so clients that authenticate with a client
certificate (or tests that take the certificate out of the kubeconfig) work.

Layout under ``<state_dir>/pki``: ``ca.crt``, ``ca.key``, ``apiserver.crt``,
``apiserver.key``, ``admin.crt``, ``admin.key``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_DNS_SANS", "Pki", "ensure_pki", "make_token", "write_kubeconfig"]

CA_COMMON_NAME = "svclab-ca"
SERVING_COMMON_NAME = "svclab-apiserver"
ADMIN_USER = "kubernetes-admin"
ADMIN_GROUP = "kubeadm:cluster-admins"  # kubeadm >= 1.29 (earlier: system:masters)
CA_VALIDITY = dt.timedelta(days=3650)
SERVING_VALIDITY = dt.timedelta(days=365)
# Re-issue the serving certificate when less than this is left.
RENEW_BEFORE = dt.timedelta(days=30)
# Backdate notBefore a little so a client clock slightly behind still accepts it.
CLOCK_SKEW = dt.timedelta(minutes=5)

DEFAULT_IP_SANS = ("127.0.0.1",)
DEFAULT_DNS_SANS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Pki:
    """Where the server's TLS material lives, plus the CA in PEM for kubeconfigs."""

    ca_cert_pem: bytes
    cert_path: Path
    key_path: Path
    ca_path: Path
    admin_cert_pem: bytes = b""
    admin_key_pem: bytes = b""


def make_token() -> str:
    """A fresh random bearer token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def _write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` in one rename; the file never exists half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_COMMON_NAME))
        .issuer_name(_name(CA_COMMON_NAME))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_serving(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    ips: list[IPAddress],
    dns: list[str],
    now: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    sans += [x509.IPAddress(ip) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVING_COMMON_NAME))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + SERVING_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _make_admin_client(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ADMIN_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, ADMIN_USER),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + SERVING_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _issued_and_current(
    cert_path: Path, key_path: Path, ca_cert: x509.Certificate, now: dt.datetime
) -> x509.Certificate | None:
    """The stored leaf certificate if it and its key were issued by ``ca_cert`` and it is not near
    expiry; None when it must be issued again (missing, unreadable, another CA, a crash between
    writing the key and the cert)."""
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return None
    current = key.public_key() == cert.public_key() and cert.not_valid_after_utc - now >= RENEW_BEFORE
    return cert if current else None


def _load_ca(ca_path: Path, ca_key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (ca_path.exists() and ca_key_path.exists()):
        return None
    cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
    key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_key_path}: expected an EC private key")
    return cert, key


def _serving_is_current(
    cert_path: Path,
    key_path: Path,
    ca_cert: x509.Certificate,
    wanted_ips: list[IPAddress],
    wanted_dns: list[str],
    now: dt.datetime,
) -> bool:
    """Whether the stored serving certificate can be kept (SANs, issuer, expiry)."""
    cert = _issued_and_current(cert_path, key_path, ca_cert, now)
    if cert is None:
        return False
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_ips = set(sans.get_values_for_type(x509.IPAddress))
    have_dns = set(sans.get_values_for_type(x509.DNSName))
    return set(wanted_ips) <= have_ips and set(wanted_dns) <= have_dns


def _wanted_sans(ip_sans: list[str], dns_sans: list[str]) -> tuple[list[IPAddress], list[str]]:
    ips: list[IPAddress] = []
    for raw in (*DEFAULT_IP_SANS, *ip_sans):
        ip = ipaddress.ip_address(raw)
        if not ip.is_unspecified and ip not in ips:  # 0.0.0.0 is no address to dial
            ips.append(ip)
    dns: list[str] = []
    for name in (*DEFAULT_DNS_SANS, *dns_sans):
        if name not in dns:
            dns.append(name)
    return ips, dns


def ensure_pki(
    state_dir: Path,
    ip_sans: list[str],
    dns_sans: list[str],
    *,
    now: dt.datetime | None = None,
) -> Pki:
    """Create or reuse the CA and serving certificate under ``state_dir/pki``.

    ``ip_sans``/``dns_sans`` are added to the defaults (127.0.0.1, localhost and the
    kubernetes Service DNS names). Not safe against two processes racing on the same
    state directory; the supervisor starts one API server per cluster.
    """
    now = now or dt.datetime.now(dt.UTC)
    pki_dir = Path(state_dir) / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_path, ca_key_path = pki_dir / "ca.crt", pki_dir / "ca.key"
    cert_path, key_path = pki_dir / "apiserver.crt", pki_dir / "apiserver.key"

    loaded = _load_ca(ca_path, ca_key_path)
    if loaded is None:
        ca_cert, ca_key = _make_ca(now)
        _write_atomically(ca_key_path, _key_pem(ca_key))
        _write_atomically(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    else:
        ca_cert, ca_key = loaded

    ips, dns = _wanted_sans(ip_sans, dns_sans)
    if not _serving_is_current(cert_path, key_path, ca_cert, ips, dns, now):
        cert, key = _make_serving(ca_cert, ca_key, ips, dns, now)
        # A crash between these two writes leaves a mismatched pair, which the
        # next start detects (public keys differ) and repairs.
        _write_atomically(key_path, _key_pem(key))
        _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM))

    admin_cert_path, admin_key_path = pki_dir / "admin.crt", pki_dir / "admin.key"
    if _issued_and_current(admin_cert_path, admin_key_path, ca_cert, now) is None:
        admin_cert, admin_key = _make_admin_client(ca_cert, ca_key, now)
        _write_atomically(admin_key_path, _key_pem(admin_key))
        _write_atomically(admin_cert_path, admin_cert.public_bytes(serialization.Encoding.PEM))

    return Pki(
        ca_cert_pem=ca_path.read_bytes(),
        cert_path=cert_path,
        key_path=key_path,
        ca_path=ca_path,
        admin_cert_pem=admin_cert_path.read_bytes(),
        admin_key_pem=admin_key_path.read_bytes(),
    )


def write_kubeconfig(
    path: Path,
    server_url: str,
    ca_pem: bytes,
    token: str,
    cluster_name: str,
    client_cert: tuple[bytes, bytes] | None = None,
) -> None:
    """Write a standard kubeconfig (CA data, bearer token, one context) atomically.

    ``client_cert`` (certificate and key, PEM) is added to the user as
    ``client-certificate-data``/``client-key-data``.

    The cluster, the user (``<cluster_name>-admin``) and the context are all named
    after ``cluster_name``; the context is the current one. Mode 0600: it holds the
    token.
    """
    user_name = f"{cluster_name}-admin"
    user: dict[str, str] = {"token": token}
    if client_cert is not None:
        user["client-certificate-data"] = base64.b64encode(client_cert[0]).decode("ascii")
        user["client-key-data"] = base64.b64encode(client_cert[1]).decode("ascii")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
                },
            }
        ],
        "users": [{"name": user_name, "user": user}],
        "contexts": [
            {
                "name": cluster_name,
                "context": {"cluster": cluster_name, "user": user_name},
            }
        ],
        "current-context": cluster_name,
        "preferences": {},
    }
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    _write_atomically(Path(path), text.encode("utf-8"))
