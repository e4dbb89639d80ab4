"""iptables proxy mode: ``plan`` (pure rendering), ``proxier`` (applying), ``testing`` (fake)."""
