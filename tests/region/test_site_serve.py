"""A site's live service with a ``region:`` section publishes its picture to the region."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skywarden.config import SiteConfig, SourcesConfig, StoreConfig
from skywarden.region.config import RegionLinkConfig
from skywarden.region.server import NatsServer
from skywarden.service import Service
from skywarden.sim import generate, load_spec
from skywarden.types import Sensor, Site, TruthPoint, Zone

from .conftest import pump


@pytest.mark.slow
def test_serve_with_a_region_section_publishes_tracks_alerts_zones(
    nats_server: NatsServer,
    make_region,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    recs = list(generate(load_spec("single-drone"), seed=3, duration_s=420.0))
    header = [r for r in recs if isinstance(r, (Site, Sensor, Zone))]
    zones = [r for r in header if isinstance(r, Zone)]
    cfg = SiteConfig(
        site=next(r for r in header if isinstance(r, Site)),
        sensors=[r for r in header if isinstance(r, Sensor)], zones=zones,
        sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None),
        store=StoreConfig(path=str(tmp_path / "site.db")),
        region=RegionLinkConfig(url=nats_server.url, site="S1", outbox=str(tmp_path / "ob.db")),
    )  # fmt: skip
    data = [r for r in recs if not isinstance(r, (Site, Sensor, Zone, TruthPoint))]

    async def main() -> None:
        region = make_region(nats_server.url, ["S1"])
        await region.connect()
        service = Service(cfg, feed=iter(data), feed_speed=1000.0)
        await service.start()
        try:
            await pump(region, lambda: bool(region.store.events()), timeout_s=60)
            site_alerts = [a for a in service.live.alerts.values() if a.kind != "sensor"]
        finally:
            await service.stop()
        [ev] = region.store.events()[:1]
        assert ev.reason == "sites: S1" and ev.state == "raised"
        assert ev.zone in {a.zone for a in site_alerts}
        assert region.sites["S1"].zones == zones
        assert {s.sensor.id for s in region.sites["S1"].sensors} == {s.id for s in cfg.sensors}
        assert region.picture.reports, "no site track reached the region"
        await region.stop()

    asyncio.run(main())
