"""When a mode's backend must rewrite everything it owns: one rule for every mode.

A backend sends the kernel only what changed, except on a *full sync*: the
first one, the one after a failed sync (what the kernel holds is then
unknown), and one the mode forces because its rules vanished (someone
flushed the tables) or an input changed for every Service (node labels).
Upstream keeps this ``needFullSync`` flag by hand in each proxier; here the
backends share ``FullSyncBookkeeping`` so the rule cannot drift between modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["FullSyncBookkeeping"]


@dataclass(kw_only=True)
class FullSyncBookkeeping:
    """Base of the ``ModeBackend`` dataclasses (its fields are keyword-only, after theirs).

    ``need_full_sync`` says the next sync must be full; ``last_sync_full`` says
    whether the latest one was (``ModeBackend.last_sync_full``).
    """

    need_full_sync: bool = True
    last_sync_full: bool = False

    def rules_missing(self) -> bool:
        """Whether someone removed what this mode installed (a firewall reload, ``nft flush``).

        A cheap kernel query, asked before each sync and by the Proxier's rules
        monitor between syncs; modes that can tell override it.
        """
        return False

    def begin_sync(self, *, force: bool = False) -> bool:
        """Decide whether this sync is full; records it in ``last_sync_full`` and returns it.

        ``rules_missing()`` is asked only while no full sync is due yet (it costs
        a kernel query). ``force`` makes this sync full.
        """
        if not self.need_full_sync and self.rules_missing():
            self.need_full_sync = True
        if force:
            self.need_full_sync = True
        self.last_sync_full = self.need_full_sync
        return self.last_sync_full

    @contextmanager
    def applying(self) -> Iterator[None]:
        """Wrap the step that changes the kernel: any exception makes the next sync full
        (and propagates); success means the next one need not be."""
        try:
            yield
        except Exception:
            self.need_full_sync = True
            raise
        self.need_full_sync = False
