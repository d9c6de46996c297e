import math

import numpy as np
import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.geodesy import (
    LocalFrame,
    SensorGeometry,
    aer_to_enu,
    azimuth_window_pairs,
    enu_to_aer,
    wrap_angle,
)

A = 6378137.0  # WGS-84 semi-major axis, m
F = 1 / 298.257223563
E2 = F * (2 - F)
B = A * (1 - F)


def test_ecef_reference_points():
    # Published WGS-84 constants: the equator/prime meridian and the pole.
    assert np.allclose(pymap3d.geodetic2ecef(0, 0, 0), (A, 0, 0), atol=1e-6)
    assert np.allclose(pymap3d.geodetic2ecef(90, 0, 0), (0, 0, 6356752.314245), atol=1e-3)


def test_enu_matches_closed_form_ecef_difference():
    # ENU of a point computed by hand from the closed-form geodetic->ECEF formulas.
    lat0, lon0, h0 = 45.0, 45.0, 0.0
    lat, lon, h = 45.1, 45.2, 1000.0

    def ecef(la, lo, hh):
        la, lo = math.radians(la), math.radians(lo)
        n = A / math.sqrt(1 - E2 * math.sin(la) ** 2)
        return np.array(
            [
                (n + hh) * math.cos(la) * math.cos(lo),
                (n + hh) * math.cos(la) * math.sin(lo),
                (n * (1 - E2) + hh) * math.sin(la),
            ]
        )

    d = ecef(lat, lon, h) - ecef(lat0, lon0, h0)
    p, lm = math.radians(lat0), math.radians(lon0)
    r = np.array(
        [
            [-math.sin(lm), math.cos(lm), 0],
            [-math.sin(p) * math.cos(lm), -math.sin(p) * math.sin(lm), math.cos(p)],
            [math.cos(p) * math.cos(lm), math.cos(p) * math.sin(lm), math.sin(p)],
        ]
    )
    expected = r @ d
    got = LocalFrame(lat0, lon0, h0).to_enu(lat, lon, h)
    assert np.allclose(got, expected, atol=1e-6)


def test_target_due_north_is_below_horizon_by_earth_curvature():
    f = LocalFrame(51.0, 0.0, 0.0)
    # One minute of latitude is about 1852 m; ~10 km north at the same height.
    enu = f.to_enu(51.0 + 10_000 / 111_250, 0.0, 0.0)
    rng, az, el = enu_to_aer(enu)
    assert abs(rng - 10_000) < 50
    assert abs(math.degrees(wrap_angle(az))) < 1e-6
    drop = rng**2 / (2 * 6_371_000)  # curvature drop, m
    assert math.isclose(el, -drop / rng, rel_tol=0.01)


def test_sensor_geometry_matches_pymap3d_geodetic2aer():
    f = LocalFrame(51.0, 0.0, 10.0)
    g = SensorGeometry(f, 51.3, 0.4, 50.0)
    lat = np.array([51.2, 51.5, 50.9])
    lon = np.array([0.1, 0.6, -0.3])
    alt = np.array([100.0, 2000.0, 500.0])
    rng, az, el = g.to_aer(f.to_enu(lat, lon, alt))
    az_ref, el_ref, rng_ref = pymap3d.geodetic2aer(lat, lon, alt, 51.3, 0.4, 50.0)
    assert np.allclose(rng, rng_ref, atol=1e-6)
    assert np.allclose(np.degrees(az), az_ref, atol=1e-9)
    assert np.allclose(np.degrees(el), el_ref, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-80, 80),
    st.floats(-179, 179),
    st.floats(-50_000, 50_000),
    st.floats(-50_000, 50_000),
    st.floats(-100, 10_000),
)
def test_enu_geodetic_round_trip(lat0, lon0, e, n, u):
    f = LocalFrame(lat0, lon0, 20.0)
    lat, lon, alt = f.to_geodetic(np.array([e, n, u]))
    back = f.to_enu(lat, lon, alt)
    assert np.allclose(back, [e, n, u], atol=1e-4)


@settings(max_examples=200, deadline=None)
@given(st.floats(100.0, 1e5), st.floats(0, 2 * math.pi - 1e-9), st.floats(-1.5, 1.5))
def test_aer_round_trip(rng, az, el):
    r2, a2, e2 = enu_to_aer(aer_to_enu(rng, az, el))
    # pymap3d snaps ENU components under 1 mm to zero, so angles hold to ~1 mm / range.
    tol = 2e-3 / rng
    assert math.isclose(r2, rng, rel_tol=1e-9)
    assert abs(wrap_angle(a2 - az)) < tol / max(math.cos(el), 1e-12) or abs(math.cos(el)) < 1e-3
    assert abs(e2 - el) < tol


def test_range_rate_sign_receding_positive():
    f = LocalFrame(0, 0, 0)
    g = SensorGeometry(f, 0, 0, 0)
    p = np.array([[1000.0, 0, 0]])
    assert g.range_rate(p, np.array([[10.0, 0, 0]]))[0] > 9.99
    assert g.range_rate(p, np.array([[-10.0, 0, 0]]))[0] < -9.99


def test_wrap_angle_range():
    a = wrap_angle(np.linspace(-20, 20, 1001))
    assert a.min() >= -math.pi and a.max() < math.pi


@pytest.mark.parametrize("half_deg", [0.0, 0.5, 3.0, 30.0, 89.0, 120.0, 179.9, 180.0, 200.0])
def test_azimuth_window_holds_exactly_the_azimuths_within_the_half_width(half_deg):
    rng = np.random.default_rng(int(half_deg * 10))
    az = rng.uniform(-np.pi, 3 * np.pi, 500)  # any turn: the window wraps
    az[:4] = [0.0, 2 * np.pi - 1e-4, 1e-4, -1e-4]
    centre = np.concatenate([rng.uniform(-np.pi, 3 * np.pi, 60), [0.0, 2 * np.pi - 1e-5]])
    half = np.full(centre.shape, math.radians(half_deg))
    half[::7] /= 3.0  # a half-width per centre
    i, j = azimuth_window_pairs(centre, half, az)
    got = list(zip(i.tolist(), j.tolist(), strict=True))
    assert len(set(got)) == len(got)  # no pair twice
    assert np.all(np.diff(i) >= 0)  # centre-major
    d = np.abs(wrap_angle(az[None, :] - centre[:, None]))
    want = {(a, b) for a, b in zip(*np.nonzero(d <= half[:, None] - 1e-12), strict=True)}
    assert want <= set(got)
    # Nothing beyond the half-width (but for the rounding of the turn).
    assert np.all(d[i, j] <= half[i] + 1e-12)
    assert half_deg < 30 or half_deg >= 180 or len(got) < az.shape[0] * centre.shape[0]


def test_azimuth_window_of_nothing_is_empty():
    i, j = azimuth_window_pairs(np.array([1.0]), 0.1, np.empty(0))
    assert i.shape == j.shape == (0,)
    i, j = azimuth_window_pairs(np.empty(0), 0.1, np.array([1.0]))
    assert i.shape == j.shape == (0,)
