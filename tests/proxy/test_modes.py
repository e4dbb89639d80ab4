"""The proxy mode registry, and a throw-away mode that every consumer offers without being edited for it.

``toy`` is registered only for the tests that use the ``toy`` fixture (and
unregistered afterwards). Each consumer test fails if that consumer still
lists the built-in modes itself: ``svclab proxy --mode`` and ``svclab bench
proxy --mode`` would refuse ``toy`` (argparse exits 2), the testbed spec
would report "must be one of ...", the report would sort ``toy`` with the
unknown testbed names (after ``aaa``) and draw it in a fallback colour, and
the metrics would not know its families.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from svclab.cli import main as svclab
from svclab.proxy import modes
from svclab.proxy.metrics import ProxyMetrics
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import SyncReport
from svclab.report import build_view
from svclab.report.inputs import ReportInputs, TestbedInputs
from svclab.testbed.spec import ProxyMode, SpecError, parse_spec

TOY_COLOUR = "#123456"


class ToyBackend:
    """A backend that programs nothing."""

    service_port_factory = None
    endpoint_factory = None
    last_sync_full = True

    def __init__(self, node: NodeOptions) -> None:
        self.node = node

    def sync_rules(self, state: object) -> Mapping[str, int]:
        return {"toy": 1}

    def rules_missing(self) -> bool:
        return False

    def cleanup(self) -> None:
        pass


TOY = modes.ModeSpec(
    name="toy",
    build=lambda node, args: ToyBackend(node),
    cleanup=lambda: None,
    supported=lambda: "needs a toy kernel",
    metrics=modes.RuleMetrics("svclab_toy_rules_total", "Toy rules", False, "svclab_toy_failures_total", "Toy"),
    colour=TOY_COLOUR,
)


@pytest.fixture
def toy() -> Iterator[modes.ModeSpec]:
    modes.register(TOY)
    try:
        yield TOY
    finally:
        modes.unregister(TOY.name)


def test_builtin_modes_come_first_in_display_order() -> None:
    assert modes.mode_names() == ("iptables", "nftables", "ipvs", "userspace")
    assert all(modes.get(name).name == name for name in modes.mode_names())


def test_registered_modes_follow_and_names_stay_unique(toy: modes.ModeSpec) -> None:
    assert modes.mode_names()[-1] == "toy" and modes.get("toy") is toy
    for taken in ("toy", "iptables", "none"):
        with pytest.raises(ValueError, match="already registered"):
            modes.register(modes.ModeSpec(taken, TOY.build, TOY.cleanup))


def test_unknown_mode_names_the_known_ones() -> None:
    assert modes.find("ebpf") is None
    with pytest.raises(ValueError, match="known: iptables, nftables, ipvs, userspace"):
        modes.get("ebpf")


def test_build_backend_hands_the_mode_the_node_options(toy: modes.ModeSpec) -> None:
    args = argparse.Namespace(cluster_cidr="10.0.0.0/8", masquerade_all=True)
    backend = modes.build_backend("toy", args, ("192.168.0.2", "192.168.1.2"))
    assert isinstance(backend, ToyBackend)
    assert backend.node == NodeOptions("10.0.0.0/8", True, ("192.168.0.2", "192.168.1.2"))
    assert backend.node.node_ip == "192.168.0.2"


@pytest.mark.parametrize("command", [["proxy"], ["bench", "proxy"]], ids=["svclab proxy", "svclab bench proxy"])
def test_the_commands_offer_it(toy: modes.ModeSpec, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        svclab([*command, "--mode", "toy", "--help"])  # --mode is checked before --help prints
    assert exited.value.code == 0, capsys.readouterr().err
    assert "userspace,toy}" in capsys.readouterr().out


def _spec(mode: str) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "apiVersion": "svclab.dev/v1alpha1",
            "kind": "Testbed",
            "metadata": {"name": "toy"},
            "spec": {
                "proxy": {"mode": mode},
                "cluster": {
                    "kind": "Cluster",
                    "apiVersion": "kind.x-k8s.io/v1alpha4",
                    "nodes": [{"role": "control-plane"}],
                },
            },
        }
    )


def test_the_testbed_spec_accepts_it_only_while_registered() -> None:
    with pytest.raises(
        SpecError, match="spec.proxy.mode: must be one of none, iptables, nftables, ipvs, userspace, external$"
    ):
        parse_spec(_spec("toy"), "toy.yaml")
    modes.register(TOY)
    try:
        testbed = parse_spec(_spec("toy"), "toy.yaml")
        assert testbed.proxy.mode == ProxyMode("toy") and testbed.proxy.mode.value == "toy"
        with_scheduler = _spec("toy")
        with_scheduler["spec"]["proxy"]["scheduler"] = "rr"
        with pytest.raises(SpecError, match="scheduler: only allowed with mode: ipvs"):
            parse_spec(with_scheduler, "toy.yaml")
    finally:
        modes.unregister(TOY.name)
    with pytest.raises(ValueError):
        ProxyMode("toy")


def test_the_report_orders_and_colours_it(toy: modes.ModeSpec, tmp_path: Path) -> None:
    inputs = ReportInputs(tuple(TestbedInputs(name) for name in ("aaa", "toy", "ipvs", "iptables")))
    view = build_view(inputs, tmp_path, tmp_path)
    assert [t["name"] for t in view["testbeds"]] == ["iptables", "ipvs", "toy", "aaa"]
    assert {t["name"]: t["colour"] for t in view["testbeds"]}["toy"] == TOY_COLOUR


def test_the_metrics_feed_its_families(toy: modes.ModeSpec) -> None:
    metrics = ProxyMetrics()
    metrics.record_sync(SyncReport(full=True, duration_seconds=0.1, rules_by_table={"a": 2, "b": 3}), "toy")
    metrics.record_failure("toy")
    text = metrics.exposition().decode()
    assert "svclab_toy_rules_total 5.0" in text and "svclab_toy_failures_total 1.0" in text


def _always_runs() -> str | None:
    return None


@pytest.mark.parametrize("allow_fallback", [True, False])
def test_a_mode_the_kernel_cannot_run_falls_back_only_when_allowed(toy: modes.ModeSpec, allow_fallback: bool) -> None:
    import dataclasses

    runnable = modes.register(dataclasses.replace(TOY, name="toy-runs", supported=_always_runs))
    wanting = modes.register(dataclasses.replace(TOY, name="toy-wants", fallback="toy-runs"))
    try:
        if allow_fallback:
            assert modes.resolve("toy-wants") == (runnable, "needs a toy kernel")
        else:
            with pytest.raises(modes.ModeUnsupported, match="toy-wants cannot run here: needs a toy kernel"):
                modes.resolve("toy-wants", allow_fallback=False)
        assert modes.resolve("toy-runs") == (runnable, None)
        with pytest.raises(modes.ModeUnsupported):  # no fallback at all
            modes.resolve("toy")
    finally:
        modes.unregister(runnable.name)
        modes.unregister(wanting.name)


def test_ipvs_falls_back_to_iptables_as_kube_proxy_did() -> None:
    assert modes.get("ipvs").fallback == "iptables"
    assert all(modes.get(name).fallback is None for name in ("iptables", "nftables", "userspace"))


def test_the_running_mode_is_a_metric() -> None:
    metrics = ProxyMetrics()
    metrics.record_mode("ipvs", "iptables")
    assert 'svclab_proxy_mode_info{mode="iptables",requested="ipvs"} 1.0' in metrics.exposition().decode()


async def test_proxy_mode_is_served_beside_metrics(unused_tcp_port_factory: Any) -> None:
    import aiohttp

    from svclab.proxy.command import add_arguments
    from svclab.proxy.healthz import ProxyHealth
    from svclab.proxy.service import _start_http

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    metrics_port, healthz_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    args = parser.parse_args(
        ["--metrics-bind-address", f"127.0.0.1:{metrics_port}", "--healthz-bind-address", f"127.0.0.1:{healthz_port}"]
    )
    runners = await _start_http(ProxyMetrics(), ProxyHealth(timeout=60), args, "iptables")
    try:
        url = f"http://127.0.0.1:{metrics_port}/proxyMode"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert (response.status, await response.text()) == (200, "iptables")
    finally:
        for runner in runners:
            await runner.cleanup()
