"""nftables proxy mode: ``plan`` and ``base`` (pure rendering), ``proxier`` (applying), ``dump``, ``mode``.

Its fake and packet tracer are the nft adapter's (``svclab.proxy.adapters.testing``).
"""
