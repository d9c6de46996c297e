"""The vectorised zone geometry against shapely and against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skywarden.threat import ZoneSet
from skywarden.threat.geometry import (
    arrival,
    closing_time,
    distance_xy,
    nearest_xy,
    position_sigma,
    possible_arrival,
    reach,
)

from .helpers import FRAME, zone_enu
from .test_zones import SQUARE, U_SHAPE


def _zones() -> ZoneSet:
    ring = [(3000 + 400 * np.sin(a), -2000 + 400 * np.cos(a)) for a in np.linspace(0, 6.2, 32)]
    return ZoneSet(
        [
            zone_enu("sq", SQUARE),
            zone_enu("u", [(x - 6000, y + 4000) for x, y in U_SHAPE], 50.0, 150.0),
            zone_enu("c", ring, 0.0, 300.0),
        ],
        FRAME,
    )


@pytest.mark.parametrize("seed", range(3))
def test_distance_and_nearest_point_equal_shapely_to_the_bit(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-9000, 9000, 3000), rng.uniform(-700, 700, 500)])
    y = np.concatenate([rng.uniform(-9000, 9000, 3000), rng.uniform(-700, 700, 500)])
    x[:4], y[:4] = [500, -500, 0, 500], [0, -500, 500, 500]  # on edges and vertices
    zs = _zones()
    pts = shapely.points(x, y)
    for k, z in enumerate(zs):
        j = np.full(x.shape[0], k)
        np.testing.assert_array_equal(
            distance_xy(zs, j, x, y), shapely.distance(z.polygon_enu, pts)
        )
        line = shapely.get_coordinates(shapely.shortest_line(pts, z.polygon_enu)).reshape(-1, 2, 2)
        np.testing.assert_array_equal(nearest_xy(zs, j, x, y), line[:, 1])
    # Pairs of mixed zones at once give the same.
    j = rng.integers(0, len(zs), x.shape[0])
    want = np.array(
        [shapely.distance(zs.zones[k].polygon_enu, pt) for k, pt in zip(j, pts, strict=True)]
    )
    np.testing.assert_array_equal(distance_xy(zs, j, x, y), want)


@pytest.mark.parametrize("seed", range(4))
def test_pairs_ruled_out_have_no_arrival_no_possible_arrival_and_no_closing(seed):
    rng = np.random.default_rng(10 + seed)
    zs = _zones()
    n = 4000
    p = np.column_stack([rng.uniform(-15000, 15000, (n, 2)), rng.uniform(0, 400, n)])
    speed = rng.uniform(0, 80, n)
    hdg = rng.uniform(0, 2 * np.pi, n)
    v = np.column_stack([speed * np.sin(hdg), speed * np.cos(hdg), rng.normal(0, 2, n)])
    v[:20] = 0.0  # hovering
    horizon = np.array([200.0, 400.0, 600.0])
    t_samp = np.arange(0.0, 300.0 + 1e-9, 5.0)
    P = np.zeros((n, 6, 6))
    P[:, :3, :3] = np.eye(3) * rng.uniform(5, 300, n)[:, None, None] ** 2
    P[:, 3:, 3:] = np.eye(3) * rng.uniform(0.5, 10, n)[:, None, None] ** 2
    sig = position_sigma(P, t_samp, np.full(n, 3.0))
    straight, may, near = reach(zs, p, v, horizon, float(t_samp[-1]), 400.0, 0.7)
    assert may.any() and not may.all()
    assert (may >= straight).all() and (may > straight).any() and straight.any()
    assert (may >= near).all() and (may > near).any() and near.any()
    for j in range(len(zs)):
        zj = np.full(n, j)
        out = ~straight[:, j]
        t_str, _ = arrival(zs, zj[out], p[out], v[out], horizon[j], 30.0)
        assert np.isinf(t_str).all()
        out = ~near[:, j]
        t_pos = possible_arrival(zs, zj[out], p[out], v[out], sig[out], t_samp, 2.0, 400.0, 30.0)
        assert np.isinf(t_pos).all()
        out = ~may[:, j]
        assert (closing_time(zs, zj[out], p[out], v[out], 0.7) > horizon[j]).all()
        # And it does keep the pairs that have them.
        t_all, _ = arrival(zs, zj, p, v, horizon[j], 30.0)
        assert np.isfinite(t_all).any() and straight[np.isfinite(t_all), j].all()
        t_all = possible_arrival(zs, zj, p, v, sig, t_samp, 2.0, 400.0, 30.0)
        assert np.isfinite(t_all).any() and near[np.isfinite(t_all), j].all()
