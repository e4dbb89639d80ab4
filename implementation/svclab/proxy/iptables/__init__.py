"""iptables proxy mode: ``plan`` (pure rendering), ``proxier`` (applying), ``dump``, ``mode``.

Its fake and packet tracer are the iptables adapter's (``svclab.proxy.adapters.testing``).
"""
