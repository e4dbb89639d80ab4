"""svclab.report's public API is complete and sorted."""

import svclab.report as report


def test_all_is_sorted_and_resolves() -> None:
    assert report.__all__ == sorted(report.__all__)
    for name in report.__all__:
        assert hasattr(report, name), name
