"""Fixtures for the store tests: a fresh store file per test."""

from __future__ import annotations

import pytest

from skywarden.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "site.db")
    yield s
    s.close()
