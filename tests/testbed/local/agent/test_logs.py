"""Container log files in CRI format and what ``kubectl logs`` prints from them.

Times in the cases are nanoseconds after 2026-12-03T10:00:00Z (``T0``).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from svclab.testbed.local.agent.logs import (
    ContainerLogs,
    Entry,
    LogQuery,
    format_entry,
    parse_entry,
    pump,
    render,
    rfc3339nano,
)

T0 = 1_796_292_000 * 1_000_000_000  # 2026-12-03T10:00:00Z
S = 1_000_000_000


def test_rfc3339nano_drops_trailing_zeros_as_go_does() -> None:
    assert rfc3339nano(T0) == "2026-12-03T10:00:00Z"
    assert rfc3339nano(T0 + 500_000_000) == "2026-12-03T10:00:00.5Z"
    assert rfc3339nano(T0 + 123) == "2026-12-03T10:00:00.000000123Z"


def test_entry_round_trip() -> None:
    entry = Entry(T0 + 1, "stderr", False, b"oops: a b  c")
    assert format_entry(entry) == b"2026-12-03T10:00:00.000000001Z stderr F oops: a b  c\n"
    assert parse_entry(format_entry(entry)) == entry
    assert parse_entry(b"2026-12-03T10:00:00Z stdout P ") == Entry(T0, "stdout", True, b"")


@pytest.mark.parametrize("line", [b"", b"garbage", b"2026-12-03T10:00:00Z stdin F x", b"yesterday stdout F x"])
def test_parse_entry_rejects_what_is_not_a_cri_line(line: bytes) -> None:
    assert parse_entry(line) is None


ENTRIES = [
    Entry(T0, "stdout", False, b"one"),
    Entry(T0 + 1 * S, "stderr", False, b"two"),
    Entry(T0 + 2 * S, "stdout", True, b"thr"),
    Entry(T0 + 3 * S, "stdout", False, b"ee"),
    Entry(T0 + 4 * S, "stdout", True, b"no newline"),
]


@pytest.mark.parametrize(
    ("query", "printed"),
    [
        (LogQuery(), b"one\ntwo\nthree\nno newline"),
        (LogQuery(tail_lines=2), b"three\nno newline"),
        (LogQuery(tail_lines=0), b""),
        (LogQuery(since_ns=T0 + 2 * S), b"three\nno newline"),  # a line's time is its first piece's
        (LogQuery(since_ns=T0 + 3 * S), b"no newline"),
        (LogQuery(limit_bytes=6), b"one\ntw"),
        (
            LogQuery(tail_lines=2, timestamps=True),
            b"2026-12-03T10:00:02Z three\n2026-12-03T10:00:04Z no newline",
        ),
    ],
    ids=["all", "tail", "tail-0", "since-joins-pieces", "since", "limit-bytes", "timestamps"],
)
def test_render(query: LogQuery, printed: bytes) -> None:
    assert render(ENTRIES, query) == printed


def test_pump_writes_lines_pieces_and_the_open_end() -> None:
    async def scenario() -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(b"a\nb")
        reader.feed_data(b"c\n" + b"x" * (16 * 1024 + 3))
        reader.feed_eof()
        out = io.BytesIO()
        ticks = iter(range(T0, T0 + 100))
        await pump(reader, "stdout", out, now=lambda: next(ticks))
        return out.getvalue()

    lines = [parse_entry(line) for line in asyncio.run(scenario()).splitlines()]
    assert [(e.partial, e.content) for e in lines if e] == [
        (False, b"a"),
        (False, b"bc"),
        (True, b"x" * 16 * 1024),  # cut at the line limit
        (True, b"xxx"),  # the stream ended without a newline
    ]
    assert render([e for e in lines if e], LogQuery()) == b"a\nbc\n" + b"x" * (16 * 1024 + 3)


def test_container_logs_keep_the_current_and_the_previous_instance(tmp_path: Path) -> None:
    logs = ContainerLogs(tmp_path, "web")
    assert logs.current() is None and logs.previous() is None
    for instance in range(3):
        logs.start(instance).write_bytes(b"")
    assert logs.instances() == [1, 2]
    assert logs.current() == tmp_path / "logs" / "web" / "2.log"
    assert logs.previous() == tmp_path / "logs" / "web" / "1.log"
