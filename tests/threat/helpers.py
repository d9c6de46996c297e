"""Zones and track tables in a test site's ENU frame."""

from __future__ import annotations

import numpy as np

from skywarden.classify import ClassResult
from skywarden.geodesy import LocalFrame
from skywarden.types import CLASSES, CONFIRMED, TrackTable, Zone

FRAME = LocalFrame(51.5, -0.1, 20.0)


def zone_enu(
    zid: str, xy_m: list[tuple[float, float]], floor_u_m=-20.0, ceiling_u_m=400.0, priority=None
) -> Zone:
    """A zone from ENU vertices (metres) and floor/ceiling relative to the site."""
    xy = np.asarray(xy_m, float)
    lat, lon, _ = FRAME.to_geodetic(np.column_stack([xy, np.zeros(len(xy))]))
    return Zone(
        id=zid,
        name=f"Zone {zid}",
        polygon=[(float(a), float(b)) for a, b in zip(lon, lat, strict=True)],
        floor_m=FRAME.alt_m + floor_u_m,
        ceiling_m=FRAME.alt_m + ceiling_u_m,
        priority=priority,
    )


def table(
    t_s: float, ids, x, status=None, identity=None, pos_sigma_m=10.0, vel_sigma_mps=1.0
) -> TrackTable:
    x = np.atleast_2d(np.asarray(x, float))
    n = x.shape[0]
    P = np.zeros((n, 6, 6))
    P[:, :3, :3] = np.eye(3) * pos_sigma_m**2
    P[:, 3:, 3:] = np.eye(3) * vel_sigma_mps**2
    return TrackTable(
        t_s=t_s,
        id=np.asarray(ids, np.int64),
        status=np.full(n, CONFIRMED, np.int8) if status is None else np.asarray(status, np.int8),
        x=x,
        P=P,
        identity=np.full(n, "", object) if identity is None else np.asarray(identity, object),
        n_updates=np.full(n, 20),
        t_first_s=np.full(n, t_s - 60.0),
        t_last_update_s=np.full(n, t_s),
        mode_p=np.ones((n, 1)),
    )


def classes(p_rows, cooperative=None, spoof=None) -> ClassResult:
    p = np.atleast_2d(np.asarray(p_rows, float))
    n = p.shape[0]
    return ClassResult(
        p=p,
        label=np.asarray(CLASSES, object)[np.argmax(p, axis=1)],
        cooperative=np.zeros(n, bool) if cooperative is None else np.asarray(cooperative, bool),
        spoof=np.zeros(n, bool) if spoof is None else np.asarray(spoof, bool),
    )


DRONE = [0.9, 0.04, 0.02, 0.02, 0.02]
BIRD = [0.05, 0.9, 0.02, 0.01, 0.02]
UNKNOWN = [0.2, 0.2, 0.1, 0.1, 0.4]
