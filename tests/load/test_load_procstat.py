"""Parsing /proc/<pid>/stat for the proxy's CPU seconds (100 ticks per second)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from svclab.load import parse_proc_stat, read_process_cpu

# fields 14-17 (utime stime cutime cstime) = 250 50 30 20 ticks
TAIL = "S 1 2 3 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1 0 5 0 0 18446744073709551615"


@pytest.mark.parametrize("comm", ["python3", "kube proxy", "a) (b", "x)"], ids=repr)
def test_command_names_with_spaces_and_parentheses(comm: str) -> None:
    cpu = parse_proc_stat(f"4242 ({comm}) {TAIL}\n", 100)
    assert (cpu.user_s, cpu.system_s, cpu.children_user_s, cpu.children_system_s) == (2.5, 0.5, 0.3, 0.2)
    assert cpu.total_s == pytest.approx(3.5)


def test_truncated_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="too short"):
        parse_proc_stat("1 (x) S 1 2 3", 100)


def test_reads_a_live_process_and_a_fake_proc(tmp_path: Path) -> None:
    assert read_process_cpu(os.getpid()).total_s >= 0
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text(f"7 (proxy) {TAIL}\n")
    assert read_process_cpu(7, proc=tmp_path).user_s == 250 / os.sysconf("SC_CLK_TCK")
