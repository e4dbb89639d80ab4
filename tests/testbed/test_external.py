"""Placeholder expansion of external commands (issue 19). Pure."""

from __future__ import annotations

import pytest

from svclab.testbed.external import PLACEHOLDERS, ExternalCommand, expand, external_label

VALUES = {
    "kubeconfig": "/run/svclab/x/kubeconfig.internal",
    "nodeName": "x-worker",
    "nodeIP": "172.18.0.3",
    "podCIDR": "10.244.1.0/24",
    "clusterCIDR": "10.244.0.0/16",
    "serviceCIDR": "10.96.0.0/16",
}


def test_every_placeholder_is_replaced() -> None:
    assert set(VALUES) == set(PLACEHOLDERS)
    text = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    assert expand(text, VALUES) == " ".join(VALUES[name] for name in PLACEHOLDERS)


def test_braces_escape_and_text_around_placeholders_stays() -> None:
    assert expand("--node={nodeName}:{{x}}", VALUES) == "--node=x-worker:{x}"


@pytest.mark.parametrize("text", ["{nodename}", "{", "a}b"])
def test_unknown_placeholders_and_lone_braces_raise(text: str) -> None:
    with pytest.raises(ValueError):
        expand(text, VALUES)


def test_command_expands_argv_and_env() -> None:
    command = ExternalCommand(("p", "--kubeconfig", "{kubeconfig}"), (("CIDR", "{podCIDR}"),))
    assert command.expanded(VALUES) == (
        ("p", "--kubeconfig", "/run/svclab/x/kubeconfig.internal"),
        (("CIDR", "10.244.1.0/24"),),
    )


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (("/usr/local/bin/kube-proxy", "--v=2"), "external: kube-proxy"),
        (("my.sh",), "external: my.sh"),
        ((), "external"),
    ],
)
def test_label_is_the_command_basename(argv: tuple[str, ...], label: str) -> None:
    assert external_label(argv) == label
