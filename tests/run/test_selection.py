"""Which conformance tests `svclab run` runs where (svclab.run.selection)."""

from __future__ import annotations

from pathlib import Path

from svclab.run.selection import Selection, TestbedTraits, plan_selections

REFERENCE = ("local", "None")
IPVS = TestbedTraits(Path("clusters/ipvs.yaml"), True, REFERENCE)
IPTABLES = TestbedTraits(Path("clusters/iptables.yaml"), False, REFERENCE)
NFTABLES = TestbedTraits(Path("clusters/nftables.yaml"), False, REFERENCE)


def test_quick_shares_the_mode_neutral_tests_among_the_host_testbeds() -> None:
    plans = plan_selections([IPVS, IPTABLES, NFTABLES], profile="quick")
    assert plans[IPTABLES.path] == Selection(
        ("--neutral-share", "0/2", "-m", "not breadth"), neutral_on="shared with nftables"
    )
    assert plans[NFTABLES.path] == Selection(
        ("--neutral-share", "1/2", "-m", "not breadth"), neutral_on="shared with iptables"
    )
    # a guest never shares while a host testbed is there, and leaves the disruption area out
    assert plans[IPVS.path] == Selection(
        ("-m", "needs_proxy and not breadth and not disruption"), neutral_on="iptables, nftables"
    )
    assert plans[NFTABLES.path].marker_expression == "not breadth"


def test_a_testbed_alone_or_with_its_own_controllers_judges_the_neutral_tests_itself() -> None:
    assert plan_selections([IPVS], profile="quick") == {IPVS.path: Selection(("-m", "not breadth and not disruption"))}
    theirs = TestbedTraits(Path("my-controllers.yaml"), False, ("local", "ExternalCommand(argv=('./ctl',))"))
    plans = plan_selections([IPTABLES, theirs], profile="quick")
    assert plans[theirs.path] == Selection(("-m", "not breadth"))
    assert plans[IPTABLES.path] == Selection(("-m", "not breadth"))


def test_full_profile_and_a_users_own_marker_run_everything_everywhere() -> None:
    assert plan_selections([IPTABLES, NFTABLES], profile="full") == {
        IPTABLES.path: Selection(()),
        NFTABLES.path: Selection(()),
    }
    plans = plan_selections([IPTABLES, NFTABLES], profile="quick", user_args="-m traffic -x")
    assert set(plans.values()) == {Selection(("-m", "traffic", "-x"))}
    assert plans[IPTABLES.path].marker_expression == "traffic"
