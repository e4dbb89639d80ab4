"""CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom resources they serve.

* ``definitions`` - a CRD's defaults, validation, status conditions and what it serves (pure).
* ``schema``      - structural-schema pruning, defaulting and validation of custom objects (pure).
* ``printing``    - ``additionalPrinterColumns`` as Table columns and cells (pure).
* ``controller``  - the after-write hook that starts and stops serving custom kinds.
"""

from typing import Any

from .controller import CRD_KIND, custom_kind_of, install
from .definitions import CustomKind, PrinterColumn, ScalePaths
from .printing import table_printer as _table_printer

__all__ = ["CRD_KIND", "CustomKind", "PrinterColumn", "ScalePaths", "custom_kind_of", "install", "table_printer"]


def table_printer(kind: str) -> tuple[list[dict[str, Any]], Any] | None:
    """Columns and row printer of a custom kind for ``printing.to_table``; None for other kinds."""
    served = custom_kind_of(kind)
    return _table_printer(served.columns) if served is not None else None
