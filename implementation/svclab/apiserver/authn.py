"""Authentication: who a bearer token is, ServiceAccount tokens, and the review APIs.

* The cluster's admin token (STATE/token) is ``kubernetes-admin`` in group
  ``kubeadm:cluster-admins``, like kind's admin credential.
* ``serviceaccounts/<name>/token`` (TokenRequest) issues a JWT for a
  ServiceAccount: audiences (default: the API server's own), an expiry
  (default 1 h, at least 10 min), claims as upstream's (``sub``
  ``system:serviceaccount:NS:NAME``, the ``kubernetes.io`` claim with the
  account's uid). Tokens are signed with HS256 under a key kept in the state
  directory (upstream: RS256 under the service-account key pair); they are
  valid while unexpired and while the ServiceAccount with that uid exists.
* A client certificate the cluster CA issued (the TLS layer verifies it) is
  the user its subject names: the common name is the username, each
  organization a group (upstream's x509 ``CommonNameUserConversion``); a
  request carrying one is that user even if it also sends a token, as the
  x509 authenticator comes first in kube-apiserver's chain.
* TokenReview and SelfSubjectReview (``kubectl auth whoami``) answer who a
  token, or the caller, is. Nothing here is stored.

Authorization stays allow-all: every authenticated user may do everything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from . import errors, validation
from .storage import Obj, Store

__all__ = [
    "ADMIN",
    "API_AUDIENCE",
    "TokenIssuer",
    "UserInfo",
    "self_subject_review",
    "token_request",
    "token_review",
    "user_from_certificate",
]

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"  # also the issuer, as kubeadm configures it
_MIN_EXPIRATION = 600
_MAX_EXPIRATION = 2**32 - 1
_DEFAULT_EXPIRATION = 3600
_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


@dataclass(frozen=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> Obj:
        """authentication.k8s.io/v1 UserInfo (empty fields left out, as upstream's omitempty)."""
        out: Obj = {"username": self.username}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = self.extra
        return out


ADMIN = UserInfo("kubernetes-admin", groups=("kubeadm:cluster-admins", "system:authenticated"))


def user_from_certificate(peercert: object) -> UserInfo | None:
    """The user of a verified client certificate, as ``ssl.SSLSocket.getpeercert()`` gives
    it (``subject`` as RDN tuples); None without a certificate or a common name.
    Side-effect-free."""
    if not isinstance(peercert, dict):
        return None
    common_names: list[str] = []
    organizations: list[str] = []
    for rdn in peercert.get("subject") or ():
        for attribute, value in rdn:
            if attribute == "commonName":
                common_names.append(value)
            elif attribute == "organizationName":
                organizations.append(value)
    if not common_names or not common_names[0]:
        return None
    return UserInfo(common_names[0], groups=(*organizations, "system:authenticated"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issues and verifies ServiceAccount JWTs under one HMAC key."""

    def __init__(self, key: bytes, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self._key = key
        self._store = store
        self._clock = clock or (lambda: datetime.now(UTC))

    def _sign(self, signing_input: bytes) -> str:
        return _b64(hmac.new(self._key, signing_input, hashlib.sha256).digest())

    def issue(self, account: Obj, audiences: list[str], expiration_seconds: int) -> tuple[str, datetime]:
        now = self._clock()
        expiry = now + timedelta(seconds=expiration_seconds)
        meta = account["metadata"]
        claims = {
            "aud": audiences,
            "exp": int(expiry.timestamp()),
            "iat": int(now.timestamp()),
            "iss": API_AUDIENCE,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": meta["namespace"],
                "serviceaccount": {"name": meta["name"], "uid": meta["uid"]},
            },
            "nbf": int(now.timestamp()),
            "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}",
        }
        signing_input = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"})) + "." + _b64(orjson.dumps(claims))
        return signing_input + "." + self._sign(signing_input.encode()), expiry

    def verify(self, token: str, audiences: list[str] | None = None) -> UserInfo | None:
        """The ServiceAccount user of a valid token, else None."""
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}".encode()), parts[2]):
            return None
        try:
            claims = orjson.loads(_unb64(parts[1]))
            ref = claims["kubernetes.io"]
            namespace, name, uid = ref["namespace"], ref["serviceaccount"]["name"], ref["serviceaccount"]["uid"]
        except (ValueError, KeyError, TypeError):
            return None
        if claims.get("exp", 0) <= self._clock().timestamp():
            return None
        if not set(audiences or [API_AUDIENCE]) & set(claims.get("aud") or []):
            return None
        account = self._store.get("ServiceAccount", namespace, name)
        if account is None or account["metadata"].get("uid") != uid:
            return None
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated")
        return UserInfo(claims["sub"], uid, groups, {_CREDENTIAL_ID: [f"JTI={claims.get('jti', '')}"]})


def _now_text(clock: datetime) -> str:
    return clock.strftime("%Y-%m-%dT%H:%M:%SZ")


def token_request(issuer: TokenIssuer, store: Store, namespace: str, name: str, body: Obj) -> Obj:
    """Answer a TokenRequest for ServiceAccount namespace/name (201 on success)."""
    account = store.get("ServiceAccount", namespace, name)
    if account is None:
        raise errors.not_found("", "serviceaccounts", name)
    spec = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
    expiration = spec.get("expirationSeconds")
    expiration = _DEFAULT_EXPIRATION if expiration is None else expiration
    errs = []
    if not isinstance(expiration, int) or expiration < _MIN_EXPIRATION:
        errs.append(
            validation.FieldError(
                validation.ErrorType.INVALID,
                "spec.expirationSeconds",
                expiration,
                "may not specify a duration less than 10 minutes",
            )
        )
    elif expiration > _MAX_EXPIRATION:
        errs.append(
            validation.FieldError(
                validation.ErrorType.TOO_LONG,
                "spec.expirationSeconds",
                expiration,
                f"must have at most {_MAX_EXPIRATION} bytes",
            )
        )
    if errs:
        raise errors.invalid(validation.invalid_status("TokenRequest", "authentication.k8s.io", name, errs))
    audiences = list(spec.get("audiences") or [API_AUDIENCE])
    token, expiry = issuer.issue(account, audiences, expiration)
    spec.update(audiences=audiences, expirationSeconds=expiration)
    spec.setdefault("boundObjectRef", None)
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _now_text(datetime.now(UTC))},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": _now_text(expiry)},
    }


def _review(kind: str, status: Obj, spec: Obj | None = None) -> Obj:
    out: Obj = {"kind": kind, "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None}}
    if spec is not None:
        out["spec"] = spec
    out["status"] = status
    return out


def token_review(authenticate: Callable[[str, list[str] | None], UserInfo | None], body: Obj) -> Obj:
    """Answer a TokenReview: who ``spec.token`` is, for ``spec.audiences`` (default: the server's)."""
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not spec.get("token"):
        err = validation.FieldError(validation.ErrorType.REQUIRED, "spec.token", "", "")
        raise errors.invalid(validation.invalid_status("TokenReview", "authentication.k8s.io", "", [err]))
    audiences = list(spec.get("audiences") or [])
    user = authenticate(str(spec["token"]), audiences or None)
    if user is None:
        return _review("TokenReview", {"user": {}, "error": "invalid bearer token"}, spec)
    status = {"authenticated": True, "user": user.to_dict(), "audiences": audiences or [API_AUDIENCE]}
    return _review("TokenReview", status, spec)


def self_subject_review(user: UserInfo) -> Obj:
    return _review("SelfSubjectReview", {"userInfo": user.to_dict()})
