"""Logging set-up shared by the local provider's own components (node agent, scheduler)."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

#: HTTP client loggers that would otherwise write one line per API request
_NOISY = ("httpx", "httpx2", "httpcore")


def configure_logging(verbose: bool) -> None:
    """Timestamped lines at INFO (DEBUG when ``verbose``), without per-request client lines."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
