"""Image filesystems: the few files an image brings, seen only by its container.

Containers here are host processes, so an image's own files (nginx's
``/usr/share/nginx/html``) are not on the host. For an image listed in
:data:`IMAGE_FILES` the container runs in a mount namespace of its own where
the image's top directory (``/usr/share``) is an overlay: the host's directory
below, a per-container writable layer above that starts with the image's
files. What the container or an ``exec`` into it writes there stays in that
layer (``<pod dir>/rootfs/<container>/``), invisible to the host and to other
containers, and is dropped when the container starts again, as a container's
writable layer is. Mounts never propagate back: the new namespace's ``/`` is
made private (recursively) before anything is mounted.

An ``exec`` joins the container's mount namespace (``/proc/PID/ns/mnt``).
:func:`image_files` and :func:`overlay_options` are side-effect-free.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "IMAGE_FILES",
    "ImageFiles",
    "Overlay",
    "image_files",
    "joining_mounts",
    "mounting",
    "overlay_options",
    "prepare",
]

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

NGINX_INDEX = b"""<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
</body>
</html>
"""
NGINX_50X = b"""<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
</body>
</html>
"""


@dataclass(frozen=True, slots=True)
class ImageFiles:
    """Files an image has (paths relative to ``top``) under one host directory ``top``, and
    the module (``svclab.testbed.local.<builtin>``) that plays its default command."""

    top: str
    files: tuple[tuple[str, bytes], ...]
    builtin: str


# Docker Hub's nginx image: the default site its default.conf serves.
IMAGE_FILES = {
    "nginx": ImageFiles(
        "/usr/share", (("nginx/html/index.html", NGINX_INDEX), ("nginx/html/50x.html", NGINX_50X)), builtin="nginx"
    ),
}


def image_files(repository: str) -> ImageFiles | None:
    """The files of an image repository (``nginx``, ``docker.io/library/nginx``), if it has some here."""
    short = repository.removeprefix("docker.io/").removeprefix("library/")
    return IMAGE_FILES.get(short)


@dataclass(frozen=True, slots=True)
class Overlay:
    """One container's overlay: ``top`` (the host's directory) under ``upper``, with ``work``."""

    top: str
    upper: str
    work: str


def overlay_options(overlay: Overlay) -> str:
    return f"lowerdir={overlay.top},upperdir={overlay.upper},workdir={overlay.work}"


def prepare(directory: Path, files: ImageFiles) -> Overlay:
    """A fresh writable layer under ``directory`` holding the image's files."""
    shutil.rmtree(directory, ignore_errors=True)
    upper, work = directory / "upper", directory / "work"
    work.mkdir(parents=True)
    for relative, content in files.files:
        path = upper / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return Overlay(files.top, str(upper), str(work))


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mounting(overlay: Overlay) -> Callable[[], None]:
    """A ``preexec_fn`` step: a mount namespace of its own, private, with ``overlay`` mounted."""

    def mount() -> None:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        options = overlay_options(overlay).encode()
        _check(_libc.mount(b"overlay", overlay.top.encode(), b"overlay", 0, options), f"mount overlay {overlay.top}")

    return mount


def joining_mounts(pid: int, workdir: str | None) -> Callable[[], None]:
    """A ``preexec_fn`` step: join process ``pid``'s mount namespace (then ``workdir`` again:
    setns moves the caller to the namespace's root)."""

    def join() -> None:
        fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWNS), f"setns(/proc/{pid}/ns/mnt)")
        finally:
            os.close(fd)
        os.chdir(workdir or "/")

    return join
