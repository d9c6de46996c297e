"""Sensor coverage: range, azimuth sectors (also through north) and elevation limits."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.coverage import in_coverage, in_coverage_aer
from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.types import FieldOfView, Sensor

FRAME = LocalFrame(51.0, 1.0, 0.0)


def _sensor(fov: FieldOfView | None, max_range_m: float | None = 5_000.0) -> Sensor:
    return Sensor(
        id="s", kind="camera", lat=51.0, lon=1.0, alt_m=0.0, max_range_m=max_range_m, fov=fov
    )


def test_sector_through_north_range_and_elevation():
    s = _sensor(FieldOfView(az_min_deg=350.0, az_max_deg=10.0, el_min_deg=0.0, el_max_deg=20.0))
    geom = SensorGeometry.from_sensor(FRAME, s)
    az = np.radians([355.0, 5.0, 0.0, 20.0, 340.0, 5.0, 5.0, 5.0])
    el = np.radians([5.0, 5.0, 5.0, 5.0, 5.0, -1.0, 25.0, 5.0])
    rng = np.array([1e3, 1e3, 1e3, 1e3, 1e3, 1e3, 1e3, 6e3])
    want = [True, True, True, False, False, False, False, False]
    pts = geom.from_aer(rng, az, el)
    assert in_coverage(s, geom, pts).tolist() == want
    assert in_coverage_aer(s, rng, az, el).tolist() == want


def test_negative_az_min_and_no_fov():
    s = _sensor(FieldOfView(az_min_deg=-30.0, az_max_deg=30.0))
    az = np.radians([331.0, 29.0, 31.0, 180.0])
    assert in_coverage_aer(s, np.ones(4), az, np.zeros(4)).tolist() == [True, True, False, False]
    everywhere = _sensor(None, None)
    assert in_coverage_aer(everywhere, np.full(4, 1e7), az, np.zeros(4)).all()


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(0.0, 359.0),
    width=st.floats(1.0, 359.0),
    az=st.floats(0.0, 359.999),
)
def test_sector_matches_angular_distance(lo, width, az):
    hi = lo + width if lo + width <= 360.0 else lo + width - 360.0
    s = _sensor(FieldOfView(az_min_deg=lo, az_max_deg=hi))
    got = bool(in_coverage_aer(s, np.array([1.0]), np.radians([az]), np.zeros(1))[0])
    # Reference: az is inside when walking clockwise from lo reaches it within width.
    off = (az - lo) % 360.0
    # Skip azimuths within rounding of a sector edge.
    if min(abs(off - width), off, 360.0 - off) > 1e-6:
        assert got == (off <= width)
