"""The regional map in a real browser: tracks coloured by site, a site filter, site health.

A region (``RegionService.serve``, the page signed in by a local session) consumes two
sites played by publishing their messages to a real nats-server twice a second: A alone
sees one drone, B alone another, and both a third.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import nats
import pytest

from skywarden.region.schema import (
    HeartbeatMsg,
    SensorsMsg,
    SensorStatus,
    SiteMsg,
    encode,
    subject,
)
from skywarden.region.server import NatsServer
from skywarden.region.service import RegionService
from skywarden.types import Sensor
from tests.service_helpers import start_on_free_port, terminate
from tests.web.webhelpers import launch_chromium, loopback_only, require_browser

from .conftest import region_config, track
from .test_region import ORIGINS, scan

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SKYWARDEN = str(Path(sys.executable).parent / "skywarden")

pytestmark = [pytest.mark.slow]


def site_messages(t: float) -> list[SiteMsg]:
    """One scan, heartbeat and sensor list of each site at ``t`` (the map fits its view
    to the sensors)."""
    out: list[SiteMsg] = [
        scan("A", t, [track("T1", t, 51.0, -1.12), track("T3", t, 51.03, -1.0)]),
        scan("B", t, [track("T2", t, 51.0, -0.88), track("T4", t, 51.03, -1.0)]),
    ]
    for site, (lat, lon) in ORIGINS.items():
        out.append(HeartbeatMsg(site=site, t=t, lat=lat, lon=lon, alt_m=0.0,
                                name=f"site {site}", tracks=2, outbox=0))  # fmt: skip
        radar = Sensor(id="radar", kind="radar", lat=lat, lon=lon, alt_m=20.0, max_range_m=8000.0)
        out.append(SensorsMsg(site=site, t=t, sensors=[SensorStatus(sensor=radar, state="ok")]))
    return out


@contextlib.contextmanager
def running_region(tmp_path: Path, url: str) -> Iterator[str]:
    """The region served from a thread of its own, fed until the block ends; its base URL."""
    cfg = region_config(url, tmp_path, ["A", "B"])
    ready = threading.Event()
    stop = threading.Event()
    port: list[int] = []
    failed: list[BaseException] = []

    async def main() -> None:
        region = RegionService(cfg, local_session=True)
        served = asyncio.create_task(
            region.serve("127.0.0.1", 0, on_ready=lambda p: (port.append(p), ready.set()))
        )
        while not ready.is_set():
            await asyncio.sleep(0.05)
        nc = await nats.connect(url)
        js = nc.jetstream()
        try:
            while not stop.is_set():
                for m in site_messages(time.time()):
                    await js.publish(subject(m.site, str(m.__struct_config__.tag)), encode(m))
                await asyncio.sleep(0.5)
        finally:
            await nc.close()
            served.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await served

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as e:  # reported by the test thread
            failed.append(e)
            ready.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        assert ready.wait(20), "the region did not come up"
        assert not failed, failed
        yield f"http://127.0.0.1:{port[0]}/"
    finally:
        stop.set()
        th.join(timeout=20)
    assert not failed, failed


def label_colours(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The track labels shown: text after the track id's class and altitude -> stripe colour."""
    rows = page.eval_on_selector_all(
        ".track-label",
        "els => els.map(e => [e.textContent, getComputedStyle(e).borderLeftColor])",
    )
    return {text.rsplit("·", 1)[-1].strip(): colour for text, colour in rows if "·" in text}


def test_region_map_colours_tracks_by_site_and_filters_them(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    playwright = require_browser()
    blocked: list[str] = []
    with running_region(tmp_path, nats_server.url) as url, playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            loopback_only(page, blocked)
            page.goto(url)
            page.wait_for_selector("#conn.up", timeout=15_000)
            # The site-health panel: both sites, healthy, in /api/sites order.
            page.wait_for_function(
                "() => document.querySelectorAll('#sites li.site .health.ok').length === 2",
                timeout=20_000,
            )
            assert page.eval_on_selector_all(
                "#sites li.site", "els => els.map(e => e.dataset.site)"
            ) == ["A", "B"]
            # One regional track per drone, labelled with the sites that see it.
            page.wait_for_function(
                "() => document.querySelectorAll('.track-label.site').length === 3", timeout=20_000
            )
            colours = label_colours(page)
            assert set(colours) == {"A", "B", "A+B"}, colours
            # Coloured by the first site: A's own and the shared one alike, B's apart.
            assert colours["A"] == colours["A+B"] != colours["B"]
            swatches = page.eval_on_selector_all(
                ".filters label[data-site]",
                "els => els.map(e => [e.dataset.site, getComputedStyle(e.querySelector('.swatch')).backgroundColor])",
            )
            assert dict(swatches) == {"A": colours["A"], "B": colours["B"]}
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "region_map.png"))

            # Unticking A hides the track only A sees; the shared one stays (B sees it).
            page.uncheck(".filters label[data-site='A'] input")
            page.wait_for_function(
                "() => document.querySelectorAll('.track-label.site').length === 2", timeout=5_000
            )
            assert set(label_colours(page)) == {"B", "A+B"}
            page.uncheck(".filters label[data-site='B'] input")
            page.wait_for_function(
                "() => document.querySelectorAll('.track-label.site').length === 0", timeout=5_000
            )
            page.check(".filters label[data-site='A'] input")
            page.wait_for_function(
                "() => document.querySelectorAll('.track-label.site').length === 2", timeout=5_000
            )
            assert set(label_colours(page)) == {"A", "A+B"}
        finally:
            browser.close()
    assert blocked == [] or all(urlparse(u).hostname != "127.0.0.1" for u in blocked)


def test_demo_sites_serves_the_regional_map_within_60_s(tmp_path: Path) -> None:
    """``skywarden demo --sites 3`` at its own pace: the signed-in regional map shows three
    healthy sites within 60 s of the start, and then the raid's drones in their site's
    colour (the first site confirms them about 40 s in)."""
    playwright = require_browser()
    started = time.monotonic()
    proc, port, facts = start_on_free_port(
        lambda port: [SKYWARDEN, "demo", "--sites", "3", "--port", str(port), "--json"],
        "the demo", tmp_path / "demo.log",
    )  # fmt: skip
    blocked: list[str] = []
    try:
        assert facts["map"] == f"http://127.0.0.1:{port}/"
        with playwright.sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 850})
                loopback_only(page, blocked)
                page.goto(facts["map"])
                page.wait_for_function(
                    "() => document.querySelectorAll('#sites li.site .health.ok').length === 3",
                    timeout=max(1_000, int(1000 * (60 - (time.monotonic() - started)))),
                )
                served = time.monotonic() - started
                page.wait_for_selector(".track-label.site:has-text('drone')", timeout=60_000)
                drone = time.monotonic() - started
                colour = page.eval_on_selector(
                    ".track-label.site", "e => getComputedStyle(e).borderLeftColor"
                )
                assert colour == "rgb(199, 125, 255)"  # site A's, the first in the palette
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "region_demo.png"))
            finally:
                browser.close()
        print(
            f"regional map with 3 healthy sites {served:.1f} s, a drone {drone:.1f} s after start"
        )
        assert served < 60
    finally:
        terminate(proc)
    assert proc.returncode == 0
    assert blocked == [] or all(urlparse(u).hostname != "127.0.0.1" for u in blocked)
