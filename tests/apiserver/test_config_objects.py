"""ConfigMaps, Secrets and ServiceAccounts over HTTPS and through kubectl: defaulting
(Secret type Opaque, stringData merged into data), base64 and key validation as
upstream answers them, the default ServiceAccount of each namespace, TokenRequest
tokens the server accepts, TokenReview and ``kubectl auth whoami``.

Address plan: none (no Services); namespace ``default`` unless a test makes one.
"""

from __future__ import annotations

import base64

import pytest
import yaml  # type: ignore[import-untyped]

pytestmark = pytest.mark.integration

CM = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
SA = "/api/v1/namespaces/default/serviceaccounts"


def test_secret_type_defaults_and_string_data_merges(api) -> None:
    r = api.post(SECRETS, {"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee", "a": "x"}})
    assert r.status_code == 201, r.text
    secret = r.json()
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert secret["data"] == {"a": base64.b64encode(b"x").decode(), "b": base64.b64encode(b"bee").decode()}
    patched = api.patch(f"{SECRETS}/s", {"stringData": {"c": "sea"}}, "application/merge-patch+json").json()
    assert base64.b64decode(patched["data"]["c"]) == b"sea" and "stringData" not in patched


def test_secret_bad_base64_is_bad_request(api) -> None:
    r = api.post(SECRETS, {"metadata": {"name": "bad"}, "data": {"a": "YWJj!"}})
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    )
    assert api.get(f"{SECRETS}/bad").status_code == 404


def test_numbers_in_string_maps_are_bad_requests(api) -> None:
    r = api.post(CM, {"metadata": {"name": "port"}, "data": {"port": 8080}})
    assert r.status_code == 400
    assert r.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number '
        "into Go struct field ConfigMap.data of type string"
    )
    r = api.post(SECRETS, {"metadata": {"name": "flag"}, "stringData": {"on": True}})
    assert (
        r.status_code == 400 and "cannot unmarshal bool into Go struct field Secret.stringData" in r.json()["message"]
    )


def test_secret_type_rules_and_immutability(api) -> None:
    r = api.post(SECRETS, {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}})
    assert r.status_code == 422
    assert r.json()["message"] == 'Secret "tls" is invalid: data[tls.key]: Required value'
    api.post(SECRETS, {"metadata": {"name": "frozen"}, "immutable": True, "data": {"a": "YQ=="}})
    r = api.patch(f"{SECRETS}/frozen", {"data": {"a": "Yg=="}}, "application/merge-patch+json")
    assert r.status_code == 422
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: field is immutable when `immutable` is set",
            "field": "data",
        }
    ]
    r = api.patch(f"{SECRETS}/frozen", {"type": "Other"}, "application/merge-patch+json")
    assert 'type: Invalid value: "Other": field is immutable' in r.json()["message"]


def test_config_map_keys_validated(api) -> None:
    r = api.post(CM, {"metadata": {"name": "c"}, "data": {"a b": "1", "k": "v"}, "binaryData": {"k": "YQ=="}})
    assert r.status_code == 422
    causes = r.json()["details"]["causes"]
    assert [c["field"] for c in causes] == ["data[a b]", "data[k]", "binaryData[k]"]
    assert causes[0]["message"].startswith(
        "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
    )
    assert causes[1]["message"] == 'Invalid value: "k": duplicate of key present in binaryData'
    ok = api.post(CM, {"metadata": {"name": "c"}, "data": {"k": "v"}})
    assert ok.status_code == 201 and ok.json()["data"] == {"k": "v"}


def test_default_service_account_in_every_namespace(api) -> None:
    for ns in ("default", "kube-system"):
        assert api.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status_code == 200
    api.post("/api/v1/namespaces", {"metadata": {"name": "fresh"}})
    account = api.get("/api/v1/namespaces/fresh/serviceaccounts/default")
    assert account.status_code == 200, account.text
    uid = account.json()["metadata"]["uid"]
    assert api.delete("/api/v1/namespaces/fresh/serviceaccounts/default").status_code == 200
    again = api.get("/api/v1/namespaces/fresh/serviceaccounts/default").json()
    assert again["metadata"]["uid"] != uid  # recreated, as the serviceaccounts controller does


def _token(api, **spec: object) -> str:  # type: ignore[no-untyped-def]
    r = api.post(
        f"{SA}/default/token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "TokenRequest" and r.json()["status"]["expirationTimestamp"]
    token: str = r.json()["status"]["token"]
    return token


def test_token_request_gives_a_token_the_server_accepts(apiserver, api) -> None:
    import requests

    token = _token(api)
    headers = {"Authorization": f"Bearer {token}"}
    url = apiserver.server + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    review = requests.post(url, json={}, headers=headers, verify=str(apiserver.ca_file)).json()
    assert review["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"
    assert "system:serviceaccounts:default" in review["status"]["userInfo"]["groups"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = requests.get(
        apiserver.server + "/api", headers={"Authorization": f"Bearer {tampered}"}, verify=str(apiserver.ca_file)
    )
    assert r.status_code == 401


def test_token_of_a_deleted_account_is_refused(apiserver, api) -> None:
    import requests

    api.post(SA, {"metadata": {"name": "robot"}})
    r = api.post(f"{SA}/robot/token", {"spec": {}})
    token = r.json()["status"]["token"]
    reviewed = api.post("/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": token}}).json()
    assert reviewed["status"]["authenticated"] is True
    assert reviewed["status"]["user"]["username"] == "system:serviceaccount:default:robot"
    api.delete(f"{SA}/robot")
    reviewed = api.post("/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": token}}).json()
    assert "authenticated" not in reviewed["status"] and reviewed["status"]["user"] == {}
    r = requests.get(
        apiserver.server + "/api", headers={"Authorization": f"Bearer {token}"}, verify=str(apiserver.ca_file)
    )
    assert r.status_code == 401


def test_token_subresource_is_create_only(api) -> None:
    assert api.put(f"{SA}/default/token", {"metadata": {"name": "default"}}).status_code == 405
    assert (
        api.patch(
            f"{SA}/default/token", {"metadata": {"labels": {"a": "b"}}}, "application/merge-patch+json"
        ).status_code
        == 405
    )
    assert "labels" not in api.get(f"{SA}/default").json()["metadata"]


def test_token_request_expiration_validated(api) -> None:
    r = api.post(f"{SA}/default/token", {"spec": {"expirationSeconds": 60}})
    assert r.status_code == 422
    assert r.json()["message"] == (
        'TokenRequest.authentication.k8s.io "default" is invalid: '
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    )


def test_kubectl_config_objects_and_whoami(kubectl, apiserver, tmp_path) -> None:
    assert "configmap/cfg created" in kubectl("create", "configmap", "cfg", "--from-literal=a=1").stdout
    kubectl("create", "secret", "generic", "sec", "--from-literal=pw=hunter2")
    lines = kubectl("get", "configmaps,secrets,serviceaccounts").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert any(line.split()[:2] == ["configmap/cfg", "1"] for line in lines)
    assert ["NAME", "TYPE", "DATA", "AGE"] in [line.split() for line in lines]
    assert any(line.split()[:3] == ["secret/sec", "Opaque", "1"] for line in lines)
    assert any(line.split()[:2] == ["serviceaccount/default", "0"] for line in lines)
    token = kubectl("create", "token", "default").stdout.strip()
    assert token.count(".") == 2
    # A client certificate outranks a bearer token (kube-apiserver tries x509 first), so
    # the token is sent from a kubeconfig without the admin's certificate.
    config = yaml.safe_load(apiserver.kubeconfig.read_text())
    user = config["users"][0]["user"]
    user.pop("client-certificate-data", None), user.pop("client-key-data", None)
    (tmp_path / "token-only").write_text(yaml.safe_dump(config))
    who = kubectl(
        "auth",
        "whoami",
        "--kubeconfig",
        str(tmp_path / "token-only"),
        "--token",
        token,
        "-o",
        "jsonpath={.status.userInfo.username}",
    ).stdout
    assert who == "system:serviceaccount:default:default"
    assert "kubernetes-admin" in kubectl("auth", "whoami").stdout
