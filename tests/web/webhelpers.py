"""Test data for the web service tests: a site, a sensor, a zone, moving tracks, alerts."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

from skywarden.geodesy import LocalFrame
from skywarden.store import Store
from skywarden.types import AlertLine, ScanOutput, Sensor, Site, TrackLine, Zone
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

SITE = Site(name="test", lat=51.5, lon=-0.12, alt_m=40.0)
T0 = 1_700_000_000.0


def sensors() -> list[Sensor]:
    return [
        Sensor(id="radar1", kind="radar", lat=51.5, lon=-0.12, alt_m=45.0, max_range_m=3000.0),
    ]


def zone_a() -> Zone:
    return Zone(
        id="ZA",
        name="Zone A",
        polygon=[(-0.125, 51.498), (-0.115, 51.498), (-0.115, 51.502), (-0.125, 51.502)],
        floor_m=0.0,
        ceiling_m=500.0,
        priority=1,
    )


def track_line(
    tid: str, t: float, e_m: float, n_m: float, vel=(10.0, 0.0, 0.0), cls: str = "drone"
) -> TrackLine:
    """A track line at ENU (e_m, n_m, 60 m) about SITE."""
    frame = LocalFrame.from_site(SITE)
    lat, lon, alt = frame.to_geodetic(np.array([e_m, n_m, 60.0]))
    return TrackLine(
        t=t,
        id=tid,
        lat=float(np.ravel(lat)[0]),
        lon=float(np.ravel(lon)[0]),
        alt_m=float(np.ravel(alt)[0]),
        vel_enu_mps=vel,
        status="confirmed",
        class_=cls,
        class_p={"drone": 0.8, "bird": 0.1, "aircraft": 0.05, "helicopter": 0.0, "unknown": 0.05}
        if cls == "drone"
        else {cls: 1.0},
    )


def moving_scans(n: int, t0: float = T0, dt_s: float = 1.0) -> list[ScanOutput]:
    """Two tracks flying east along straight lines, one scan a second."""
    out = []
    for k in range(n):
        t = t0 + k * dt_s
        out.append(
            ScanOutput(
                t_s=t,
                tracks=(
                    track_line("T1", t, -1500.0 + 10.0 * k * dt_s, 0.0),
                    track_line("T2", t, -800.0 + 5.0 * k * dt_s, 400.0, (5.0, 0.0, 0.0), "bird"),
                ),
                alerts=(),
            )
        )
    return out


def alert(aid: str, t: float, state: str = "raised", level: str = "critical") -> AlertLine:
    return AlertLine(
        t=t,
        id=aid,
        level=level,
        state=state,
        track="T1",
        zone="ZA",
        tta_s=90.0,
        entry_lat=51.5,
        entry_lon=-0.125,
        class_="drone",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CHROMIUM_PATH = os.environ.get("SKYWARDEN_TEST_CHROMIUM", "/usr/bin/chromium")
#: Debian's Chromium, headless, with nothing of its own reaching out to the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> ModuleType:
    """Playwright's sync API with Debian's Chromium present, else skip the test; under
    CI (the ``CI`` environment variable set) fail instead: a CI run must not go green
    without its browser tests."""
    in_ci = bool(os.environ.get("CI"))
    if not Path(CHROMIUM_PATH).exists():
        msg = f"needs Debian's Chromium at {CHROMIUM_PATH} (apt-get install -y chromium)"
        if in_ci:
            pytest.fail(msg + "; CI is set, so this is a failure, not a skip")
        pytest.skip(msg)
    if in_ci:
        import playwright.sync_api

        return playwright.sync_api
    return pytest.importorskip("playwright.sync_api")


def launch_chromium(p):
    """Launch Debian's Chromium from a sync Playwright instance ``p``."""
    return p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)


def loopback_only(page, blocked: list[str]) -> None:
    """Let ``page`` reach 127.0.0.1 only; every other request is aborted and noted."""
    from urllib.parse import urlparse

    def gate(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", gate)


@dataclass
class WebSite:
    """A store, a live picture, a viewer and an operator token, and the app over them."""

    store: Store
    live: LiveState
    tokens: dict[str, str]
    app: FastAPI


def web_site(db: Path, config: WebConfig | None = None) -> WebSite:
    """A :class:`WebSite` on a new store at ``db`` (the caller closes ``.store``)."""
    store = Store(db)
    live = LiveState(sensors(), [zone_a()])
    tokens = {
        "viewer": store.create_token("viewer", "vera"),
        "operator": store.create_token("operator", "otto"),
    }
    return WebSite(store, live, tokens, create_app(live, store, config or WebConfig()))


@contextmanager
def serving(app: FastAPI, send_buffer_bytes: int | None = None) -> Iterator[str]:
    """``app`` on a free 127.0.0.1 port, served by uvicorn in a background thread; yields
    its base URL. The socket listens before uvicorn starts, so a client's first
    connections wait in the backlog and nothing polls for the server to come up.
    ``send_buffer_bytes`` sets the kernel send buffer its connections inherit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer_bytes is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    th = threading.Thread(target=lambda: asyncio.run(srv.serve(sockets=[sock])), daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        th.join(timeout=10)
        sock.close()
