"""A site's publisher against a real nats-server: round trip, and a site cut off then back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skywarden.region.config import RegionLinkConfig
from skywarden.region.publish import RegionPublisher
from skywarden.region.server import NatsServer
from skywarden.types import ScanOutput, Site, Zone

from .conftest import alert, pump, track

SITE = Site(name="alpha", lat=51.0, lon=-1.05, alt_m=0.0)
ZONE = Zone(
    id="Z1", name="Port", polygon=[(-1.01, 50.99), (-0.99, 50.99), (-0.99, 51.01), (-1.01, 51.01)],
    floor_m=0.0, ceiling_m=500.0,
)  # fmt: skip


def publisher(url: str, tmp_path: Path, **kw: object) -> RegionPublisher:
    cfg = RegionLinkConfig(
        url=url,
        site="A",
        outbox=str(tmp_path / "outbox.db"),
        heartbeat_s=0.2,
        **kw,  # type: ignore[arg-type]
    )
    return RegionPublisher(cfg, SITE, zones=[ZONE], clock=time.time)


@contextlib.asynccontextmanager
async def running(pub: RegionPublisher):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(pub.run())
    try:
        yield pub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pub.aclose()


def test_round_trip(nats_server: NatsServer, make_region, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        region = make_region(nats_server.url, ["A"])
        await region.connect()
        pub = publisher(nats_server.url, tmp_path)
        async with running(pub):
            t0 = time.time()
            pub.offer(ScanOutput(t_s=t0, tracks=(track("T1", t0, 51.0, -1.0, vel=(5.0, 0, 0)),
                                               track("T2", t0, 51.0, -1.1, status="tentative")),
                                 alerts=(alert("A1", t0, "T1", "Z1"),)))  # fmt: skip
            await pump(region, lambda: bool(region.store.events()) and bool(region.sites["A"].zones)
                       and region.sites["A"].heartbeat_t is not None
                       and bool(region.picture.reports))  # fmt: skip
        rows = region.track_rows()
        # The tentative track is not published; the confirmed one lands where the site put it.
        assert len(rows) == 1
        assert rows[0]["lat"] == pytest.approx(51.0, abs=1e-6)
        assert rows[0]["lon"] == pytest.approx(-1.0, abs=1e-6)
        assert rows[0]["sites"] == ["A"]
        # Velocity is along the site's axes; the region's frame is 3.5 km east, nearly parallel.
        assert rows[0]["vel_enu_mps"][0] == pytest.approx(5.0, abs=0.01)
        [ev] = region.store.events()
        assert (ev.state, ev.zone, ev.track) == ("raised", "Z1", rows[0]["id"])
        assert region.sites["A"].zones == [ZONE]
        token = region.map.store.create_token("viewer", "test")
        with TestClient(region.app) as client:
            assert client.get("/api/sites").status_code == 401
            [site] = client.get("/api/sites", headers={"Authorization": f"Bearer {token}"}).json()
        assert site["site"] == "A" and site["health"] == "ok" and site["name"] == "alpha"
        await region.stop()

    asyncio.run(main())


def test_site_offline_keeps_everything_and_sends_on_reconnect(
    nats_server: NatsServer,
    make_region,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    async def main() -> None:
        region = make_region(nats_server.url, ["A"])
        await region.connect()  # makes the stream and the consumer
        nats_server.stop()
        pub = publisher(nats_server.url, tmp_path, outbox_max_messages=20)
        async with running(pub):
            t0 = 1_700_000_000.0
            # 120 one-second scans while the server is down, an alert raised every 10 s.
            for i in range(120):
                t = t0 + i
                alerts = (alert(f"A{i}", t, f"T{i}", "Z1"),) if i % 10 == 0 else ()
                pub.offer(ScanOutput(t_s=t, tracks=(track(f"T{i}", t, 51.0, -1.0),), alerts=alerts))
                await asyncio.sleep(0)
            await asyncio.sleep(0.3)
            assert pub.failing
            # Bounded: old track scans went, all 12 alert messages stayed.
            assert len(pub.outbox) <= 20 + 12
            assert pub.outbox.dropped > 0
            nats_server.start()
            await pump(region, lambda: ("A", "T119") in region.picture.reports, timeout_s=20)
        events = region.store.events()
        assert sorted(e.reason for e in events) == ["sites: A"] * 12
        assert len({e.id for e in events}) == 12
        # The newest scans survived the bound: the last track is in the picture.
        assert any("A/T119" in r["members"] for r in region.track_rows())
        await region.stop()

    asyncio.run(main())
