"""Zone geometry: floor/ceiling, concave polygons, antimeridian, GeoJSON, time to arrival."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skywarden.threat import ZoneError, ZoneSet, load_geojson
from skywarden.threat.geometry import arrival
from skywarden.types import Zone

from .helpers import FRAME, zone_enu

SQUARE = [(-500, -500), (500, -500), (500, 500), (-500, 500)]
# A "U": the notch x in (-200, 200), y > -200 is outside.
U_SHAPE = [
    (-500, -500),
    (500, -500),
    (500, 500),
    (200, 500),
    (200, -200),
    (-200, -200),
    (-200, 500),
    (-500, 500),
]


def test_floor_and_ceiling_bound_the_prism():
    zs = ZoneSet([zone_enu("a", SQUARE, floor_u_m=50.0, ceiling_u_m=150.0)], FRAME)
    pts = np.array([[0, 0, 100], [0, 0, 40], [0, 0, 160], [0, 0, 50], [0, 0, 150], [600, 0, 100]])
    np.testing.assert_array_equal(zs.contains(pts)[:, 0], [True, False, False, True, True, False])


def test_concave_notch_is_outside():
    zs = ZoneSet([zone_enu("u", U_SHAPE)], FRAME)
    pts = np.array([[0, 200, 100], [0, -400, 100], [-350, 300, 100], [350, 300, 100]])
    np.testing.assert_array_equal(zs.contains(pts)[:, 0], [False, True, True, True])


def test_antimeridian_zone_is_rejected():
    z = Zone(id="fiji", name="x", polygon=[(179.9, -17.0), (-179.9, -17.0), (-179.9, -17.1), (179.9, -17.1)],
             floor_m=0.0, ceiling_m=500.0)  # fmt: skip
    with pytest.raises(ZoneError, match="antimeridian"):
        ZoneSet([z], FRAME)


def test_geojson_zones(tmp_path):
    z = zone_enu("x", U_SHAPE)
    ring = [list(p) for p in z.polygon] + [list(z.polygon[0])]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": "f1", "geometry": {"type": "Polygon", "coordinates": [ring]},
             "properties": {"name": "Depot", "floor_m": 0.0, "ceiling_m": 300.0, "priority": 1}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
             "properties": {"id": "z2", "name": "Yard", "floor_m": 10.0, "ceiling_m": 200.0}},
        ],
    }  # fmt: skip
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(doc))
    zones = load_geojson(path)
    assert [z.id for z in zones] == ["f1", "z2"]
    assert zones[0].priority == 1 and zones[1].priority is None
    assert len(zones[0].polygon) == len(U_SHAPE)  # closing vertex dropped
    ZoneSet(zones, FRAME)
    doc["features"][0]["properties"]["ceiling_m"] = -5.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ZoneError, match="ceiling_m"):
        load_geojson(path)
    doc["features"][0]["geometry"]["coordinates"] = [ring, ring]
    path.write_text(json.dumps(doc))
    with pytest.raises(ZoneError, match="holes"):
        load_geojson(path)


def test_time_to_arrival_and_entry_point_of_straight_tracks():
    rng = np.random.default_rng(7)
    zs = ZoneSet([zone_enu("a", SQUARE, floor_u_m=0.0, ceiling_u_m=300.0)], FRAME)
    n = 200
    # Start 60..400 s out, aimed at random points of the square, with random speeds.
    speed = rng.uniform(5, 40, n)
    target = rng.uniform(-450, 450, (n, 2))
    bearing = rng.uniform(0, 2 * np.pi, n)
    v_h = -speed[:, None] * np.column_stack([np.sin(bearing), np.cos(bearing)])
    t_true = rng.uniform(60, 400, n)
    # Where the straight line meets the square's boundary, found by fine stepping.
    start = target - v_h * (t_true[:, None] + 2000.0 / speed[:, None])
    tt = np.arange(0, 6000, 0.05)
    path = start[:, None, :] + v_h[:, None, :] * tt[None, :, None]
    inside = (np.abs(path) <= 500).all(axis=2)
    first = np.argmax(inside, axis=1)
    # Put each track 60..400 s before its entry.
    p0 = start + v_h * (tt[first] - t_true)[:, None]
    x = np.column_stack([p0, np.full(n, 100.0), v_h, np.zeros(n)])
    tta, entry = arrival(zs, np.zeros(len(x), int), x[:, :3], x[:, 3:], 1000.0)
    np.testing.assert_allclose(tta, t_true, rtol=0.01, atol=0.2)
    truth_entry = start + v_h * tt[first][:, None]
    assert np.max(np.hypot(*(entry[:, :2] - truth_entry).T)) < 2.0 * speed.max() * 0.05 + 1.0
    # Entry points lie on the boundary.
    assert np.allclose(np.max(np.abs(entry[:, :2]), axis=1), 500.0, atol=0.5)


def test_arrival_through_a_concave_zone_and_vertical_limits():
    # A many-sided zone first, so that the U's 8 edges are padded in the shared edge array.
    ring = [(9000 + 300 * np.sin(a), 300 * np.cos(a)) for a in np.linspace(0, 6.2, 40)]
    zs = ZoneSet(
        [zone_enu("far", ring), zone_enu("u", U_SHAPE, floor_u_m=50.0, ceiling_u_m=150.0)], FRAME
    )

    def tta_u(x):
        return arrival(zs, np.ones(len(x), int), x[:, :3], x[:, 3:], 1000.0)[0]

    # Flying north up the notch: never inside.
    x = np.array(
        [[0, -100, 100, 0, 10, 0], [-350, -1000, 100, 0, 10, 0], [-350, -1000, 0, 0, 10, 1]]
    )
    tta = tta_u(x)
    assert np.isinf(tta[0])
    assert tta[1] == pytest.approx(50.0, abs=0.05)
    # Climbing at 1 m/s from 0 m: reaches the floor (50 m) at 50 s, after the edge.
    assert tta[2] == pytest.approx(50.0, abs=0.05)
    assert tta_u(np.array([[-350, -1000, 0, 0, 10, 0.5]]))[0] == pytest.approx(100.0, abs=0.05)
    # Inside now: 0.
    assert tta_u(np.array([[-350, 0, 100, 5, 0, 0]]))[0] == 0.0
