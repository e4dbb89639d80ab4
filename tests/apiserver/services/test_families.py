"""ipFamilyPolicy / ipFamilies initialisation, against upstream's ``TestCreateInitIPFields``.

Address plan as upstream's case matrix: IPv4 10.0.0.1, IPv6 2000::1; the cluster's
service families are v4 (single-stack), v6 (single-stack) or v4v6 (dual-stack, IPv4
primary). Each row: the cluster, the user's clusterIPs, ipFamilyPolicy and
ipFamilies, then upstream's expected policy and families (None: an error).
"""

from __future__ import annotations

from typing import Any

import pytest

from svclab.apiserver.services import init_ip_family_fields

V4, V6 = "IPv4", "IPv6"
SS, PDS, RDS = "SingleStack", "PreferDualStack", "RequireDualStack"
CLUSTERS = {"v4": (V4,), "v6": (V6,), "v4v6": (V4, V6)}
IPS = {
    "unset": [],
    "v4": ["10.0.0.1"],
    "v6": ["2000::1"],
    "v4v6": ["10.0.0.1", "2000::1"],
    "v6v4": ["2000::1", "10.0.0.1"],
}
FAMS = {"unset": [], "v4": [V4], "v6": [V6], "v4v6": [V4, V6], "v6v4": [V6, V4]}

# (cluster, clusterIPs, policy, families) -> (expected policy, expected families) or None (error)
CASES: list[tuple[str, str, str | None, str, tuple[str, list[str]] | None]] = [
    # singlestack:v4, ClusterIPs unset
    ("v4", "unset", None, "unset", (SS, [V4])),
    ("v4", "unset", None, "v4", (SS, [V4])),
    ("v4", "unset", None, "v6", None),
    ("v4", "unset", None, "v4v6", None),
    ("v4", "unset", SS, "unset", (SS, [V4])),
    ("v4", "unset", SS, "v6", None),
    ("v4", "unset", SS, "v4v6", None),
    ("v4", "unset", PDS, "unset", (PDS, [V4])),
    ("v4", "unset", PDS, "v4", (PDS, [V4])),
    ("v4", "unset", PDS, "v4v6", None),
    ("v4", "unset", RDS, "unset", None),
    ("v4", "unset", RDS, "v4", None),
    # singlestack:v4, ClusterIPs v4 / v4v6
    ("v4", "v4", None, "unset", (SS, [V4])),
    ("v4", "v4", None, "v6", None),
    ("v4", "v4", PDS, "unset", (PDS, [V4])),
    ("v4", "v4", RDS, "v4", None),
    ("v4", "v4v6", None, "unset", None),
    ("v4", "v4v6", PDS, "unset", None),
    ("v4", "v4v6", RDS, "v4v6", None),
    ("v4", "v6v4", PDS, "v6v4", None),
    # singlestack:v6
    ("v6", "unset", None, "unset", (SS, [V6])),
    ("v6", "unset", None, "v4", None),
    ("v6", "unset", PDS, "unset", (PDS, [V6])),
    ("v6", "unset", RDS, "unset", None),
    ("v6", "v6", None, "unset", (SS, [V6])),
    ("v6", "v6", SS, "v4", None),
    # dualstack:v4v6, ClusterIPs unset
    ("v4v6", "unset", None, "unset", (SS, [V4])),
    ("v4v6", "unset", PDS, "unset", (PDS, [V4, V6])),
    ("v4v6", "unset", PDS, "v6v4", (PDS, [V6, V4])),
    ("v4v6", "unset", RDS, "unset", (RDS, [V4, V6])),
    ("v4v6", "unset", RDS, "v6", (RDS, [V6, V4])),
    ("v4v6", "unset", SS, "v4v6", None),
    # dualstack:v4v6, ClusterIPs v6
    ("v4v6", "v6", None, "unset", (SS, [V6])),
    ("v4v6", "v6", PDS, "v4", None),
    ("v4v6", "v6", PDS, "v6", (PDS, [V6, V4])),
    ("v4v6", "v6", PDS, "v6v4", (PDS, [V6, V4])),
    ("v4v6", "v6", RDS, "unset", (RDS, [V6, V4])),
    ("v4v6", "v6", RDS, "v4v6", None),
    # dualstack:v4v6, ClusterIPs v4v6 / v6v4
    ("v4v6", "v4v6", None, "unset", None),
    ("v4v6", "v4v6", None, "v4v6", None),
    ("v4v6", "v4v6", SS, "unset", None),
    ("v4v6", "v4v6", PDS, "unset", (PDS, [V4, V6])),
    ("v4v6", "v4v6", PDS, "v4", (PDS, [V4, V6])),
    ("v4v6", "v4v6", PDS, "v6", None),
    ("v4v6", "v4v6", RDS, "unset", (RDS, [V4, V6])),
    ("v4v6", "v4v6", RDS, "v6v4", None),
    ("v4v6", "v6v4", None, "unset", None),
    ("v4v6", "v6v4", PDS, "v6", (PDS, [V6, V4])),
    ("v4v6", "v6v4", RDS, "unset", (RDS, [V6, V4])),
    ("v4v6", "v6v4", RDS, "v4", None),
]


def spec(ips: str = "unset", policy: str | None = None, families: str = "unset", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "ClusterIP", "selector": {"k": "v"}, "ports": [{"port": 93}]}
    if IPS[ips]:
        out["clusterIP"], out["clusterIPs"] = IPS[ips][0], list(IPS[ips])
    if policy:
        out["ipFamilyPolicy"] = policy
    if FAMS[families]:
        out["ipFamilies"] = list(FAMS[families])
    out.update(extra)
    return out


@pytest.mark.parametrize(
    ("cluster", "ips", "policy", "families", "expected"),
    [pytest.param(*case, id=f"{case[0]}-ClusterIPs:{case[1]}_Policy:{case[2]}_Families:{case[3]}") for case in CASES],
)
def test_create_init_ip_fields(
    cluster: str, ips: str, policy: str | None, families: str, expected: tuple[str, list[str]] | None
) -> None:
    got = spec(ips, policy, families)
    errs = init_ip_family_fields(got, None, CLUSTERS[cluster])
    if expected is None:
        assert errs, got
        return
    assert not errs, [str(e) for e in errs]
    assert (got["ipFamilyPolicy"], got["ipFamilies"]) == expected


HEADLESS_CASES = [
    # singlestack:v4 Headless (with selector): like a ClusterIP Service
    ("v4", True, None, "unset", (SS, [V4])),
    ("v4", True, None, "v6", None),
    ("v4", True, PDS, "unset", (PDS, [V4])),
    ("v4", True, RDS, "unset", None),
    # singlestack:v4 HeadlessSelectorless: any family, both unless SingleStack
    ("v4", False, None, "unset", (RDS, [V4, V6])),
    ("v4", False, None, "v6", (RDS, [V6, V4])),
    ("v4", False, SS, "v6", (SS, [V6])),
    ("v4", False, SS, "v4v6", None),
    ("v4", False, PDS, "v6v4", (PDS, [V6, V4])),
    ("v4", False, RDS, "unset", (RDS, [V4, V6])),
]


@pytest.mark.parametrize(
    ("cluster", "selector", "policy", "families", "expected"),
    [pytest.param(*case, id=f"{case[0]}-sel:{case[1]}_Policy:{case[2]}_Families:{case[3]}") for case in HEADLESS_CASES],
)
def test_create_init_ip_fields_headless(
    cluster: str, selector: bool, policy: str | None, families: str, expected: tuple[str, list[str]] | None
) -> None:
    got = spec("unset", policy, families, clusterIP="None", clusterIPs=["None"])
    if not selector:
        del got["selector"]
    errs = init_ip_family_fields(got, None, CLUSTERS[cluster])
    if expected is None:
        assert errs
        return
    assert not errs, [str(e) for e in errs]
    assert (got["ipFamilyPolicy"], got["ipFamilies"], got["clusterIPs"]) == (*expected, ["None"])


def test_external_name_is_left_alone() -> None:
    got = {"type": "ExternalName", "externalName": "example.com"}
    assert init_ip_family_fields(got, None, (V4, V6)) == []
    assert got == {"type": "ExternalName", "externalName": "example.com"}


def test_error_messages_are_upstreams() -> None:
    got = spec(policy=RDS)
    assert [str(e) for e in init_ip_family_fields(got, None, (V4,))] == [
        'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services'
    ]
    got = spec(families="v6")
    assert [str(e) for e in init_ip_family_fields(got, None, (V4,))] == [
        'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster'
    ]
    got = spec(ips="v6")
    assert [str(e) for e in init_ip_family_fields(got, None, (V4,))] == [
        'spec.clusterIPs[0]: Invalid value: []string{"2000::1"}: IPv6 is not configured on this cluster'
    ]
    got = spec(ips="v4v6", policy=SS)
    assert [str(e) for e in init_ip_family_fields(got, None, (V4, V6))] == [
        "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or "
        "'PreferDualStack' when multiple cluster IPs are specified"
    ]


# --- update (upstream TestUpdateIPsFromSingleStack / FromDualStack, the init part) --------


def dual_old() -> dict[str, Any]:
    return spec("v4v6", RDS, "v4v6")


def test_update_without_policy_keeps_the_old_one() -> None:
    new = spec("v4v6", None, "unset")
    assert init_ip_family_fields(new, dual_old(), (V4, V6)) == []
    assert (new["ipFamilyPolicy"], new["ipFamilies"]) == (RDS, [V4, V6])


def test_update_to_single_stack_drops_the_secondary() -> None:
    new = spec("v4v6", SS, "v4v6")
    assert init_ip_family_fields(new, dual_old(), (V4, V6)) == []
    assert (new["clusterIPs"], new["ipFamilies"]) == (["10.0.0.1"], [V4])


def test_update_shrinking_without_single_stack_is_refused() -> None:
    new = spec("v4", PDS, "v4")
    errs = [str(e) for e in init_ip_family_fields(new, dual_old(), (V4, V6))]
    assert errs == [
        "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary cluster IP",
        "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary IP family",
    ]


def test_update_upgrade_to_require_dual_stack_adds_the_family() -> None:
    old = spec("v4", SS, "v4")
    new = spec("v4", RDS, "v4")
    assert init_ip_family_fields(new, old, (V4, V6)) == []
    assert new["ipFamilies"] == [V4, V6] and new["clusterIPs"] == ["10.0.0.1"]


def test_update_prefer_dual_stack_unchanged_is_not_upgraded() -> None:
    # A PreferDualStack Service made on a single-stack cluster stays single after the
    # cluster became dual-stack, until its policy or fields change (upstream).
    old = spec("v4", PDS, "v4")
    new = spec("v4", PDS, "v4")
    assert init_ip_family_fields(new, old, (V4, V6)) == []
    assert new["ipFamilies"] == [V4]
