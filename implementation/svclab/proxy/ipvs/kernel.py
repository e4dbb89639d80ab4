"""What the ipvs mode needs from the kernel it runs on, decided in one place.

``ipvs_missing()`` answers "can this kernel do IPVS?" for ``svclab up``,
``spec.kernel: auto``, ``svclab proxy --cleanup`` and the bench alike
(through the mode's ``ModeSpec.supported``). The rule: IPVS is there when
``/proc/net/ip_vs`` exists (built in, or the module is loaded), or when the
kernel's module tree lists ``ip_vs`` (``modules.dep`` or
``modules.builtin``; failing those, the file at its usual place), so the
first IPVS netlink call can autoload it.

``iptables_binary()`` picks the iptables the mode's rules go through
(``ip6tables`` for the IPv6 proxier): inside User-Mode Linux (Debian's
``linux.uml`` has no nf_tables) only the legacy backend works; everywhere
else the default one.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

__all__ = ["MODULE_ROOTS", "iptables_binary", "ipvs_missing", "running_in_uml"]

#: Where kernel module trees live (``<root>/<release>/``).
MODULE_ROOTS = (Path("/lib/modules"), Path("/usr/lib/modules"))
_IP_VS = re.compile(r"(?:^|/)ip_vs\.ko(?:\.\w+)?:?(?:\s|$)", re.MULTILINE)
_MISSING = "needs IPVS, which this kernel lacks"


def _module_listed(tree: Path) -> bool:
    for listing in ("modules.dep", "modules.builtin"):
        try:
            if _IP_VS.search((tree / listing).read_text(errors="replace")):
                return True
        except OSError:
            continue
    return any(tree.glob("kernel/net/netfilter/ipvs/ip_vs.ko*"))


def ipvs_missing(
    proc: Path = Path("/proc"), module_roots: tuple[Path, ...] = MODULE_ROOTS, release: str | None = None
) -> str | None:
    """None when this kernel has IPVS now or as a loadable module, else why not (see module docstring)."""
    if (proc / "net/ip_vs").exists():
        return None
    release = release or os.uname().release
    if any(_module_listed(root / release) for root in module_roots if (root / release).is_dir()):
        return None
    return _MISSING


def running_in_uml(proc: Path = Path("/proc")) -> bool:
    """Whether this is a User-Mode Linux kernel (its ``cpuinfo`` says so)."""
    try:
        cpuinfo = (proc / "cpuinfo").read_text()
    except OSError:
        return False
    return "UML" in cpuinfo or "User Mode" in cpuinfo


def iptables_binary(proc: Path = Path("/proc"), base: str = "iptables") -> str:
    """``base`` (``iptables`` or ``ip6tables``) unless only its legacy backend can work (no
    nf_tables, inside UML)."""
    legacy = shutil.which(f"{base}-legacy")
    if legacy and not (proc / "net/netfilter/nf_tables").exists() and running_in_uml(proc):
        return f"{base}-legacy"
    return base
