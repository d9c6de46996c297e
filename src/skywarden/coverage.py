"""Sensor coverage: is a point inside a sensor's range, azimuth sector and elevation limits?

Shared by the simulator (which objects a sensor can see) and evaluation (which
truth objects a sensor could have seen). Azimuth sectors follow the ``fov``
convention of CONVENTIONS.md: ``az_min_deg > az_max_deg`` wraps through north.
"""

from __future__ import annotations

import numpy as np

from .geodesy import SensorGeometry
from .types import Sensor


def in_coverage_aer(
    sensor: Sensor, range_m: np.ndarray, az_rad: np.ndarray, el_rad: np.ndarray
) -> np.ndarray:
    """Coverage test on sensor-frame coordinates (n,) each: bool (n,), limits inclusive."""
    range_m = np.asarray(range_m, dtype=float)
    ok = np.ones(range_m.shape, dtype=bool)
    if sensor.max_range_m is not None:
        ok &= range_m <= sensor.max_range_m
    fov = sensor.fov
    if fov is None:
        return ok
    width_deg = fov.az_max_deg - fov.az_min_deg
    if width_deg < 360.0:
        lo_deg = fov.az_min_deg % 360.0
        # Measure every azimuth clockwise from the sector's start, so one
        # comparison covers sectors that wrap through north.
        width_deg %= 360.0
        off_deg = (np.degrees(np.asarray(az_rad, dtype=float)) - lo_deg) % 360.0
        ok &= off_deg <= width_deg
    el_deg = np.degrees(np.asarray(el_rad, dtype=float))
    ok &= (el_deg >= fov.el_min_deg) & (el_deg <= fov.el_max_deg)
    return ok


def in_coverage(sensor: Sensor, geom: SensorGeometry, pos_enu_m: np.ndarray) -> np.ndarray:
    """Which site-ENU points (n, 3) metres the sensor covers: bool (n,)."""
    range_m, az_rad, el_rad = geom.to_aer(np.atleast_2d(np.asarray(pos_enu_m, dtype=float)))
    return in_coverage_aer(sensor, range_m, az_rad, el_rad)
