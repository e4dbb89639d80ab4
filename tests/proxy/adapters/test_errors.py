"""The adapters' one error tree: which line a tool blames, and the quote of it with context."""

from __future__ import annotations

import pytest

from svclab.proxy.adapters.errors import (
    AdapterError,
    IpsetRestoreError,
    IptablesRestoreError,
    NftError,
    RestoreError,
    failing_line_number,
    quote_failing_line,
)


@pytest.mark.parametrize(
    ("stderr", "line"),
    [
        ("iptables-restore v1.8.9 (nf_tables): line 3 failed", 3),
        ("Error occurred at line: 4\nTry `iptables-restore -h' for more information.", 4),
        ("ipset v7.17: Error in line 5: The set with the given name does not exist", 5),
        ("/dev/stdin:6:12-20: Error: No such file or directory", 6),
        ("iptables-restore: unable to initialize table 'nat'", 0),
    ],
)
def test_the_blamed_line_is_found_in_each_tools_words(stderr: str, line: int) -> None:
    assert failing_line_number(stderr) == line


def test_the_quote_has_two_lines_on_each_side() -> None:
    data = "\n".join(f"line{n}" for n in range(1, 8))
    assert quote_failing_line(data, 4) == "  2: line2\n  3: line3\n> 4: line4\n  5: line5\n  6: line6"
    assert quote_failing_line(data, 1) == "> 1: line1\n  2: line2\n  3: line3"
    assert quote_failing_line(data, 0) == quote_failing_line(data, 9) == ""


@pytest.mark.parametrize("cls", [IptablesRestoreError, IpsetRestoreError, NftError])
def test_every_restore_error_is_one_class_tree_with_one_signature(cls: type[RestoreError]) -> None:
    error = cls("tool failed: bad", "a\nb\nc", 2)
    assert isinstance(error, RestoreError) and isinstance(error, AdapterError) and isinstance(error, RuntimeError)
    assert str(error) == "tool failed: bad\n  1: a\n> 2: b\n  3: c" and error.line == 2
    assert str(cls("tool failed", "a")) == "tool failed"
