"""Extended accounting objects (``nfacct``) over nfnetlink, for iptables' ``-m nfacct``.

kube-proxy's iptables mode counts two kinds of packets with named nfacct
objects and reports them as metrics: NodePort connections accepted on
127.0.0.1 (``localhost_nps_accepted_pkts`` ->
``kubeproxy_iptables_localhost_nodeports_accepted_packets_total``) and packets
dropped as conntrack INVALID (``ct_state_invalid_dropped_pkts``). A rule may
only name an object that exists, so the proxy creates them first and writes
the ``-m nfacct`` matches only when that worked. The objects live in the
network namespace (a node's, here).

The message layout (``linux/netfilter/nfnetlink_acct.h``): an nlmsghdr whose
type is ``NFNL_SUBSYS_ACCT << 8 | NFNL_MSG_ACCT_NEW/GET``, a 4-byte nfgenmsg,
then attributes ``NFACCT_NAME`` (string), ``NFACCT_PKTS`` and ``NFACCT_BYTES``
(big-endian u64). ``encode_request`` and ``decode_packets`` are pure; the
``NetlinkNfacct`` shell sends and receives. The fake is
``svclab.proxy.adapters.testing.nfacct``.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Protocol

__all__ = ["NetlinkNfacct", "Nfacct", "NfacctError", "decode_packets", "encode_request"]

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ACCT = 7
NFNL_MSG_ACCT_NEW, NFNL_MSG_ACCT_GET = 0, 1
NFACCT_NAME, NFACCT_PKTS = 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE = 0x1, 0x4, 0x400
NLMSG_ERROR = 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_NFGEN = struct.Struct("=BBH")  # nfgenmsg: family, version, res_id (big-endian, 0 here)
_ATTR = struct.Struct("=HH")


class NfacctError(OSError):
    """The kernel refused an nfacct request (no ``nfnetlink_acct`` module, no permission)."""


class Nfacct(Protocol):
    """What the iptables mode needs of nfacct."""

    def ensure(self, name: str) -> None:
        """Create the object ``name`` unless it exists; raises ``NfacctError``."""
        ...

    def packets(self, name: str) -> int:
        """The packets counted so far by ``name``; raises ``NfacctError``."""
        ...


def _attr(kind: int, payload: bytes) -> bytes:
    padded = payload + b"\0" * (-len(payload) % 4)
    return _ATTR.pack(_ATTR.size + len(payload), kind) + padded


def encode_request(message: int, name: str, *, seq: int, flags: int) -> bytes:
    """One nfacct request (NEW or GET) for object ``name``. Side-effect-free."""
    body = _NFGEN.pack(socket.AF_UNSPEC, 0, 0) + _attr(NFACCT_NAME, name.encode() + b"\0")
    kind = NFNL_SUBSYS_ACCT << 8 | message
    return _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0) + body


def decode_packets(reply: bytes) -> int:
    """The ``NFACCT_PKTS`` of the first message of ``reply``; raises ``NfacctError`` for an
    error message or a reply without the attribute. Side-effect-free."""
    length, kind, _flags, _seq, _pid = _HEADER.unpack_from(reply)
    if kind == NLMSG_ERROR:
        (code,) = struct.unpack_from("=i", reply, _HEADER.size)
        raise NfacctError(-code, os.strerror(-code))
    offset = _HEADER.size + _NFGEN.size
    while offset + _ATTR.size <= length:
        size, attr = _ATTR.unpack_from(reply, offset)
        if size < _ATTR.size:
            break
        if attr & 0x3FFF == NFACCT_PKTS:
            (packets,) = struct.unpack_from(">Q", reply, offset + _ATTR.size)
            return int(packets)
        offset += size + (-size % 4)
    raise NfacctError(errno.EPROTO, "nfacct reply without a packet count")


class NetlinkNfacct:
    """nfacct through an nfnetlink socket in the calling process's network namespace."""

    def __init__(self) -> None:
        self._seq = 0

    def _request(self, message: int, name: str, flags: int) -> bytes:
        self._seq += 1
        try:
            with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
                sock.settimeout(2.0)
                sock.sendto(encode_request(message, name, seq=self._seq, flags=flags), (0, 0))
                return sock.recv(65536)
        except OSError as exc:
            raise NfacctError(exc.errno or errno.EIO, f"nfacct {name}: {exc}") from exc

    def ensure(self, name: str) -> None:
        reply = self._request(NFNL_MSG_ACCT_NEW, name, NLM_F_CREATE | NLM_F_ACK)
        _length, kind, *_ = _HEADER.unpack_from(reply)
        if kind != NLMSG_ERROR:
            return
        (code,) = struct.unpack_from("=i", reply, _HEADER.size)
        if code not in (0, -errno.EBUSY, -errno.EEXIST):  # EBUSY: it exists already
            raise NfacctError(-code, f"nfacct {name}: {os.strerror(-code)}")

    def packets(self, name: str) -> int:
        return decode_packets(self._request(NFNL_MSG_ACCT_GET, name, 0))
