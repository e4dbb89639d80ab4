"""nftables proxy mode: ``plan`` and ``base`` (pure rendering), ``proxier`` (applying), ``testing`` (fake)."""
