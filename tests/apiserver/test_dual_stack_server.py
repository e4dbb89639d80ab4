"""Dual-stack Services over raw HTTPS, against a real ``svclab apiserver`` process.

Address plan: the dual server has service CIDRs 10.96.0.0/16 (primary, so
default/kubernetes is 10.96.0.1) and fd00:10:96::/112 (kind's IPv6 default); the
single-stack server (the ``apiserver`` fixture) has 10.96.0.0/16 only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Api, RunningApiServer, start_apiserver

pytestmark = pytest.mark.integration

SVC = "/api/v1/namespaces/default/services"
DUAL_CIDRS = "10.96.0.0/16,fd00:10:96::/112"
MERGE = "application/merge-patch+json"


@pytest.fixture
def dual_api(tmp_path: Path) -> Iterator[Api]:
    server: RunningApiServer = start_apiserver(tmp_path / "dual", "--service-cidr", DUAL_CIDRS)
    try:
        yield Api(server)
    finally:
        server.stop()


def service(name: str, **spec: object) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}


def created(api: Api, body: dict[str, object]) -> dict[str, object]:
    r = api.post(SVC, body)
    assert r.status_code == 201, r.text
    spec: dict[str, object] = r.json()["spec"]
    return spec


def test_kubernetes_service_is_single_stack_of_the_primary_family(dual_api: Api) -> None:
    spec = dual_api.get(f"{SVC}/kubernetes").json()["spec"]
    assert (spec["clusterIPs"], spec["ipFamilies"], spec["ipFamilyPolicy"]) == (
        ["10.96.0.1"],
        ["IPv4"],
        "SingleStack",
    )


def test_policies_on_a_dual_stack_server(dual_api: Api) -> None:
    single = created(dual_api, service("single"))
    assert (single["ipFamilyPolicy"], single["ipFamilies"]) == ("SingleStack", ["IPv4"])
    dual = created(dual_api, service("dual", ipFamilyPolicy="PreferDualStack"))
    v4, v6 = dual["clusterIPs"]  # type: ignore[misc]
    assert v4.startswith("10.96.") and v6.startswith("fd00:10:96::") and dual["clusterIP"] == v4
    v6_first = created(dual_api, service("v6", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv6"]))
    assert v6_first["ipFamilies"] == ["IPv6", "IPv4"] and ":" in v6_first["clusterIP"]  # type: ignore[operator]
    headless = created(dual_api, service("headless", clusterIP="None", selector=None))
    assert (headless["ipFamilyPolicy"], headless["ipFamilies"], headless["clusterIPs"]) == (
        "RequireDualStack",
        ["IPv4", "IPv6"],
        ["None"],
    )


def test_require_dual_stack_on_a_single_stack_server_is_upstreams_422(api: Api) -> None:
    r = api.post(SVC, service("web", ipFamilyPolicy="RequireDualStack"))
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == (
        'Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
        "this cluster is not configured for dual-stack services"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
            "field": "spec.ipFamilyPolicy",
        }
    ]
    assert api.get(f"{SVC}/web").status_code == 404


def test_upgrade_downgrade_and_delete_release_the_ips(dual_api: Api) -> None:
    spec = created(dual_api, service("web", clusterIP="10.96.0.50"))
    assert spec["clusterIPs"] == ["10.96.0.50"]
    up = dual_api.request(
        "PATCH", f"{SVC}/web", {"spec": {"ipFamilyPolicy": "RequireDualStack"}}, content_type=MERGE
    ).json()["spec"]
    v6 = up["clusterIPs"][1]
    assert up["clusterIPs"][0] == "10.96.0.50" and up["ipFamilies"] == ["IPv4", "IPv6"]
    taken = dual_api.post(SVC, service("other", ipFamilyPolicy="RequireDualStack", clusterIPs=["10.96.0.51", v6]))
    assert taken.status_code == 422 and "provided IP is already allocated" in taken.json()["message"]

    shrink = dual_api.request(
        "PATCH",
        f"{SVC}/web",
        {"spec": {"ipFamilyPolicy": "PreferDualStack", "clusterIPs": ["10.96.0.50"]}},
        content_type=MERGE,
    )
    assert shrink.status_code == 422
    assert "must be 'SingleStack' to release the secondary cluster IP" in shrink.json()["message"]

    down = dual_api.request(
        "PATCH", f"{SVC}/web", {"spec": {"ipFamilyPolicy": "SingleStack"}}, content_type=MERGE
    ).json()["spec"]
    assert (down["clusterIPs"], down["ipFamilies"]) == (["10.96.0.50"], ["IPv4"])
    reuse = created(dual_api, service("reuse", ipFamilyPolicy="RequireDualStack", clusterIPs=["10.96.0.52", v6]))
    assert reuse["clusterIPs"] == ["10.96.0.52", v6]  # the released IPv6 address is free again

    assert dual_api.request("DELETE", f"{SVC}/reuse").status_code == 200
    again = created(dual_api, service("again", ipFamilyPolicy="RequireDualStack", clusterIPs=["10.96.0.52", v6]))
    assert again["clusterIPs"] == ["10.96.0.52", v6]  # both released on delete
