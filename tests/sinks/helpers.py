"""Ground-truth scan outputs for the sink tests: tracks built from known ENU states."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
import numpy as np

from skywarden.geodesy import LocalFrame
from skywarden.sinks.http_retry import HttpAlertPoster
from skywarden.types import AlertLine, ScanOutput, TrackLine, Zone

SITE_LAT, SITE_LON, SITE_ALT_M = 51.4700, -0.4543, 80.0
T0_S = 1_790_000_000.0  # 2026-09-21, an arbitrary UTC time


def frame() -> LocalFrame:
    return LocalFrame(SITE_LAT, SITE_LON, SITE_ALT_M)


def make_track(
    fr: LocalFrame,
    n: int,
    t_s: float,
    enu_m: np.ndarray,
    vel_mps: np.ndarray,
    *,
    cls: str = "drone",
    status: str = "confirmed",
    identity: dict[str, str] | None = None,
    p: float = 0.9,
) -> TrackLine:
    lat, lon, alt = fr.to_geodetic(np.asarray(enu_m, dtype=float))
    others = [c for c in ("drone", "bird", "aircraft", "helicopter", "unknown") if c != cls]
    class_p = {cls: p} | {c: (1.0 - p) / len(others) for c in others}
    return TrackLine(
        t=t_s,
        id=f"T{n}",
        lat=float(lat),
        lon=float(lon),
        alt_m=float(alt),
        vel_enu_mps=tuple(float(v) for v in vel_mps),
        status=status,
        class_=cls,
        class_p=class_p,
        identity=identity,
        pos_std_m=7.5,
    )


def swarm(fr: LocalFrame, t_s: float, n: int, rng: np.random.Generator) -> list[TrackLine]:
    """``n`` drones at random ENU positions within 3 km, 20 to 300 m up."""
    pos = np.column_stack(
        [rng.uniform(-3000, 3000, n), rng.uniform(-3000, 3000, n), rng.uniform(20, 300, n)]
    )
    vel = rng.normal(0.0, 10.0, (n, 3))
    return [make_track(fr, i + 1, t_s, pos[i], vel[i]) for i in range(n)]


def zone() -> Zone:
    d = 0.004
    return Zone(
        id="Z1",
        name="Terminal 5",
        polygon=[
            (SITE_LON - d, SITE_LAT - d),
            (SITE_LON + d, SITE_LAT - d),
            (SITE_LON + d, SITE_LAT + d),
            (SITE_LON - d, SITE_LAT + d),
        ],
        floor_m=0.0,
        ceiling_m=500.0,
    )


def alert(
    t_s: float, track: str, *, level: str = "critical", state: str = "raised", tta_s: float = 42.0
) -> AlertLine:
    return AlertLine(
        t=t_s,
        id=f"A-{track}",
        level=level,
        state=state,
        kind="threat",
        track=track,
        zone="Z1",
        tta_s=tta_s,
        entry_lat=SITE_LAT + 0.004,
        entry_lon=SITE_LON,
        class_="drone",
        reason="approaching",
    )


def scan(t_s: float, tracks, alerts=()) -> ScanOutput:
    return ScanOutput(t_s=t_s, tracks=tuple(tracks), alerts=tuple(alerts))


async def deliver_each(sink: HttpAlertPoster, scans: Iterable[ScanOutput]) -> None:
    """Offer each scan to an HTTP alert sink and deliver its alerts before the next."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        for s in scans:
            sink.offer(s)
            while len(sink.alerts):
                await sink.deliver_once(client)
