"""Fixtures for the web service tests: a store, a live picture, tokens, an app."""

from __future__ import annotations

import pytest

from skywarden.store import Store
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

from .webhelpers import sensors, zone_a


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "site.db")
    yield s
    s.close()


@pytest.fixture
def live():
    return LiveState(sensors(), [zone_a()])


@pytest.fixture
def tokens(store):
    return {
        "viewer": store.create_token("viewer", "vera"),
        "operator": store.create_token("operator", "otto"),
    }


@pytest.fixture
def app(live, store):
    return create_app(live, store, WebConfig())
