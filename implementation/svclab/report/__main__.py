"""``python -m svclab.report RESULTS_DIR [OUT_DIR]``: render ``OUT_DIR/index.html``.

OUT_DIR defaults to RESULTS_DIR.  Prints the path of the written page.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .render import render_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svclab.report", description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("out_dir", type=Path, nargs="?")
    args = parser.parse_args(argv)
    if not args.results_dir.is_dir():
        parser.error(f"{args.results_dir}: not a directory")
    try:
        index = render_report(args.results_dir, args.out_dir or args.results_dir)
    except ValueError as err:  # a malformed results file, named in the message
        print(f"svclab report: {err}", file=sys.stderr)
        return 1
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
