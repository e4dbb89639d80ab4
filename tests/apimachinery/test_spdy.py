"""SPDY/3.1 framing as kubectl's port-forward uses it.

The dictionary's facts (1423 bytes, zlib id 0xe3c6a7c2) are what a zlib
stream primed by Go's SPDY package names in its header; a wrong dictionary
would make every SYN_STREAM from kubectl fail to inflate.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from svclab.apimachinery import spdy


def _syn_stream(stream_id: int, block: bytes) -> bytes:
    payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + block
    return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, len(payload)) + payload


def test_dictionary_is_spdy3s() -> None:
    assert len(spdy.HEADER_DICTIONARY) == 1423
    assert zlib.adler32(spdy.HEADER_DICTIONARY) == 0xE3C6A7C2
    assert spdy.HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.HEADER_DICTIONARY.endswith(b"utf-,*,enq=0.")


def test_reader_cuts_frames_across_feeds() -> None:
    wire = spdy.data_frame(3, b"hello") + spdy.ping_frame(7) + spdy.data_frame(3, b"", fin=True)
    reader = spdy.FrameReader()
    frames = reader.feed(wire[:5]) + reader.feed(wire[5:17]) + reader.feed(wire[17:])
    assert frames[0] == spdy.DataFrame(3, 0, b"hello")
    assert isinstance(frames[1], spdy.ControlFrame) and frames[1].type == spdy.PING and frames[1].ping_id() == 7
    assert isinstance(frames[2], spdy.DataFrame) and frames[2].fin and frames[2].data == b""


def test_syn_stream_headers_decode_with_one_zlib_stream_per_connection() -> None:
    codec = spdy.HeaderCodec()
    deflate = zlib.compressobj(zdict=spdy.HEADER_DICTIONARY)
    seen = []
    for stream_id, kind in ((1, "error"), (3, "data")):
        raw = struct.pack(">I", 3)
        for name, value in (("streamtype", kind), ("port", "80"), ("requestid", "0")):
            raw += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
        block = deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)  # the second depends on the first
        (frame,) = spdy.FrameReader().feed(_syn_stream(stream_id, block))
        assert isinstance(frame, spdy.ControlFrame)
        seen.append(codec.syn_stream(frame))
    assert seen == [
        (1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}),
        (3, {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}),
    ]


def test_syn_reply_inflates_on_the_other_side() -> None:
    codec = spdy.HeaderCodec()
    replies = [spdy.syn_reply_frame(codec, sid, {"x": ["1", "2"]}) for sid in (1, 3)]
    inflate = zlib.decompressobj(zdict=spdy.HEADER_DICTIONARY)
    for sid, wire in zip((1, 3), replies):
        (frame,) = spdy.FrameReader().feed(wire)
        assert isinstance(frame, spdy.ControlFrame) and frame.type == spdy.SYN_REPLY and frame.stream_id() == sid
        raw = inflate.decompress(frame.payload[4:])
        assert raw == struct.pack(">II", 1, 1) + b"x" + struct.pack(">I", 3) + b"1\x002"


def test_a_foreign_dictionary_is_refused() -> None:
    deflate = zlib.compressobj(zdict=b"another dictionary")
    block = deflate.compress(struct.pack(">I", 0)) + deflate.flush(zlib.Z_SYNC_FLUSH)
    (frame,) = spdy.FrameReader().feed(_syn_stream(1, block))
    assert isinstance(frame, spdy.ControlFrame)
    with pytest.raises(spdy.SpdyError):
        spdy.HeaderCodec().syn_stream(frame)


def test_other_versions_are_refused() -> None:
    with pytest.raises(spdy.SpdyError):
        spdy.FrameReader().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\x00\x00\x00\x01")


def test_frame_layouts() -> None:
    assert spdy.data_frame(5, b"ab", fin=True) == b"\x00\x00\x00\x05\x01\x00\x00\x02ab"
    assert spdy.ping_frame(1) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
    assert spdy.rst_stream_frame(3, 5) == b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00\x05"
    assert spdy.goaway_frame(9) == b"\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x09\x00\x00\x00\x00"
