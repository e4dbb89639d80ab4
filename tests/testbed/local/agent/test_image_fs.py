"""Image filesystems (nginx's default site): which images have files, the writable layer,
and, as root, a container's private overlay that an exec joins and the host never sees.

No addresses: processes only, in mount namespaces of their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from svclab.testbed.local.agent.containers import container_argv
from svclab.testbed.local.agent.image_fs import (
    IMAGE_FILES,
    image_files,
    joining_mounts,
    mounting,
    overlay_options,
    prepare,
)

NGINX = IMAGE_FILES["nginx"]
HTML = "/usr/share/nginx/html"


@pytest.mark.parametrize(
    ("repository", "has_files"),
    [("nginx", True), ("docker.io/library/nginx", True), ("library/nginx", True), ("ubuntu", False)],
)
def test_image_files_by_repository(repository: str, has_files: bool) -> None:
    assert (image_files(repository) is NGINX) is has_files


@pytest.mark.parametrize("image", ["nginx", "nginx:latest", "nginx:1.14.2", "docker.io/library/nginx:stable"])
def test_nginx_without_a_command_runs_the_builtin_server(image: str) -> None:
    launch = container_argv({"name": "web", "image": image}, {})
    assert launch.argv == (sys.executable, "-m", "svclab.testbed.local.nginx")
    assert launch.files is NGINX and not launch.reason


def test_nginx_with_a_command_runs_it_with_the_image_files() -> None:
    launch = container_argv({"name": "web", "image": "nginx", "command": ["sleep", "1"]}, {})
    assert launch.argv == ("sleep", "1") and launch.files is NGINX


def test_an_unknown_image_without_a_command_still_cannot_run() -> None:
    launch = container_argv({"name": "db", "image": "postgres:16"}, {})
    assert launch.argv == () and launch.reason == "ImageNotSupported"
    assert "agnhost and nginx" in launch.message


def test_prepare_starts_a_fresh_layer(tmp_path: Path) -> None:
    overlay = prepare(tmp_path / "web", NGINX)
    (Path(overlay.upper) / "nginx/html/foo.dat").write_bytes(b"x")
    overlay = prepare(tmp_path / "web", NGINX)  # the container started again
    assert sorted(p.name for p in (Path(overlay.upper) / "nginx/html").iterdir()) == ["50x.html", "index.html"]
    assert b"Welcome to nginx!" in (Path(overlay.upper) / "nginx/html/index.html").read_bytes()
    assert overlay_options(overlay) == f"lowerdir=/usr/share,upperdir={overlay.upper},workdir={overlay.work}"


@pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")
def test_private_overlay_is_joined_by_exec_and_unseen_by_the_host(tmp_path: Path) -> None:
    assert not Path(HTML).exists(), "the host has nginx's files itself: this test would prove nothing"
    overlay = prepare(tmp_path / "web", NGINX)
    container = subprocess.Popen(["sleep", "60"], preexec_fn=mounting(overlay))
    try:
        write = subprocess.run(
            ["sh", "-c", f"cat {HTML}/index.html && echo data > {HTML}/foo.dat"],
            preexec_fn=joining_mounts(container.pid, None),
            capture_output=True,
            check=True,
        )
        assert b"Welcome to nginx!" in write.stdout
        read = subprocess.run(
            ["cat", f"{HTML}/foo.dat"], preexec_fn=joining_mounts(container.pid, None), capture_output=True, check=True
        )
        assert read.stdout == b"data\n"
        assert not Path(HTML).exists()  # nothing reached the host's /usr/share
        assert (Path(overlay.upper) / "nginx/html/foo.dat").read_bytes() == b"data\n"
        assert " /usr/share " not in Path("/proc/self/mountinfo").read_text()  # no overlay leaked to the host
    finally:
        container.send_signal(signal.SIGKILL)
        container.wait()
