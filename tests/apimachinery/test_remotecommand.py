"""The exec/attach channel protocol: framing, v5 close signals, the error channel's Status.

The Status shapes are what client-go's v4 error decoder reads: ``Success``, or
``Failure`` + ``NonZeroExitCode`` with an ``ExitCode`` cause carrying the code.
"""

from __future__ import annotations

import json

import pytest

from svclab.apimachinery import remotecommand as rc


@pytest.mark.parametrize(
    ("channel", "data", "wire"),
    [(rc.STDIN, b"ls\n", b"\x00ls\n"), (rc.STDERR, b"", b"\x02"), (rc.ERROR, b"{}", b"\x03{}")],
    ids=["stdin", "empty-stderr", "error"],
)
def test_frame_puts_the_channel_first(channel: int, data: bytes, wire: bytes) -> None:
    assert rc.frame(channel, data) == wire
    assert rc.parse_message(wire, rc.V5) == rc.Message(channel, data)


def test_frame_refuses_a_channel_beyond_a_byte() -> None:
    with pytest.raises(ValueError):
        rc.frame(256, b"")


def test_close_signal_is_v5_only() -> None:
    assert rc.parse_message(b"\xff\x00", rc.V5) == rc.Message(rc.STDIN, closed=True)
    assert rc.parse_message(b"\xff\x00", rc.V4) == rc.Message(255, b"\x00")  # just an unknown channel
    assert rc.parse_message(b"\xff\x00more", rc.V5) == rc.Message(255, b"\x00more")


def test_empty_message_carries_nothing() -> None:
    assert rc.parse_message(b"", rc.V5) is None


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ("v5.channel.k8s.io", rc.V5),
        ("v4.channel.k8s.io, v5.channel.k8s.io", rc.V4),  # the client's order decides
        ("channel.k8s.io,v5.channel.k8s.io", rc.V5),
        ("base64.channel.k8s.io", None),
        ("", None),
    ],
)
def test_negotiate(offered: str, chosen: str | None) -> None:
    assert rc.negotiate(offered) == chosen


def test_exit_status_zero_is_success() -> None:
    assert rc.exit_status(0) == {"metadata": {}, "status": "Success"}


def test_exit_status_names_the_code_as_client_go_reads_it() -> None:
    status = rc.exit_status(7)
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
    json.dumps(status)  # goes on the wire as JSON


def test_exec_failure_is_an_internal_error_with_the_message() -> None:
    status = rc.exec_failure('exec: "x": executable file not found in $PATH')
    assert status["status"] == "Failure" and status["reason"] == "InternalError" and status["code"] == 500
    assert status["message"].endswith('exec: "x": executable file not found in $PATH')


@pytest.mark.parametrize(
    ("data", "size"),
    [(b'{"Width":80,"Height":24}', (80, 24)), (b"{}", None), (b"nope", None), (b'{"Width":-1,"Height":2}', None)],
)
def test_parse_resize(data: bytes, size: tuple[int, int] | None) -> None:
    assert rc.parse_resize(data) == size
