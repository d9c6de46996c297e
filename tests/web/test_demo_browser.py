"""`skywarden demo`, the README's main command, in a real browser: moving tracks and an alert within 60 s."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.service_helpers import start_on_free_port

from .webhelpers import launch_chromium, loopback_only, require_browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.slow]


def test_demo_shows_moving_tracks_and_an_alert_within_60_s(tmp_path):
    playwright = require_browser()
    exe = Path(sys.executable).with_name("skywarden")
    # The demo prints its facts as one JSON document before it serves.
    proc, port, facts = start_on_free_port(
        lambda port: [str(exe), "demo", "--port", str(port), "--db", str(tmp_path / "demo.db"),
                      "--json"],
        "the demo", tmp_path / "demo.log",
    )  # fmt: skip
    blocked: list[str] = []
    try:
        assert facts["url"] == f"http://127.0.0.1:{port}/" and facts["viewer_token"]
        with playwright.sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 850})
                loopback_only(page, blocked)
                # The server may still be binding: the page load retries until it answers.
                for _ in range(50):
                    try:
                        page.goto(facts["url"], timeout=2_000)
                        break
                    except playwright.Error:
                        page.wait_for_timeout(200)
                # The demo page is signed in (a local viewer session): no login.
                page.wait_for_selector("#conn.up", timeout=15_000)
                first = page.wait_for_selector(".leaflet-tooltip:has-text('drone')", timeout=60_000)
                label = first.inner_text()
                tid = label.split()[0]
                page.wait_for_selector("li.alert", timeout=60_000)
                # The same track ten seconds later is somewhere else: it moves.
                box0 = page.locator(f".leaflet-tooltip:has-text('{tid} ')").first.bounding_box()
                page.wait_for_timeout(10_000)
                box1 = page.locator(f".leaflet-tooltip:has-text('{tid} ')").first.bounding_box()
                assert box0 is not None and box1 is not None
                assert (box0["x"], box0["y"]) != (box1["x"], box1["y"])
                assert re.search(r"\d+:\d\d", page.inner_text("li.alert"))
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "demo.png"))
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert blocked == [] or all(urlparse(u).hostname != "127.0.0.1" for u in blocked)
