"""Cell text shared by every kind's printer: ages, missing values, labels, addresses, lists.

Ages use upstream's ``HumanDuration`` (``5s``, ``3m20s``, ``2d3h``) measured from
an injected ``now``, so output is reproducible. All functions are side-effect-free.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

__all__ = [
    "Cells",
    "LIST_MAX",
    "NONE",
    "Obj",
    "UNKNOWN",
    "UNSET",
    "format_labels",
    "human_duration",
    "join_host_port",
    "list_with_more",
    "parse_time",
    "since",
]

Obj = dict[str, Any]
Cells = list[Any]  # one row's cells, in its kind's column order

# What upstream prints for missing values, and its list truncation.
NONE = "<none>"
UNKNOWN = "<unknown>"
UNSET = "<unset>"
LIST_MAX = 3  # formatEndpoints & co. show three entries, then "+ N more..."


def human_duration(delta: dt.timedelta) -> str:
    """Upstream ``duration.HumanDuration``: about two significant figures."""
    seconds = int(delta.total_seconds())  # truncates toward zero, as Go's int() does
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def since(value: Any, now: dt.datetime) -> str:
    """Upstream translateTimestampSince: ``<unknown>`` for a missing timestamp."""
    when = parse_time(value)
    return UNKNOWN if when is None else human_duration(now - when)


def format_labels(labels: dict[str, str] | None) -> str:
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def join_host_port(host: str, port: Any) -> str:
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = ":" in host
    return f"[{host}]:{port}" if is_v6 else f"{host}:{port}"


def list_with_more(items: list[str], total: int, empty: str) -> str:
    text = ",".join(items[:LIST_MAX])
    if total > LIST_MAX:
        return f"{text} + {total - LIST_MAX} more..."
    return text or empty
