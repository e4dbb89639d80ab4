"""``additionalPrinterColumns``: how ``kubectl get`` prints custom objects (side-effect-free).

As upstream's CRD table convertor: a ``Name`` column, then one column per
printer column (an ``Age`` column of ``.metadata.creationTimestamp`` when the
CRD declares none). Cells come from "simple" JSONPath (dotted fields, ``[N]``
indices and ``[?(@.field=="value")]`` filters); a missing value is a null cell;
integer, number and boolean columns hold JSON values of that type, date columns
a human age ("5m"), string columns the value as kubectl's JSONPath prints it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson

from ..printing.cells import parse_time, since
from .definitions import PrinterColumn

__all__ = ["column_definitions", "evaluate", "row_cells", "table_printer"]

_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow "
    "a client to request the generation of an appropriate name automatically."
)
_STEP = re.compile(r"""\.([^.\[]+)|\[(\d+)\]|\[\?\(@\.([\w.]+)\s*==\s*["']([^"']*)["']\)\]""")
_MISSING = object()


def _columns(columns: tuple[PrinterColumn, ...]) -> tuple[PrinterColumn, ...]:
    return columns or (_AGE,)


def column_definitions(columns: tuple[PrinterColumn, ...]) -> list[dict[str, Any]]:
    """The Table's columnDefinitions for a custom kind with these printer columns."""
    defs: list[dict[str, Any]] = [
        {"name": "Name", "type": "string", "format": "name", "description": _NAME_DESCRIPTION, "priority": 0}
    ]
    for c in _columns(columns):
        description = c.description or f"Custom resource definition column (in JSONPath format): {c.json_path}"
        defs.append(
            {"name": c.name, "type": c.type, "format": c.format, "description": description, "priority": c.priority}
        )
    return defs


def evaluate(obj: Any, path: str) -> Any:
    """The value at a simple JSONPath (``.a.b[0]``, with ``[?(@.k=="v")]`` filters), or
    ``_MISSING`` when some step finds nothing."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    value, pos = obj, 0
    while pos < len(path):
        step = _STEP.match(path, pos)
        if step is None:
            return _MISSING
        pos = step.end()
        field, index, key, wanted = step.groups()
        if field is not None:
            value = value.get(field, _MISSING) if isinstance(value, dict) else _MISSING
        elif index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else _MISSING
        else:
            found = (
                [v for v in value if isinstance(v, dict) and str(evaluate(v, "." + key)) == wanted]
                if isinstance(value, list)
                else []
            )
            value = found[0] if found else _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _cell(column: PrinterColumn, value: Any, now: dt.datetime) -> Any:
    if value is _MISSING or value is None:
        return None
    if column.type == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return orjson.dumps(value).decode()
    if column.type == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if column.type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if column.type == "boolean" and isinstance(value, bool):
        return value
    if column.type == "date" and isinstance(value, str):
        return since(value, now) if parse_time(value) else "<invalid>"
    return None


def row_cells(columns: tuple[PrinterColumn, ...], obj: dict[str, Any], now: dt.datetime) -> list[Any]:
    """One row's cells: the name, then each printer column's cell."""
    cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
    cells += [_cell(c, evaluate(obj, c.json_path), now) for c in _columns(columns)]
    return cells


def table_printer(columns: tuple[PrinterColumn, ...]) -> tuple[list[dict[str, Any]], Any]:
    """(column definitions, row printer) for ``printing.to_table``."""
    return column_definitions(columns), lambda obj, now: row_cells(columns, obj, now)
