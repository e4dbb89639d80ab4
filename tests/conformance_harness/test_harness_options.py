"""The suite's options, parsed by pytest itself: a pytest subprocess on ``conformance/``.

``--collect-only`` shows which clusters each option asked for (the test ids);
a real session against a stand-in ``kubectl`` (first on PATH; it answers
``version`` and ``get nodes`` with one control-plane node and fails anything
else) shows that ``--kubeconfig`` reaches the cluster fixture and that tests
needing node access or a known proxy mode skip with the reason, never fail.
Both with pytest-kind-ng loaded (its own ``--kubeconfig`` is read) and without
it (the suite defines the option). ``svclab run``'s hint for kubeconfig
testbeds names that option.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from svclab.testbed.kubeconfig import NO_NODE_ACCESS_REASON

REPO = Path(__file__).resolve().parents[2]
NODE = {
    "metadata": {"name": "solo", "labels": {"node-role.kubernetes.io/control-plane": ""}},
    "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.10"}]},
}
KUBECTL = f"""#!{sys.executable} -S
import sys
args = [a for a in sys.argv[1:] if not a.startswith("--")]
if args[:1] == ["version"]:
    sys.exit(print("{{}}"))
if args[:2] == ["get", "nodes"]:
    sys.exit(print({json.dumps({"items": [NODE]})!r}))
sys.exit(print("error: not served here", file=sys.stderr) or 1)
"""
# Never contacted: the tests skip before the first API call (lightkube's client is lazy).
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://192.0.2.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""
WITHOUT_KIND_PLUGIN = ("-p", "no:pytest-kind-ng")


def suite(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "implementation"))
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


@pytest.mark.parametrize("plugins", [(), WITHOUT_KIND_PLUGIN], ids=["kind-plugin", "own-option"])
def test_each_option_names_one_cluster(plugins: tuple[str, ...]) -> None:
    done = suite(
        *plugins,
        "conformance/test_nodes.py",
        "--collect-only",
        "--testbed",
        "clusters/iptables.yaml",
        "--cluster",
        "lab",
        "--kubeconfig",
        "/nowhere/kubeconfig",
        "--kube-context",
        "prod",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ids = {
        line.rsplit("[", 1)[1].rstrip("]")
        for line in done.stdout.splitlines()
        if "test_every_node_is_registered_and_ready[" in line
    }
    assert ids == {"iptables", "cluster-lab", "kubeconfig-prod"}


@pytest.mark.parametrize("plugins", [(), WITHOUT_KIND_PLUGIN], ids=["kind-plugin", "own-option"])
def test_kubeconfig_cluster_skips_node_and_mode_specific_tests_with_the_reason(
    tmp_path: Path, plugins: tuple[str, ...]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    done = suite(
        *plugins,
        "conformance/test_nodes.py::test_node_exec_hook_runs_on_the_node",
        "conformance/test_traffic_policy.py::test_external_traffic_policy_local",
        "--kubeconfig",
        str(kubeconfig),
        path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "2 skipped" in output
    assert f"node solo: {NO_NODE_ACCESS_REASON}" in output
    assert (
        "proxy mode of cluster kubeconfig unknown (test is for iptables, nftables, ipvs; "
        "a --testbed spec with provider kubeconfig names the mode)"
    ) in " ".join(output.split())


def test_svclab_run_points_kubeconfig_testbeds_at_the_real_option() -> None:
    import dataclasses

    from svclab.run.cluster import provider_problem
    from svclab.testbed.spec import ProviderKind, load_spec

    spec = dataclasses.replace(load_spec(REPO / "clusters" / "kind-iptables.yaml"), provider=ProviderKind.KUBECONFIG)
    reason = provider_problem(spec)
    assert reason is not None and "`pytest conformance --kubeconfig PATH`" in reason
    done = suite("conformance", "--collect-only", "--kubeconfig", "/nowhere/kubeconfig")
    assert done.returncode == 0 and "[kubeconfig]" in done.stdout, done.stdout + done.stderr


def _collected(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only", "conformance", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {line for line in done.stdout.splitlines() if "::" in line}


@pytest.mark.timeout(180)  # six collections of the whole suite
def test_neutral_shares_split_the_mode_neutral_tests_and_keep_every_proxy_test() -> None:
    """``--neutral-share K/N``: the N shares of the tests without ``needs_proxy`` are disjoint and
    together all of them; every ``needs_proxy`` test and every dual-stack test (it judges only
    a dual-stack testbed, whichever share drew it) is in every share."""
    everywhere = _collected("-m", "needs_proxy or dual_stack")
    neutral = _collected() - everywhere
    assert any(t.startswith("conformance/test_dual_stack.py::") for t in everywhere)  # neutral, yet everywhere
    shares = [_collected("--neutral-share", f"{k}/3") for k in range(3)]
    assert all(share >= everywhere for share in shares)
    parts = [share - everywhere for share in shares]
    assert all(parts) and sum(len(p) for p in parts) == len(neutral) and set().union(*parts) == neutral
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "conformance",
            "--neutral-share",
            "3/3",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0 and "--neutral-share takes K/N" in bad.stdout + bad.stderr
