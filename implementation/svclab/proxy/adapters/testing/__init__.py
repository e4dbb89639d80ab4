"""Fakes of the system adapters, one module per adapter, and the packet tracers over them.

Like upstream's ``pkg/util/iptables/testing``: ``iptables.FakeIptables``,
``nft.FakeNft``, ``ipset.FakeIpset`` and ``ipvs_netlink.FakeIpvsNetlink`` record what they are asked and model the
resulting kernel state, with the kernel's checks; a mode's tests build its
backend through the real constructor with these injected. ``trace`` holds
the one packet-tracer protocol and its interpreters over the fakes, so the
same packet-flow cases run on every mode. Nothing outside tests imports
this package.
"""
