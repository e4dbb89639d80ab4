"""CPU time of a process from ``/proc/<pid>/stat``, to charge a proxy for a run.

Fields 14-17 of ``/proc/<pid>/stat`` (1-based) are utime, stime, cutime and
cstime in clock ticks; cutime/cstime count children the process has waited
for (``iptables-restore``, ``nft``, ``ipvsadm`` runs).  The command name
(field 2) is in parentheses and may itself hold spaces or parentheses, so
parsing starts after the *last* ``)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessCpu", "parse_proc_stat", "read_process_cpu"]


@dataclass(frozen=True, slots=True)
class ProcessCpu:
    """CPU seconds of a process and of its waited-for children."""

    user_s: float
    system_s: float
    children_user_s: float
    children_system_s: float

    @property
    def total_s(self) -> float:
        return self.user_s + self.system_s + self.children_user_s + self.children_system_s


def parse_proc_stat(text: str, ticks_per_second: int) -> ProcessCpu:
    """Parse one ``/proc/<pid>/stat`` line (side-effect-free)."""
    close = text.rfind(")")
    if close < 0:
        raise ValueError("not a /proc/<pid>/stat line: no ')' after the command name")
    # after ")" come fields 3.. ; utime is field 14, i.e. index 11 here
    fields = text[close + 1 :].split()
    if len(fields) < 15:
        raise ValueError(f"/proc/<pid>/stat line too short: {len(fields) + 2} fields")
    utime, stime, cutime, cstime = (int(v) / ticks_per_second for v in fields[11:15])
    return ProcessCpu(user_s=utime, system_s=stime, children_user_s=cutime, children_system_s=cstime)


def read_process_cpu(pid: int, *, proc: Path = Path("/proc")) -> ProcessCpu:
    """Read a live process's CPU times; OSError when it is gone."""
    text = (proc / str(pid) / "stat").read_text()
    return parse_proc_stat(text, os.sysconf("SC_CLK_TCK"))
