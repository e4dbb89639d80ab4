"""The conntrack TCP timeouts the proxy sets at start, against a fake sysctl directory."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from svclab.proxy.command import add_arguments
from svclab.proxy.conntrack_timeouts import CLOSE_WAIT, ESTABLISHED, ConntrackTimeouts, apply_timeouts


def _sysctls(tmp_path: Path, established: int, close_wait: int) -> Path:
    (tmp_path / ESTABLISHED).write_text(f"{established}\n")
    (tmp_path / CLOSE_WAIT).write_text(f"{close_wait}\n")
    return tmp_path


def _read(directory: Path) -> tuple[int, int]:
    return int((directory / ESTABLISHED).read_text()), int((directory / CLOSE_WAIT).read_text())


def test_upstream_defaults_replace_the_kernel_defaults(tmp_path: Path) -> None:
    directory = _sysctls(tmp_path, 432000, 60)  # the kernel's: 5 days, 60 s
    assert apply_timeouts(ConntrackTimeouts(), directory) == {ESTABLISHED: 86400, CLOSE_WAIT: 3600}
    assert _read(directory) == (86400, 3600)


def test_values_already_set_are_not_written_and_zero_leaves_a_sysctl(tmp_path: Path) -> None:
    directory = _sysctls(tmp_path, 86400, 60)
    assert apply_timeouts(ConntrackTimeouts(tcp_close_wait=0), directory) == {}
    assert _read(directory) == (86400, 60)


def test_a_missing_sysctl_is_skipped(tmp_path: Path) -> None:
    (tmp_path / CLOSE_WAIT).write_text("60\n")  # no established sysctl at all
    assert apply_timeouts(ConntrackTimeouts(), tmp_path) == {CLOSE_WAIT: 3600}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (86400.0, 3600.0)),
        (["--conntrack-tcp-timeout-close-wait", "30m", "--conntrack-tcp-timeout-established", "0"], (0.0, 1800.0)),
    ],
    ids=["defaults", "flags"],
)
def test_command_line_flags(argv: list[str], expected: tuple[float, float]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--kubeconfig", "k", *argv])
    assert (args.conntrack_tcp_timeout_established, args.conntrack_tcp_timeout_close_wait) == expected
