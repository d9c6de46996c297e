"""The map with thousands of tracks, in a real browser (Debian's Chromium): 2,000 tracks
drawn on one canvas with a count per class that matches what the server sent, a class
filter that takes that class's pixels off the canvas, labels only on hover, selection
and alert, a swarm's alerts for one zone as one group that opens to each alert, and
markup in a track id or a zone name shown as text."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import numpy as np
import pytest

from skywarden.types import AlertLine, ScanOutput, TrackLine, Zone
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

from .webhelpers import (
    T0,
    launch_chromium,
    loopback_only,
    require_browser,
    sensors,
    serving,
    track_line,
    zone_a,
)

pytestmark = [pytest.mark.slow]

#: What the canvas draws each class's symbols in (tracklayer.js), as RGB.
CLASS_RGB = {
    "drone": (255, 59, 59),
    "bird": (61, 220, 132),
    "aircraft": (77, 163, 255),
    "helicopter": (41, 224, 224),
    "unknown": (160, 168, 180),
}
#: 2,000 tracks: one helicopter alone (to point at), the rest on a grid around it.
MIX = {"drone": 400, "bird": 1450, "aircraft": 100, "helicopter": 1, "unknown": 49}
LONE = "H-LONE"
LONE_ENU = (-1500.0, -1500.0)
EVIL_TRACK = '<img src=x onerror="window.__xss=1">D1'
EVIL_ZONE = '<img src=x onerror="window.__xss=2"><b>Harbour</b> & Co'

# Counts of each class's exact colour among the opaque pixels of the track canvas,
# and where (page px) each class's pixels are on average.
CANVAS_PIXELS = """
(rgb) => {
  const c = document.querySelector("canvas.skywarden-tracks");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const box = c.getBoundingClientRect();
  const out = {};
  for (const k of Object.keys(rgb)) out[k] = { n: 0, x: 0, y: 0 };
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 255) continue;
    for (const [k, [r, g, b]] of Object.entries(rgb)) {
      if (d[i] === r && d[i + 1] === g && d[i + 2] === b) {
        const p = i / 4;
        out[k].n++;
        out[k].x += p % c.width;
        out[k].y += Math.floor(p / c.width);
      }
    }
  }
  for (const v of Object.values(out)) {
    if (v.n) {
      v.x = box.left + (v.x / v.n) * (box.width / c.width);
      v.y = box.top + (v.y / v.n) * (box.height / c.height);
    }
  }
  return out;
}
"""


def zone_b(name: str = "Zone B") -> Zone:
    """A second zone, 1.5 km north of zone A."""
    return Zone(
        id="ZB",
        name=name,
        polygon=[(-0.125, 51.512), (-0.115, 51.512), (-0.115, 51.516), (-0.125, 51.516)],
        floor_m=0.0,
        ceiling_m=500.0,
        priority=1,
    )


@contextmanager
def signed_in(url: str, token: str):
    """A Chromium page on ``url``, signed in with ``token``; page errors fail the test."""
    playwright = require_browser()
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            blocked: list[str] = []
            loopback_only(page, blocked)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("#login:not([hidden])")
            page.fill("#login-token", token)
            page.click("#login button[type=submit]")
            page.wait_for_selector("#conn.up")
            page.mouse.move(120, 790)  # off every track (the sign-in click was mid-map)
            yield page
            assert errors == []
        finally:
            browser.close()


def crowd(t: float) -> list[TrackLine]:
    """MIX's tracks: the lone helicopter, hovering, and the rest on a 110 m grid over
    5 km that keeps 400 m clear of it, classes shuffled over the grid."""
    rng = np.random.default_rng(17)
    g = np.arange(-2500.0, 2501.0, 110.0)
    cells = [(e, n) for e in g for n in g if np.hypot(e - LONE_ENU[0], n - LONE_ENU[1]) > 400]
    classes = [c for c, k in MIX.items() if c != "helicopter" for _ in range(k)]
    rng.shuffle(classes)
    out = [track_line(LONE, t, *LONE_ENU, vel=(0.0, 0.0, 0.0), cls="helicopter")]
    counts: Counter[str] = Counter()
    for (e, n), cls in zip(cells, classes, strict=False):
        counts[cls] += 1
        out.append(track_line(f"{cls[0].upper()}{counts[cls]:04d}", t, e, n, (4.0, 3.0, 0.0), cls))
    assert len(out) == 2000
    return out


def threat(aid: str, t: float, track: str, zone: str, tta_s: float, level: str) -> AlertLine:
    return AlertLine(
        t=t, id=aid, level=level, state="raised", track=track, zone=zone, tta_s=tta_s,
        entry_lat=51.5, entry_lon=-0.125, class_="drone",
    )  # fmt: skip


def labels(page) -> list[str]:
    return page.eval_on_selector_all(".track-label", "els => els.map((e) => e.textContent)")


def test_two_thousand_tracks_counts_filter_and_decluttered_labels(store, tokens):
    live = LiveState(sensors(), [zone_a()])
    scans = [crowd(T0), crowd(T0 + 1)]
    drones = [tr.id for tr in scans[0] if tr.class_ == "drone"]
    alerted = drones[:30]
    alerts = tuple(
        threat(f"A{k}", T0 + 1, tid, "ZA", 60.0 + k, "critical" if k % 2 else "warning")
        for k, tid in enumerate(alerted)
    )
    with (
        serving(create_app(live, store, WebConfig())) as url,
        signed_in(url, tokens["viewer"]) as page,
    ):
        live.apply(ScanOutput(t_s=T0, tracks=tuple(scans[0]), alerts=()))
        live.apply(ScanOutput(t_s=T0 + 1, tracks=tuple(scans[1]), alerts=alerts))
        page.wait_for_selector(".filters summary:has-text('Shown: 2000 of 2000')")
        truth = Counter(tr.class_ for tr in scans[1])
        for cls, n in truth.items():
            assert page.inner_text(f".filters label[data-class='{cls}'] .n") == str(n), cls
        assert page.inner_text(".filters label[data-level='none'] .n") == str(2000 - len(alerted))
        page.wait_for_timeout(300)  # the frame after the counts
        px = page.evaluate(CANVAS_PIXELS, CLASS_RGB)
        assert all(px[c]["n"] > 0 for c in MIX), px

        # Labels are not on every track: only on the tracks on alert, and not all of them
        # where they would overlap.
        shown = labels(page)
        assert 0 < len(shown) <= len(alerted)
        assert {s.split()[0] for s in shown} <= set(alerted)

        # Hover the lone helicopter (where its pixels are): its label; away: gone.
        x, y = px["helicopter"]["x"], px["helicopter"]["y"]
        page.mouse.move(x, y)
        page.wait_for_selector(f".track-label:has-text('{LONE} helicopter')")
        page.mouse.move(120, 790)
        page.wait_for_selector(f".track-label:has-text('{LONE}')", state="detached")
        # Click it: selected, its label stays when the pointer leaves, and its panel opens.
        page.mouse.click(x, y)
        page.wait_for_selector("#track-panel:not([hidden])")
        assert page.inner_text("#track-title") == LONE
        page.mouse.move(120, 790)
        page.wait_for_timeout(300)
        assert any(s.startswith(f"{LONE} ") for s in labels(page))

        # Untick birds: none of their pixels are left, the other classes stay.
        page.uncheck(".filters label[data-class='bird'] input")
        page.wait_for_selector(
            f".filters summary:has-text('Shown: {2000 - truth['bird']} of 2000')"
        )
        page.wait_for_timeout(300)
        after = page.evaluate(CANVAS_PIXELS, CLASS_RGB)
        assert after["bird"]["n"] == 0
        assert all(after[c]["n"] > 0 for c in MIX if c != "bird")
        # The count still says how many birds there are.
        assert page.inner_text(".filters label[data-class='bird'] .n") == str(truth["bird"])
        page.check(".filters label[data-class='bird'] input")
        page.wait_for_selector(".filters summary:has-text('Shown: 2000 of 2000')")
        # Only tracks on alert: untick "no alert".
        page.uncheck(".filters label[data-level='none'] input")
        page.wait_for_selector(f".filters summary:has-text('Shown: {len(alerted)} of 2000')")
        page.wait_for_timeout(300)
        only = page.evaluate(CANVAS_PIXELS, CLASS_RGB)
        assert only["drone"]["n"] > 0
        assert all(only[c]["n"] == 0 for c in MIX if c != "drone")


def test_a_swarm_for_one_zone_is_one_group_that_opens(store, tokens):
    live = LiveState(sensors(), [zone_a(), zone_b()])
    swarm = [f"S{k:02d}" for k in range(50)]
    tracks = tuple(track_line(tid, T0, -2000.0 + 40 * k, -600.0) for k, tid in enumerate(swarm))
    tracks += (track_line("LONE1", T0, 0.0, 1800.0),)
    # Arrivals 75 s .. 124 s, listed out of order; the earliest is S07's.
    ttas = {tid: 75.0 + (k * 7) % 50 for k, tid in enumerate(swarm)}
    first = min(ttas, key=ttas.__getitem__)
    alerts = tuple(threat(f"A-{tid}", T0, tid, "ZA", ttas[tid], "critical") for tid in swarm)
    alerts += (threat("A-LONE1", T0, "LONE1", "ZB", 200.0, "warning"),)
    with (
        serving(create_app(live, store, WebConfig())) as url,
        signed_in(url, tokens["operator"]) as page,
    ):
        live.apply(ScanOutput(t_s=T0 - 1, tracks=tracks, alerts=()))
        page.wait_for_selector(".filters summary:has-text('Shown: 51 of 51')")
        live.apply(ScanOutput(t_s=T0, tracks=tracks, alerts=alerts))
        group = page.wait_for_selector("li.alert.group.critical[data-zone='ZA']")
        assert page.inner_text("#alert-count") == "51"
        assert page.inner_text("li[data-zone='ZA'] .what") == "50 alerts → Zone A (ZA)"
        assert page.inner_text("li[data-zone='ZA'] .groupline .quiet") == "50 not acknowledged"
        # The group's countdown is its earliest arrival (75 s, counting down).
        m, s = page.inner_text("li[data-zone='ZA'] .tta").split(":")
        assert 60 <= 60 * int(m) + int(s) <= 75
        # One alert for zone B stays on its own; the group's alerts are not listed yet.
        assert page.query_selector("#alerts > li[data-alert='A-LONE1']") is not None
        assert group.query_selector_all("li[data-alert]") == []
        assert page.get_attribute("li[data-zone='ZA'] button.toggle", "aria-expanded") == "false"

        page.click("li[data-zone='ZA'] button.toggle")
        page.wait_for_selector("li[data-zone='ZA'] ol.members li[data-alert]")
        members = page.eval_on_selector_all(
            "li[data-zone='ZA'] ol.members li[data-alert]", "els => els.map((e) => e.dataset.alert)"
        )
        assert sorted(members) == sorted(f"A-{tid}" for tid in swarm)
        assert members[0] == f"A-{first}"  # soonest first
        assert page.get_attribute("li[data-zone='ZA'] button.toggle", "aria-expanded") == "true"

        # Each alert in it can still be acknowledged, and the group counts it.
        page.click(f"li[data-alert='A-{swarm[3]}'] .ack")
        page.wait_for_selector(f"li.alert.acked[data-alert='A-{swarm[3]}'] .ackline")
        assert store.acknowledged_ids() == {f"A-{swarm[3]}"}
        page.wait_for_selector(
            "li[data-zone='ZA'] .groupline .quiet:has-text('49 not acknowledged')"
        )
        # Still open after more updates come in; closes on demand.
        live.apply(ScanOutput(t_s=T0 + 1, tracks=tracks, alerts=()))
        page.wait_for_timeout(300)
        assert len(page.query_selector_all("li[data-zone='ZA'] ol.members li[data-alert]")) == 50
        page.click("li[data-zone='ZA'] button.toggle")
        page.wait_for_selector("li[data-zone='ZA'] ol.members li[data-alert]", state="detached")


def test_markup_in_a_track_id_and_a_zone_name_stays_text(store, tokens):
    live = LiveState(sensors(), [zone_a(), zone_b(EVIL_ZONE)])
    ids = [EVIL_TRACK, "D2", "D3"]
    tracks = tuple(track_line(tid, T0, -1500.0 + 700 * k, 900.0) for k, tid in enumerate(ids))
    alerts = tuple(
        threat(f"A{k}", T0, tid, "ZB", 90.0 + k, "critical") for k, tid in enumerate(ids)
    )
    with (
        serving(create_app(live, store, WebConfig())) as url,
        signed_in(url, tokens["operator"]) as page,
    ):
        live.apply(ScanOutput(t_s=T0, tracks=tracks, alerts=alerts))
        page.wait_for_selector("li.alert.group[data-zone='ZB']")
        assert page.inner_text("li[data-zone='ZB'] .what") == f"3 alerts → {EVIL_ZONE} (ZB)"
        page.click("li[data-zone='ZB'] button.toggle")
        item = page.wait_for_selector("li[data-alert='A0'] .what")
        assert item.inner_text() == f"drone {EVIL_TRACK} → {EVIL_ZONE} (ZB)"
        # The track's label (on alert, so shown) is the id as written.
        label = page.wait_for_selector(".track-label:has-text('onerror')")
        assert label.text_content() == f"{EVIL_TRACK} drone 100 m"
        page.click("li[data-alert='A0']")
        page.wait_for_selector("#track-panel:not([hidden])")
        assert page.inner_text("#track-title") == EVIL_TRACK
        assert (
            page.query_selector("#side img, #side b, #map img:not(.leaflet-tile), #map b") is None
        )
        assert page.evaluate("window.__xss") is None


def test_tracks_stay_where_leaflet_puts_the_map_through_zoom_and_pan(store, tokens):
    """The canvas projects tracks itself: a track at the sensor's position is drawn where
    Leaflet draws the sensor's marker, before and after zooming and panning."""
    live = LiveState(sensors(), [zone_a()])
    tracks = (
        track_line("U1", T0, 0.0, 0.0, (0.0, 0.0, 0.0), "unknown"),  # on the sensor
        track_line("D1", T0, 900.0, 700.0),
    )
    marker = ".leaflet-overlay-pane path.leaflet-interactive[fill='#8b98a8']"  # status unknown

    def offset(page) -> float:
        px = page.evaluate(CANVAS_PIXELS, {"unknown": CLASS_RGB["unknown"]})["unknown"]
        box = page.locator(marker).bounding_box()
        assert px["n"] > 0 and box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        return float(np.hypot(px["x"] - cx, px["y"] - cy))

    with (
        serving(create_app(live, store, WebConfig())) as url,
        signed_in(url, tokens["viewer"]) as page,
    ):
        live.apply(ScanOutput(t_s=T0, tracks=tracks, alerts=()))
        page.wait_for_selector(".filters summary:has-text('Shown: 2 of 2')")
        page.wait_for_timeout(300)
        assert offset(page) < 1.5
        box = page.locator(marker).bounding_box()
        page.mouse.move(box["x"] + 40, box["y"] + 30)
        page.mouse.wheel(0, -300)  # zoom in, animated, about the pointer
        page.wait_for_timeout(800)
        page.mouse.move(400, 500)
        page.mouse.down()
        page.mouse.move(520, 430, steps=10)  # pan
        page.mouse.up()
        page.wait_for_timeout(500)
        assert offset(page) < 1.5
        page.click(".leaflet-control-zoom-out")
        page.click(".leaflet-control-zoom-out")
        page.wait_for_timeout(800)
        assert offset(page) < 1.5
