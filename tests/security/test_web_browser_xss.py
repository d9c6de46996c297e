"""Hostile names in a real browser (Debian's Chromium via Playwright): zone names,
sensor ids, track ids, identities, classes, alert ids and reasons and a token holder's
name are shown as literal text and never run. On 06ae315 a zone named
``<img src=x onerror=alert(1)>`` ran for every viewer, and the same payload as a
sensor id (declared on the token-less JSON Lines port) ran on hover."""

from __future__ import annotations

from pathlib import Path

import pytest

from skywarden.types import AlertLine, ScanOutput, Sensor, Zone
from tests.web.webhelpers import T0, launch_chromium, loopback_only, serving, track_line, web_site

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"
    ),
]

ZONE_NAME = "<img src=x onerror=alert(1)><b id=xss-zone>Z</b>"
SENSOR_ID = "<img src=x onerror=\"window.__xss='sensor'\">"
TRACK_ID = "<svg onload=\"window.__xss='track'\"></svg>T9"
IDENTITY = "<script>window.__xss='identity'</script>"
CLASS = "<img src=x onerror=\"window.__xss='class'\">"
ALERT_ID = '"><img src=x onerror="window.__xss=\'alert\'">'
REASON = "<iframe srcdoc=\"<script>parent.__xss='reason'</script>\"></iframe>"
HOLDER = "<img src=x onerror=\"window.__xss='holder'\">"


# Opaque pixels of the "unknown" class's grey on the map's track canvas.
GREY_PIXELS = """
() => {
  const c = document.querySelector("canvas.skywarden-tracks");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] === 160 && d[i + 1] === 168 && d[i + 2] === 180 && d[i + 3] === 255) n++;
  }
  return n;
}
"""


@pytest.fixture
def hostile(tmp_path):
    site = web_site(tmp_path / "site.db")
    site.live.set_zones(
        [
            Zone(
                id="ZX", name=ZONE_NAME, floor_m=0.0, ceiling_m=500.0,
                polygon=[(-0.125, 51.498), (-0.115, 51.498), (-0.115, 51.502), (-0.125, 51.502)],
            )
        ]
    )  # fmt: skip
    # What the service does with a sensor line from the JSON Lines port.
    site.live.add_sensor(
        Sensor(id=SENSOR_ID, kind="radar", lat=51.501, lon=-0.118, alt_m=40.0, max_range_m=800.0)
    )
    token = site.store.create_token("operator", HOLDER)
    with serving(site.app) as url:
        yield site, url, token
    site.store.close()


def _hostile_scan() -> ScanOutput:
    tl = track_line(TRACK_ID, T0, -300.0, 0.0)
    tl = type(tl)(**{**{f: getattr(tl, f) for f in tl.__struct_fields__},
                     "class_": CLASS, "class_p": {CLASS: 1.0}, "identity": {"remoteid": IDENTITY}})  # fmt: skip
    threat = AlertLine(
        t=T0, id=ALERT_ID, level="critical", state="raised", kind="threat", track=TRACK_ID,
        zone="ZX", tta_s=60.0, entry_lat=51.5, entry_lon=-0.125, class_=CLASS,
    )  # fmt: skip
    sensor = AlertLine(
        t=T0, id="S-1", level="warning", state="raised", kind="sensor", sensor=SENSOR_ID,
        reason=REASON,
    )  # fmt: skip
    # A class naming an inherited property draws as "unknown", not as Object's constructor.
    proto = track_line("T8", T0, 300.0, 200.0, cls="constructor")
    return ScanOutput(t_s=T0, tracks=(tl, proto), alerts=(threat, sensor))


def test_hostile_names_are_shown_as_text_and_never_run(hostile):
    playwright = pytest.importorskip("playwright.sync_api")
    site, url, token = hostile
    blocked: list[str] = []
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            loopback_only(page, blocked)
            dialogs: list[str] = []
            errors: list[str] = []
            refused: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
            )
            response = page.goto(url)
            assert "script-src 'self'" in response.headers["content-security-policy"]
            assert response.headers["x-frame-options"] == "DENY"

            page.wait_for_selector("#login:not([hidden])")
            page.fill("#login-token", token)
            page.click("#login button[type=submit]")
            page.wait_for_selector("#conn.up")
            assert page.inner_text("#who") == f"{HOLDER} (operator)"
            # The token is in an HttpOnly cookie: nothing on the page can read it.
            assert page.evaluate("document.cookie") == ""
            assert (
                page.evaluate("JSON.stringify(sessionStorage) + JSON.stringify(localStorage)")
                == "{}{}"
            )

            zone_label = page.wait_for_selector(".zone-label")
            assert zone_label.text_content() == ZONE_NAME

            site.live.apply(_hostile_scan())
            track_label = page.wait_for_selector(".leaflet-tooltip:has-text('T9')")
            assert track_label.text_content().startswith(f"{TRACK_ID} {CLASS}")

            alerts = page.locator("li.alert")
            alerts.first.wait_for()
            page.wait_for_function("document.querySelectorAll('li.alert').length === 2")
            texts = alerts.all_text_contents()
            # The alert list names the zone by its (hostile) name and its id, as text.
            assert any(
                f"{CLASS} {TRACK_ID} → {ZONE_NAME} (ZX)" in t and ALERT_ID in t for t in texts
            ), texts
            assert any(f"Sensor {SENSOR_ID}: {REASON}" in t for t in texts), texts

            page.wait_for_selector(".leaflet-tooltip:has-text('T8 constructor')")
            # Both odd classes are counted, and drawn, as unknown (grey on the canvas).
            assert page.inner_text(".filters label[data-class='unknown'] .n") == "2"
            assert page.evaluate(GREY_PIXELS) > 0

            # Hover the sensor: its tooltip shows the id as text.
            page.hover("path.leaflet-interactive[stroke='#000']")
            tip = page.wait_for_selector(".leaflet-tooltip:has-text('(radar)')")
            assert (
                tip.text_content() == f"{SENSOR_ID} (radar) — unknown"
                or tip.text_content().startswith(f"{SENSOR_ID} (radar)")
            )

            # Acknowledge (the holder's name comes back in the ack line), open the track.
            threat = page.locator("li.alert.critical")
            threat.locator(".ack").click()
            page.wait_for_selector("li.alert.acked .ackline")
            assert f"acknowledged by {HOLDER}" in threat.locator(".ackline").text_content()
            threat.click()
            page.wait_for_selector("#track-panel:not([hidden])")
            assert page.text_content("#track-title") == TRACK_ID
            facts = page.text_content("#track-facts")
            assert f"remoteid {IDENTITY}" in facts and CLASS in facts
            assert CLASS in page.text_content("#track-classes")

            # Nothing ran, nothing was parsed as markup, and CSP had nothing to block.
            assert page.evaluate("window.__xss") is None
            assert dialogs == []
            for sel in ("img[src='x']", "iframe", "svg[onload]", "#xss-zone", "#side script"):
                assert page.locator(sel).count() == 0, sel
            assert refused == []
            assert errors == []
        finally:
            browser.close()
    assert blocked == []
