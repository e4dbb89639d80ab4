"""The channel protocol of ``exec`` and ``attach`` over WebSocket (``v4``/``v5.channel.k8s.io``).

What kubectl speaks since 1.31 (client-go ``tools/remotecommand``, upstream
``apimachinery/pkg/util/remotecommand`` for the constants): every WebSocket
message is binary, its first byte names a channel and the rest is that
channel's data.

* 0 stdin (client -> server), 1 stdout, 2 stderr (server -> client);
* 3 error: one Status JSON at the end, ``Success`` or ``Failure``; a command that
  exited non-zero is ``reason: NonZeroExitCode`` with a cause ``ExitCode`` whose
  message is the code (client-go turns it into kubectl's exit status);
* 4 resize: ``{"Width": W, "Height": H}`` (TTY only);
* ``v5`` adds the close signal: a message ``[255, channel]`` half-closes that
  channel (kubectl sends ``[255, 0]`` when its stdin reaches end of file).

The exec ends when the server closes the WebSocket normally (code 1000): that
is the end of file the client waits for on every channel.

Side-effect-free: framing, parsing and the Status bodies only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLOSE_SIGNAL",
    "ERROR",
    "Message",
    "PROTOCOLS",
    "RESIZE",
    "STDERR",
    "STDIN",
    "STDOUT",
    "V4",
    "V5",
    "exec_failure",
    "exit_status",
    "frame",
    "negotiate",
    "parse_message",
    "parse_resize",
]

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255  # v5 only: [255, channel] half-closes channel
V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"  # no close signal: stdin only ends with the connection
PROTOCOLS = (V5, V4)  # what we serve, best first


@dataclass(frozen=True, slots=True)
class Message:
    """One received message: data for ``channel``, or (``closed``) that channel's end."""

    channel: int
    data: bytes = b""
    closed: bool = False


def frame(channel: int, data: bytes) -> bytes:
    """The WebSocket payload carrying ``data`` on ``channel``."""
    if not 0 <= channel <= 255:
        raise ValueError(f"channel {channel} out of range 0..255")
    return bytes((channel,)) + data


def parse_message(payload: bytes, protocol: str) -> Message | None:
    """Decode one binary payload; None for an empty one (carries nothing).

    ``[255, n]`` is the close signal of channel ``n`` under ``v5`` only; under
    ``v4`` a channel 255 is just an unknown channel, as upstream treats it.
    """
    if not payload:
        return None
    channel = payload[0]
    if channel == CLOSE_SIGNAL and protocol == V5 and len(payload) == 2:
        return Message(payload[1], closed=True)
    return Message(channel, payload[1:])


def negotiate(offered: str) -> str | None:
    """The subprotocol to answer a ``Sec-WebSocket-Protocol`` header with (the client's
    order decides, as gorilla/websocket's server does), or None when none is ours."""
    for name in (p.strip() for p in offered.split(",")):
        if name in PROTOCOLS:
            return name
    return None


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """(columns, rows) from a resize message, or None when it is not one."""
    try:
        size = json.loads(data)
        width, height = int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        return None
    return (width, height) if width >= 0 and height >= 0 else None


def exit_status(code: int) -> dict[str, Any]:
    """The error channel's Status for a command that exited with ``code`` (kubelet's shape)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def exec_failure(message: str) -> dict[str, Any]:
    """The error channel's Status when the command could not run at all (kubectl prints
    ``message`` and exits 1, as for a runtime's exec error)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: error executing command in container: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": f"error executing command in container: {message}"}]},
        "code": 500,
    }
