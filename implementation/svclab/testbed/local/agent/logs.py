"""Container logs as kubelet keeps them: one file per container instance, CRI format.

Each line of ``<sandbox>/logs/<container>/<instance>.log`` is
``<RFC3339Nano time> <stdout|stderr> <F|P> <content>``, the CRI logging format
(upstream ``pkg/kubelet/kuberuntime/logs``): ``F`` ends a line of output, ``P``
is a piece of a line cut at :data:`MAX_LINE` bytes or left open when the stream
ended without a newline. ``<instance>`` is the container's restart count when
it started, so the previous instance (``kubectl logs --previous``) is the file
before the current one; older files are removed, as kubelet keeps only those two.

:func:`format_entry`, :func:`parse_entry` and :func:`render` are
side-effect-free; :func:`pump` and :class:`ContainerLogs` do the file I/O.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["ContainerLogs", "Entry", "LogQuery", "format_entry", "parse_entry", "pump", "render", "rfc3339nano"]

MAX_LINE = 16 * 1024  # longer lines are split into P pieces, as container runtimes do


@dataclass(frozen=True, slots=True)
class Entry:
    time_ns: int
    stream: str  # "stdout" or "stderr"
    partial: bool
    content: bytes


@dataclass(frozen=True, slots=True)
class LogQuery:
    """The options of ``GET pods/NAME/log`` that shape the output (upstream PodLogOptions)."""

    tail_lines: int | None = None
    since_ns: int | None = None  # only entries at or after this time
    timestamps: bool = False
    limit_bytes: int | None = None


def rfc3339nano(time_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: nanoseconds with trailing zeros dropped."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def _parse_time(text: str) -> int:
    stamp, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def format_entry(entry: Entry) -> bytes:
    """One CRI log line (newline-terminated); ``content`` carries no newline."""
    tag = b"P" if entry.partial else b"F"
    return b"%s %s %s %s\n" % (rfc3339nano(entry.time_ns).encode(), entry.stream.encode(), tag, entry.content)


def parse_entry(line: bytes) -> Entry | None:
    """A CRI log line back to an entry; None for a line that is not one (a torn write)."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        return None
    try:
        time_ns = _parse_time(parts[0].decode())
    except ValueError:
        return None
    return Entry(time_ns, parts[1].decode(), parts[2] == b"P", parts[3] if len(parts) > 3 else b"")


def render(entries: Iterable[Entry], query: LogQuery) -> bytes:
    """What ``kubectl logs`` prints for these entries (side-effect-free).

    Pieces are joined back into lines; ``tail_lines`` keeps the last N lines,
    ``since_ns`` drops older lines, ``timestamps`` prefixes each line with the
    time of its first piece, and ``limit_bytes`` cuts the result.
    """
    lines: list[tuple[int, bytes]] = []
    pending: tuple[int, bytes] | None = None
    for entry in entries:
        start, text = pending if pending is not None else (entry.time_ns, b"")
        text += entry.content
        pending = (start, text) if entry.partial else None
        if not entry.partial:
            lines.append((start, text + b"\n"))
    if pending is not None:
        lines.append(pending)  # the stream ended without a newline: print as it is
    if query.since_ns is not None:
        lines = [line for line in lines if line[0] >= query.since_ns]
    if query.tail_lines is not None:
        lines = lines[len(lines) - query.tail_lines :] if query.tail_lines > 0 else []
    out = b"".join((rfc3339nano(t).encode() + b" " if query.timestamps else b"") + text for t, text in lines)
    return out[: query.limit_bytes] if query.limit_bytes is not None else out


async def pump(reader: asyncio.StreamReader, stream: str, out: BinaryIO, now: Callable[[], int] = time.time_ns) -> None:
    """Copy a container's stdout or stderr into its log file, one CRI entry per line
    (``now`` gives each entry's time in nanoseconds)."""
    buffer = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer or len(buffer) >= MAX_LINE:
            cut = buffer.find(b"\n")
            if cut < 0 or cut >= MAX_LINE:
                piece, buffer = buffer[:MAX_LINE], buffer[MAX_LINE:]
                out.write(format_entry(Entry(now(), stream, True, piece)))
            else:
                piece, buffer = buffer[:cut], buffer[cut + 1 :]
                out.write(format_entry(Entry(now(), stream, False, piece)))
        out.flush()
    if buffer:
        out.write(format_entry(Entry(now(), stream, True, buffer)))
        out.flush()


class ContainerLogs:
    """The log files of one container of one pod sandbox (``<sandbox>/logs/<container>/``)."""

    def __init__(self, sandbox_directory: str | Path, container: str) -> None:
        self.directory = Path(sandbox_directory) / "logs" / container

    def path(self, instance: int) -> Path:
        return self.directory / f"{instance}.log"

    def instances(self) -> list[int]:
        """The instances with a log file, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(p.stem) for p in self.directory.glob("*.log") if p.stem.isdigit())

    def start(self, instance: int) -> Path:
        """The file of a new instance; drops all but the newest earlier one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        earlier = [i for i in self.instances() if i < instance]
        for old in earlier[:-1]:
            for suffix in (".log", ".stdout", ".stderr"):
                self.path(old).with_suffix(suffix).unlink(missing_ok=True)
        return self.path(instance)

    def current(self) -> Path | None:
        found = self.instances()
        return self.path(found[-1]) if found else None

    def previous(self) -> Path | None:
        found = self.instances()
        return self.path(found[-2]) if len(found) >= 2 else None
