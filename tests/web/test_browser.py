"""The map in a real browser (Debian's Chromium via Playwright): track, alert, acknowledge."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from skywarden.types import ScanOutput
from skywarden.web import WebConfig, create_app

from .webhelpers import (
    T0,
    alert,
    launch_chromium,
    loopback_only,
    moving_scans,
    require_browser,
    serving,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.slow]


@pytest.fixture
def server(live, store):
    """The app on a free 127.0.0.1 port, served by uvicorn in a background thread."""
    with serving(create_app(live, store, WebConfig())) as url:
        yield url


def test_map_shows_track_and_alert_and_acknowledges(server, live, store, tokens):
    playwright = require_browser()
    blocked: list[str] = []
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            loopback_only(page, blocked)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            # No token yet: the page asks for one and shows no data.
            page.wait_for_selector("#login:not([hidden])")
            page.fill("#login-token", tokens["operator"])
            page.click("#login button[type=submit]")
            page.wait_for_selector("#conn.up")
            page.wait_for_selector("#who:has-text('otto (operator)')")

            scans = moving_scans(8, t0=T0, dt_s=1.0)
            for s in scans:
                live.apply(s)
                store.write_scan(s)
            page.wait_for_selector(".leaflet-tooltip:has-text('T1 drone')")
            page.wait_for_selector(".leaflet-tooltip:has-text('T2 bird')")
            page.wait_for_selector(".leaflet-tooltip:has-text('Zone A')")
            # A site's map has no region's controls: no site panel, filter or label stripe.
            assert page.locator("#sites-panel").is_hidden()
            assert page.locator(".filters fieldset.sites").count() == 0
            assert page.locator(".track-label.site").count() == 0

            raised = ScanOutput(t_s=T0 + 8, tracks=scans[-1].tracks, alerts=(alert("A1", T0 + 8),))
            live.apply(raised)
            store.write_scan(raised)
            item = page.wait_for_selector("li.alert.critical[data-alert='A1']")
            assert "T1" in item.inner_text() and "ZA" in item.inner_text()
            assert "1:" in page.inner_text("[data-tta='A1']")  # 90 s counts down from 1:30

            page.click("li[data-alert='A1'] .ack")
            page.wait_for_selector("li.alert.acked[data-alert='A1'] .ackline")
            assert store.acknowledged_ids() == {"A1"}
            assert store.acks()[0].by == "otto"

            # Click the track: the detail panel shows its class probabilities.
            page.click("li[data-alert='A1']")
            page.wait_for_selector("#track-panel:not([hidden]) .bar:has-text('drone')")

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "map.png"))
            assert errors == []
        finally:
            browser.close()
    assert all(urlparse(u).hostname != "127.0.0.1" for u in blocked)
