"""A real nats-server with JetStream per test, and helpers to build site messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skywarden.region.config import NatsLinkConfig, RegionConfig
from skywarden.region.server import NatsServer, NatsServerError, nats_server_binary
from skywarden.region.service import RegionService
from skywarden.types import AlertLine, TrackLine


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    try:
        nats_server_binary()
    except NatsServerError as e:
        pytest.fail(str(e))
    srv = NatsServer(store_dir=tmp_path / "nats")
    (tmp_path / "nats").mkdir()
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


def region_config(url: str, tmp_path: Path, sites: list[str], **kw: object) -> RegionConfig:
    return RegionConfig(
        lat=51.0, lon=-1.0, nats=NatsLinkConfig(url=url), sites=sites,
        store=str(tmp_path / "region.db"), ack_wait_s=1.0, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def make_region(tmp_path: Path) -> Callable[..., RegionService]:
    def make(url: str, sites: list[str], **kw: object) -> RegionService:
        return RegionService(region_config(url, tmp_path, sites, **kw))

    return make


def track(
    tid: str, t: float, lat: float, lon: float, *, alt: float = 120.0,
    vel: tuple[float, float, float] = (0.0, 0.0, 0.0), status: str = "confirmed",
    std: float = 5.0,
) -> TrackLine:  # fmt: skip
    return TrackLine(
        t=t, id=tid, lat=lat, lon=lon, alt_m=alt, vel_enu_mps=vel,
        status=status,  # type: ignore[arg-type]
        class_="drone", class_p={"drone": 0.9}, pos_std_m=std,
    )  # fmt: skip


def alert(
    aid: str, t: float, track_id: str, zone: str, state: str = "raised", level: str = "warning"
) -> AlertLine:
    return AlertLine(
        t=t, id=aid, level=level, state=state,  # type: ignore[arg-type]
        kind="threat", track=track_id, zone=zone, tta_s=0.0,
    )  # fmt: skip


async def pump(region: RegionService, until: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll every site's consumer until ``until()`` holds; fails the test past the timeout."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not until():
        if loop.time() > end:
            raise AssertionError("the region did not get there in time")
        for site in region.config.sites:
            await region.poll(site, timeout_s=0.1)
