"""nfacct messages: the request bytes the kernel expects, replies decoded (no kernel needed).

Layout from ``linux/netfilter/nfnetlink_acct.h``: nlmsghdr (16 bytes), nfgenmsg
(4), then NLA attributes padded to 4 bytes; the packet count is a big-endian u64.
"""

from __future__ import annotations

import errno
import struct

import pytest

from svclab.proxy.adapters.nfacct import NfacctError, decode_packets, encode_request
from svclab.proxy.adapters.testing.nfacct import FakeNfacct


def test_a_get_request_names_the_object() -> None:
    message = encode_request(1, "localhost_nps_accepted_pkts", seq=7, flags=0)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", message)
    assert (length, kind, flags, seq, pid) == (len(message), 7 << 8 | 1, 0x1, 7, 0)
    assert message[16:20] == b"\0\0\0\0"  # AF_UNSPEC, version 0, res_id 0
    size, attr = struct.unpack_from("=HH", message, 20)
    assert attr == 1 and message[24 : 20 + size] == b"localhost_nps_accepted_pkts\0"
    assert len(message) % 4 == 0


def _reply(*attrs: tuple[int, bytes]) -> bytes:
    body = b"\0\0\0\0" + b"".join(
        struct.pack("=HH", 4 + len(data), kind) + data + b"\0" * (-len(data) % 4) for kind, data in attrs
    )
    return struct.pack("=IHHII", 16 + len(body), 7 << 8 | 0, 0, 1, 0) + body


def test_the_packet_count_is_read_after_the_name() -> None:
    reply = _reply((1, b"ct_state_invalid_dropped_pkts\0"), (2, struct.pack(">Q", 2**40 + 5)), (3, b"\0" * 8))
    assert decode_packets(reply) == 2**40 + 5


def test_an_error_reply_raises_with_its_errno() -> None:
    reply = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -errno.ENOENT) + b"\0" * 16
    with pytest.raises(NfacctError) as caught:
        decode_packets(reply)
    assert caught.value.errno == errno.ENOENT


def test_a_reply_without_a_count_raises() -> None:
    with pytest.raises(NfacctError):
        decode_packets(_reply((1, b"x\0")))


def test_the_fake_counts_only_objects_that_exist() -> None:
    fake = FakeNfacct()
    with pytest.raises(NfacctError):
        fake.packets("a")
    fake.ensure("a")
    fake.counters["a"] += 3
    fake.ensure("a")  # existing: kept, like the kernel's EBUSY
    assert fake.packets("a") == 3
