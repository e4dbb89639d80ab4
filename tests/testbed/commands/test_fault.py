"""`svclab fault`: argument parsing and the lines it prints (no cluster: a stand-in handle).

Plan: cluster ``c`` attached through a patched ``attach_or_say`` whose handle
records the requests; a provider refusal and a bad request give exit status 1 and 2.
"""

from __future__ import annotations

import argparse

import pytest

from svclab.testbed.commands import fault as command
from svclab.testbed.faults import FaultRequest, FaultUnavailable


class Handle:
    def __init__(self, refuse: bool = False) -> None:
        self.done: list[FaultRequest] = []
        self.refuse = refuse

    def fault(self, request: FaultRequest) -> str:
        if self.refuse:
            raise FaultUnavailable("not available here")
        self.done.append(request)
        return f"c: {request.action.value} {request.target}"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def run(monkeypatch: pytest.MonkeyPatch, handle: Handle, *argv: str) -> int:
    monkeypatch.setattr(command, "attach_or_say", lambda prog, name: handle)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    return command.run(parse(*argv))


def test_arguments() -> None:
    args = parse("c", "cut-off", "c-worker", "--for", "30")
    assert (args.name, args.action, args.target, args.seconds) == ("c", "cut-off", "c-worker", 30.0)
    assert parse("c", "kill", "apiserver").seconds is None
    with pytest.raises(SystemExit):
        parse("c", "explode", "x")  # not one of the actions


def test_one_line_per_step(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    handle = Handle()
    assert run(monkeypatch, handle, "c", "stop", "scheduler", "--for", "2") == 0
    assert capsys.readouterr().out == "c: stop scheduler\nc: continue scheduler\n"


def test_bad_request_and_refusal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, Handle(), "c", "kill") == 2
    assert capsys.readouterr().err == "svclab fault: kill needs a target: a component (apiserver, proxy-NODE, ...)\n"
    assert run(monkeypatch, Handle(refuse=True), "c", "kill", "apiserver") == 1
    assert capsys.readouterr().err == "svclab fault: not available here\n"
