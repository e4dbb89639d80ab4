"""The hash upstream puts in chain names: base32(sha256(text)), cut to a length.

The iptables mode cuts it to 16 characters (``KUBE-SVC-XPGD46QRK7WJZT7O``,
upstream ``servicePortChainName``), the nftables mode to 8
(``service-ULMVA6XW-ns1/svc1/tcp/p80``, upstream ``hashAndTruncate``).
Side-effect-free.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["hash16", "hash8"]


def _hash(text: str, length: int) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:length]


def hash16(text: str) -> str:
    """The first 16 characters (the iptables mode's chain names)."""
    return _hash(text, 16)


def hash8(text: str) -> str:
    """The first 8 characters (the nftables mode's chain names)."""
    return _hash(text, 8)
