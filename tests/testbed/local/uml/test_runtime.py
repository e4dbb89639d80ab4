"""The User-Mode Linux runtime: boot configuration (pure) and a long-running guest (root; UML).

Address plan of the long-running guest: namespace ``svclab-<name>-uml`` holds
tap ``svclab-tap0`` 10.250.0.1/30; the guest's ``vec0`` is 10.250.0.2/30 and
serves HTTP on :8000; the host reaches it through a forwarder on
127.0.0.1:<free port>. Nothing is added to the host's root namespace.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path

import pytest

from svclab.testbed.local.uml import boot, guest_netns
from svclab.testbed.local.uml.boot import GuestNetwork, UmlBootConfig
from svclab.testbed.local.uml.runtime import can_run_uml

CONFIG = UmlBootConfig(
    shared_dir=Path("/tmp/svclab-uml-x"),
    umid="svclab-t",
    kernel_version="6.1.176",
    memory="512M",
    workdir=Path("/work/main"),
    writable_paths=(Path("/work/main"),),
    modules=("ip_vs", "ip_vs_rr"),
)


def test_kernel_command_line_boots_read_only_hostfs_with_console_on_stdout() -> None:
    args = boot.kernel_command_line(CONFIG)
    assert args[:5] == ["mem=512M", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro"]
    assert {"con=null", "ssl=null", "con0=null,fd:1", "init=/tmp/svclab-uml-x/init.sh"} <= set(args)
    assert not any(a.startswith("vec0") for a in args)


def test_network_adds_vec0_tap_transport() -> None:
    config = UmlBootConfig(
        **{**{f: getattr(CONFIG, f) for f in CONFIG.__dataclass_fields__}, "network": GuestNetwork(tap="svclab-tap0")}
    )
    assert "vec0:transport=tap,ifname=svclab-tap0" in boot.kernel_command_line(config)
    script = boot.init_script(config)
    assert "ip addr add 10.250.0.2/30 dev vec0" in script
    assert "ip route add default via 10.250.0.1" in script
    assert "mount --bind /run/svclab-uml/resolv.conf /etc/resolv.conf" in script  # no hanging lookups


def test_init_script_mounts_modules_runs_command_and_powers_off() -> None:
    script = boot.init_script(CONFIG)
    order = [
        script.index(s)
        for s in (
            "mount -t tmpfs -o mode=1777 tmpfs /tmp",
            "mount -t hostfs -o /tmp/svclab-uml-x hostfs /tmp/svclab-uml-x",  # re-exposed after the tmpfs
            "insmod /usr/lib/uml/modules/6.1.176/kernel/fs/overlayfs/overlay.ko",
            "mount --bind /usr/lib/uml/modules/6.1.176 /usr/lib/modules/6.1.176",
            "modprobe ip_vs ",
            "touch /tmp/svclab-uml-x/ready",
            "wait $child; exit_now $?",
        )
    ]
    assert order == sorted(order)
    assert "cd /work/main" in script


def test_env_and_command_are_shell_quoted() -> None:
    assert boot.env_script({"A": "x y", "B": "$(no)", "bad-name": "z"}) == "export A='x y'\nexport B='$(no)'\n"
    assert boot.command_script(["pytest", "-k", "a b"]) == "exec pytest -k 'a b'\n"


def test_paths_under_a_guest_tmpfs_are_mounted_from_the_host() -> None:
    # A checkout or venv under /tmp is invisible to the guest unless mounted over its tmpfs.
    hidden = boot.hidden_in_guest([Path("/tmp/fresh/.venv"), Path("/work/main/implementation"), Path("/run/x")])
    assert hidden == (Path("/tmp/fresh/.venv"), Path("/run/x"))
    assert set(boot.hidden_in_guest(boot.python_paths())) <= set(boot.guest_writable_paths([]))
    assert Path(boot.__file__).resolve().is_relative_to(boot.python_paths()[-1])


def test_guest_namespace_is_ours() -> None:
    assert guest_netns("ipvs") == "svclab-ipvs-uml"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    return can_run_uml()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(90)
@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_long_running_guest_is_reachable_from_host_loopback(tmp_path: Path) -> None:
    from svclab.testbed.local.uml import start_guest, stop_guest

    www = tmp_path / "www"
    www.mkdir()
    (www / "hello").write_text("from the guest\n")
    port = _free_port()
    name = f"t{os.getpid() % 10000}"
    guest = start_guest(
        name,
        [sys.executable, "-m", "http.server", "8000", "--bind", "0.0.0.0", "--directory", str(www)],
        workdir=tmp_path,
        state_dir=tmp_path / "state",
        memory="256M",
        forwards={port: 8000},
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert Path("/run/netns", guest_netns(name)).exists()
        body = ""
        for _ in range(100):  # the server starts after the guest reports ready
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as response:
                    body = response.read().decode()
                break
            except OSError:
                import time

                time.sleep(0.1)
        assert body == "from the guest\n"
    finally:
        result = stop_guest(guest, timeout=20)
    assert not Path("/run/netns", guest_netns(name)).exists()
    assert not result.timed_out, result.console_path.read_text()[-2000:]
    print(f"long-running guest: boot {guest.boot_seconds:.2f}s, stop {result.total_seconds:.2f}s")


@pytest.mark.parametrize(
    ("requested", "mode", "host_supports", "want"),
    [
        pytest.param("auto", "ipvs", False, "uml", id="auto-ipvs-missing"),
        pytest.param("auto", "ipvs", True, "host", id="auto-ipvs-present"),
        pytest.param("auto", "iptables", False, "host", id="auto-iptables"),
        pytest.param("host", "ipvs", False, "host", id="host-is-honoured"),
    ],
)
def test_resolve_kernel(requested: str, mode: str, host_supports: bool, want: str) -> None:
    from svclab.testbed.local.uml import resolve_kernel

    if want == "uml" and can_run_uml() is not None:
        pytest.skip(str(can_run_uml()))
    assert resolve_kernel(requested, mode, host_supports=host_supports) == want


def test_resolve_kernel_rejects_unknown_value() -> None:
    from svclab.testbed.local.uml import resolve_kernel

    with pytest.raises(ValueError, match="host, uml or auto"):
        resolve_kernel("qemu", "ipvs")


def test_public_api_is_sorted_and_resolves() -> None:
    import svclab.proxy.ipvs as ipvs
    import svclab.testbed.local.uml as uml

    for module in (uml, ipvs):
        assert module.__all__ == sorted(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)
