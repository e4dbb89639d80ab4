"""SPDY/3.1 framing, the part ``kubectl port-forward`` uses (sans I/O).

kubectl (client-go ``tools/portforward``) speaks SPDY/3.1 to the server, since
1.31 tunnelled inside a WebSocket (subprotocol ``SPDY/3.1+portforward.k8s.io``,
each binary message a piece of the SPDY byte stream). Per forwarded
connection it opens two streams with SYN_STREAM, headers ``streamtype``
(``error`` or ``data``), ``port`` and ``requestid``; it waits for a SYN_REPLY
to each, pings the connection every 10 s, and half-closes a stream with a
FIN flag.

Frames (draft-mbelshe-spdy-00, version 3): a control frame starts with the
control bit, the version (3) and a 16-bit type, then 8 flag bits and a 24-bit
length; a data frame starts with a 31-bit stream id, then flags and length.
Header blocks are zlib streams - one per direction for the whole connection -
primed with the protocol's dictionary (:data:`HEADER_DICTIONARY`).

:class:`FrameReader` turns bytes into frames, :class:`HeaderCodec` holds the
two zlib streams, and the ``*_frame`` functions build frames. No I/O.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

__all__ = [
    "ControlFrame",
    "DataFrame",
    "FLAG_FIN",
    "FrameReader",
    "HEADER_DICTIONARY",
    "HeaderCodec",
    "PING",
    "RST_STREAM",
    "SETTINGS",
    "SYN_REPLY",
    "SYN_STREAM",
    "SpdyError",
    "WINDOW_UPDATE",
    "data_frame",
    "goaway_frame",
    "ping_frame",
    "rst_stream_frame",
    "syn_reply_frame",
]

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_LENGTH = (1 << 24) - 1
_STREAM_ID_MASK = 0x7FFFFFFF


def _dictionary() -> bytes:
    """The SPDY/3 header dictionary: length-prefixed common header names and values,
    then a tail of status lines, dates and media types, as the draft lists them."""
    # a word list reads better as text than as 65 quoted strings
    words = (  # noqa: SIM905
        "options head post put delete trace accept accept-charset accept-encoding accept-language "
        "accept-ranges age allow authorization cache-control connection content-base content-encoding "
        "content-language content-length content-location content-md5 content-range content-type date "
        "etag expect expires from host if-match if-modified-since if-none-match if-range "
        "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
        "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
        "user-agent vary via warning www-authenticate method get status"
    ).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
    codes = "100 101 201 202 205 206 300 302 303 304 305 306 307 402 405 406 407 408 409 410 411 412 413 "
    codes += "414 415 416 417 502 504 505"
    statuses = (
        "203 Non-Authoritative Information",
        "204 No Content",
        "301 Moved Permanently",
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "500 Internal Server Error",
        "501 Not Implemented",
        "503 Service Unavailable",
    )
    dates = "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    types = (
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
        "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
        "charset=iso-8859-1,utf-,*,enq=0."
    )
    head = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return head + (codes.replace(" ", "") + "".join(statuses) + dates + types).encode()


HEADER_DICTIONARY = _dictionary()


class SpdyError(ValueError):
    """The peer sent something that is not SPDY/3 (the connection cannot go on)."""


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)

    def stream_id(self) -> int:
        """The stream a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or WINDOW_UPDATE is about."""
        return int(struct.unpack_from(">I", self.payload)[0]) & _STREAM_ID_MASK

    def ping_id(self) -> int:
        return int(struct.unpack_from(">I", self.payload)[0])


@dataclass(slots=True)
class FrameReader:
    """Cuts a byte stream into frames; feed it whatever arrived, in order."""

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[DataFrame | ControlFrame]:
        self._buffer += data
        frames: list[DataFrame | ControlFrame] = []
        while len(self._buffer) >= 8:
            first, flags_length = struct.unpack_from(">II", self._buffer)
            length = flags_length & MAX_LENGTH
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = flags_length >> 24
            if first & 0x80000000:
                version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
                if version != VERSION:
                    raise SpdyError(f"SPDY version {version}; only {VERSION} is spoken here")
                frames.append(ControlFrame(kind, flags, payload))
            else:
                frames.append(DataFrame(first & _STREAM_ID_MASK, flags, payload))
        return frames


class HeaderCodec:
    """The two header zlib streams of one connection (one per direction)."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=HEADER_DICTIONARY)
        self._deflate = zlib.compressobj(zdict=HEADER_DICTIONARY)

    def decode(self, block: bytes) -> dict[str, list[str]]:
        """A received header block: lower-case names to values (NUL separates several)."""
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise SpdyError(f"header block does not inflate: {exc}") from exc
        try:
            (count,) = struct.unpack_from(">I", raw)
            offset, headers = 4, {}
            for _ in range(count):
                (size,) = struct.unpack_from(">I", raw, offset)
                name = raw[offset + 4 : offset + 4 + size].decode()
                offset += 4 + size
                (size,) = struct.unpack_from(">I", raw, offset)
                value = raw[offset + 4 : offset + 4 + size].decode()
                offset += 4 + size
                headers[name.lower()] = value.split("\x00")
        except (struct.error, UnicodeDecodeError) as exc:
            raise SpdyError(f"malformed header block: {exc}") from exc
        return headers

    def encode(self, headers: dict[str, list[str]]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, values in headers.items():
            value = "\x00".join(values).encode()
            raw += struct.pack(">I", len(name)) + name.lower().encode() + struct.pack(">I", len(value)) + value
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_stream(self, frame: ControlFrame) -> tuple[int, dict[str, list[str]]]:
        """(stream id, headers) of a SYN_STREAM (stream id, associated id, priority, slot, block)."""
        if frame.type != SYN_STREAM or len(frame.payload) < 10:
            raise SpdyError("not a SYN_STREAM frame")
        return frame.stream_id(), self.decode(frame.payload[10:])


def _control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def syn_reply_frame(codec: HeaderCodec, stream_id: int, headers: dict[str, list[str]], fin: bool = False) -> bytes:
    return _control(SYN_REPLY, FLAG_FIN if fin else 0, struct.pack(">I", stream_id) + codec.encode(headers))


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    if len(data) > MAX_LENGTH:
        raise ValueError("a data frame carries at most 16 MiB - 1")
    return struct.pack(">II", stream_id & _STREAM_ID_MASK, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


def ping_frame(ping_id: int) -> bytes:
    return _control(PING, 0, struct.pack(">I", ping_id))


def rst_stream_frame(stream_id: int, status: int) -> bytes:
    return _control(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def goaway_frame(last_stream_id: int, status: int = 0) -> bytes:
    return _control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
