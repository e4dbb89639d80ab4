"""The system adapters of the proxy modes, one module per kernel interface, each with its fake.

* ``iptables``: ``iptables-restore``/``-save`` and single rules (iptables,
  ipvs and userspace modes);
* ``nft``: one ``nft -f`` transaction per sync (nftables mode);
* ``ipset``: ``ipset restore`` (ipvs mode);
* ``ipvs_netlink``: IPVS virtual/real servers, the dummy device, addresses
  and sysctls over netlink (ipvs mode), with IPVS's value types.

Modes compose these instead of talking to the kernel themselves (the ipvs
mode uses three). ``errors`` holds the one error tree; ``testing`` the
fakes (``testing.iptables`` fakes ``iptables`` and so on) and the packet
tracers. Adapters know no mode: whatever names a mode's objects is passed in.
"""

from svclab.proxy.adapters.errors import (
    AdapterError,
    IpsetRestoreError,
    IptablesRestoreError,
    NftError,
    RestoreError,
)

__all__ = ["AdapterError", "IpsetRestoreError", "IptablesRestoreError", "NftError", "RestoreError"]
