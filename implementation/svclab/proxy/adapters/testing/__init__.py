"""Fakes of the system adapters, one module per adapter, and the packet tracers over them.

Like upstream's ``pkg/util/iptables/testing``: ``iptables.FakeIptables``,
``nft.FakeNft``, ``ipset.FakeIpset`` and ``ipvs_netlink.FakeIpvs`` record
what they are asked and model the resulting kernel state, with the kernel's
checks; a mode's tests build its backend through the real constructor with
these injected. ``trace`` holds the one packet-tracer protocol,
``trace_iptables`` and ``trace_nft`` its interpreters over the fakes, so the
same packet-flow cases run on every mode. Nothing outside tests (and the
modes' own ``testing`` helpers) imports this package.

One module per fake rather than one ``testing.py``: each fake pairs with its
adapter by name, stays well under 500 lines, and a mode's tests import only
the fakes of the adapters that mode uses.
"""
