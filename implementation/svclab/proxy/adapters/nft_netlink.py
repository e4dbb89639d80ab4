"""Ask the kernel whether an nf_tables chain exists, over nfnetlink, without starting a process.

The iptables mode asks before every sync whether its ``KUBE-PROXY-CANARY``
chains still exist (``IptablesProxier.rules_missing``): three ``iptables -S``
processes, 5-15 ms on a busy 2-core node, against a partial sync whose own
floor is the kernel's validation walk (issue 16). With the nf_tables backend
of iptables, its chains are nf_tables chains of the tables ``ip filter``,
``ip nat``, ``ip mangle``, so one ``NFT_MSG_GETCHAIN`` request per chain answers
the same question in well under a millisecond. The request is read-only.

The nftables mode's canary asks whether a chain holds a rule
(``SubprocessNft.has_rules``); ``nft list chain`` loads the table's sets and
maps first (about a second at 3,000 Services here), while a rule dump filtered
to that one chain (``chain_has_rules``) returns one message.

Both return None when they cannot tell (no netlink socket, an unexpected
answer): the caller then asks the tool as before.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

__all__ = [
    "NFPROTO_IPV4",
    "NFPROTO_IPV6",
    "chain_exists",
    "chain_has_rules",
    "getchain_request",
    "getrule_dump_request",
    "parse_reply",
    "parse_rule_dump",
]

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETCHAIN = 4
NFT_MSG_NEWCHAIN = 3  # the kind of message a GETCHAIN is answered with
NFT_MSG_NEWRULE, NFT_MSG_GETRULE = 6, 7
NFTA_CHAIN_TABLE = 1
NFTA_CHAIN_NAME = 3
NFTA_RULE_TABLE, NFTA_RULE_CHAIN = 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 0x2, 0x3
NFPROTO_IPV4, NFPROTO_IPV6 = 2, 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id


def _attribute(kind: int, text: str) -> bytes:
    payload = text.encode() + b"\0"
    body = struct.pack("=HH", 4 + len(payload), kind) + payload
    return body + b"\0" * (-len(body) % 4)


def getchain_request(family: int, table: str, chain: str, sequence: int = 1) -> bytes:
    """The netlink message asking for one chain. Side-effect-free."""
    body = struct.pack("=BBH", family, 0, 0) + _attribute(NFTA_CHAIN_TABLE, table) + _attribute(NFTA_CHAIN_NAME, chain)
    kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN
    return _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, sequence, 0) + body


def getrule_dump_request(family: int, table: str, chain: str, sequence: int = 1) -> bytes:
    """The netlink message dumping the rules of one chain only. Side-effect-free."""
    body = struct.pack("=BBH", family, 0, 0) + _attribute(NFTA_RULE_TABLE, table) + _attribute(NFTA_RULE_CHAIN, chain)
    kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE
    return _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0) + body


def parse_rule_dump(data: bytes) -> tuple[bool | None, bool]:
    """(whether a rule was seen: True, False at the end of an empty dump, None if unknown; whether
    the dump ended) for one batch of the kernel's answer to ``getrule_dump_request``. Side-effect-free."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            return None, True
        if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE:
            return True, True
        if kind == NLMSG_DONE:
            return False, True  # no rule: the chain is empty, or it or its table is gone
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
            return (False if -code == errno.ENOENT else None), True
        offset += (length + 3) & ~3
    return None, False


def parse_reply(data: bytes) -> bool | None:
    """Whether the kernel's answer to ``getchain_request`` holds the chain; None if it is not
    an answer we know (the caller asks the tool instead). Side-effect-free."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            return None
        if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN:
            return True
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
            if code == 0:  # the acknowledgement after the chain, or of nothing
                return None
            # no such table, or no such chain in it
            return False if -code == errno.ENOENT else None
        offset += (length + 3) & ~3
    return None


def chain_exists(family: int, table: str, chain: str) -> bool | None:
    """Ask this network namespace's kernel; None when the answer cannot be had (see the module)."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
            sock.settimeout(2.0)
            sock.bind((0, 0))
            sock.send(getchain_request(family, table, chain, sequence=os.getpid() & 0xFFFF))
            return parse_reply(sock.recv(65536))
    except OSError:
        return None


def chain_has_rules(family: int, table: str, chain: str) -> bool | None:
    """Whether ``chain`` of ``table`` holds a rule, asked in this network namespace; None when
    the answer cannot be had (see the module)."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
            sock.settimeout(2.0)
            sock.bind((0, 0))
            sock.send(getrule_dump_request(family, table, chain, sequence=os.getpid() & 0xFFFF))
            while True:
                answer, ended = parse_rule_dump(sock.recv(65536))
                if ended:
                    return answer
    except OSError:
        return None
