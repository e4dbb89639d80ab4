"""Fixtures for svclab.kube unit tests: a fake clock and a fake client."""

from __future__ import annotations

import pytest

from svclab.kube.testing import FakeClient, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()
