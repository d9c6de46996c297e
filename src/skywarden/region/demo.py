"""``skywarden demo --sites N``: an embedded nats-server, N neighbouring simulated sites
with overlapping radar coverage in a row west to east, a raid that crosses them
into a zone at the eastern site, and the region consuming them all, in one process.

One scenario is simulated with one radar per site; each site gets its own radar's
detections and every zone (sites that share a zone give it the same id), so the
region sees the same drones from one site after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ServerConfig, SiteConfig, SourcesConfig, StoreConfig
from ..sim import generate
from ..sim.builtin import _radar
from ..sim.spec import spec_from_dict
from ..types import Detection, Sensor, Site, Zone
from .config import NatsLinkConfig, RegionConfig, RegionLinkConfig, RegionServerConfig
from .server import NatsServer

__all__ = ["MAX_SITES", "raid_spec", "run_demo"]

MAX_SITES = 6
#: Sites stand this far apart, each radar sees this far: neighbours overlap by 6 km.
SPACING_M = 10_000.0
RANGE_M = 8_000.0
SITE_IDS = "ABCDEF"


def raid_spec(n_sites: int) -> dict[str, Any]:
    """The scenario as spec data: radars in a row, the zone at the last one, drones from the west."""
    ground = 30.0
    xs = [(i - (n_sites - 1) / 2) * SPACING_M for i in range(n_sites)]
    return {
        "name": f"region-{n_sites}",
        "description": "A raid crossing neighbouring sites from west to east.",
        "duration_s": 900.0,
        "site": {"name": "Region", "lat": 51.0, "lon": -1.0, "alt_m": ground},
        "zones": [
            {
                "id": "Z1",
                "name": "Terminal",
                "circle": {"east_m": xs[-1], "radius_m": 400.0},
                "floor_m": ground,
                "ceiling_m": ground + 500.0,
                "priority": 1,
            },
        ],
        "sensors": [
            _radar(
                f"radar-{SITE_IDS[i]}", [x, 0.0, 25.0], max_range_m=RANGE_M, clutter_per_scan=0.5
            )
            for i, x in enumerate(xs)
        ],
        "objects": [
            {
                "kind": "hostile_drone",
                "count": 3,
                "zone": "Z1",
                "bearing_deg": [268, 272],
                "start_range_m": [xs[-1] - xs[0] + 5_000.0, xs[-1] - xs[0] + 6_000.0],
                "speed_mps": [40, 50],
                "cruise_agl_m": [100, 300],
                "doglegs": 0,
                "launch_s": [0, 30],
            },
        ],
    }


def _site_configs(
    n_sites: int, seed: int, url: str, tmp: Path
) -> list[tuple[SiteConfig, list[Detection]]]:
    recs = list(generate(spec_from_dict(raid_spec(n_sites), "demo --sites"), seed=seed))
    zones = [r for r in recs if isinstance(r, Zone)]
    radars = [r for r in recs if isinstance(r, Sensor)]
    out = []
    for i, radar in enumerate(radars):
        sid = SITE_IDS[i]
        cfg = SiteConfig(
            site=Site(name=f"site {sid}", lat=radar.lat, lon=radar.lon, alt_m=radar.alt_m),
            sensors=[radar], zones=zones,
            sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None),
            store=StoreConfig(path=str(tmp / f"site-{sid}.db")),
            server=ServerConfig(port=0),
            region=RegionLinkConfig(url=url, site=sid, outbox=str(tmp / f"outbox-{sid}.db")),
        )  # fmt: skip
        feed = [r for r in recs if isinstance(r, Detection) and r.sensor == radar.id]
        out.append((cfg, feed))
    return out


async def run_demo(
    n_sites: int,
    *,
    host: str,
    port: int,
    seed: int,
    speed: float,
    on_ready: Callable[[dict[str, Any]], None],
) -> None:
    """Run everything until cancelled; ``on_ready`` gets the URLs and the region's viewer
    token once all is listening (the regional map's page is signed in by itself)."""
    from ..service import Service
    from .service import RegionService

    with tempfile.TemporaryDirectory(prefix="skywarden-region-demo-") as d:
        tmp = Path(d)
        (tmp / "nats").mkdir()
        nats_srv = NatsServer(store_dir=tmp / "nats")
        await asyncio.to_thread(nats_srv.start)
        try:
            region = RegionService(RegionConfig(
                lat=51.0, lon=-1.0, nats=NatsLinkConfig(url=nats_srv.url),
                sites=list(SITE_IDS[:n_sites]), store=str(tmp / "region.db"),
                server=RegionServerConfig(host=host, port=port),
            ), local_session=True)  # fmt: skip
            token = region.map.store.create_token("viewer", "demo")
            site_feeds = await asyncio.to_thread(_site_configs, n_sites, seed, nats_srv.url, tmp)
            t0 = min(f[0].t for _, f in site_feeds if f)
            sites = [
                # One scenario clock for every site, so their tracks agree in time.
                Service(cfg, feed=iter(feed), feed_speed=speed, feed_t0=t0, local_session=True)
                for cfg, feed in site_feeds
            ]
            site_urls: dict[str, str] = {}
            region_port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            tasks = [asyncio.create_task(region.serve(host, port, on_ready=region_port.set_result))]
            for s in sites:
                sid = s.config.region.site if s.config.region else "?"

                def ready(ports: dict[str, int], sid: str = sid) -> None:
                    site_urls[sid] = f"http://{host}:{ports['web']}/"

                tasks.append(asyncio.create_task(s.serve(host, 0, on_ready=ready)))
            try:
                rp = await region_port
                while len(site_urls) < n_sites:
                    await asyncio.sleep(0.05)
                on_ready({
                    "url": f"http://{host}:{rp}/api/sites",
                    "tracks": f"http://{host}:{rp}/api/tracks",
                    "map": f"http://{host}:{rp}/", "viewer_token": token,
                    "sites": dict(sorted(site_urls.items())), "nats": nats_srv.url,
                })  # fmt: skip
                # One server stopping (uvicorn takes SIGTERM/SIGINT first) stops them all.
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await t
        finally:
            await asyncio.to_thread(nats_srv.close)
