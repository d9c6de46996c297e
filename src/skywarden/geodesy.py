"""WGS-84 geodetic <-> site East-North-Up <-> sensor range/azimuth/elevation.

All functions are vectorised over NumPy arrays. Geodetic coordinates are
degrees and metres above the WGS-84 ellipsoid; everything else is SI with
angles in radians. Azimuth is clockwise from true north in [0, 2*pi);
elevation is above the local horizontal *at the sensor*.

The geodetic conversions are pymap3d's. A sensor's own ENU frame differs from
the site's by a fixed rotation (the two tangent planes meet at an angle of
about distance / Earth radius) and a translation; :class:`SensorGeometry`
precomputes both once, so the tracker's hot path maps many states into a
sensor's frame with one matrix product instead of a round trip through ECEF.
"""

from __future__ import annotations

import numpy as np
import pymap3d

from .types import Sensor, Site

#: An array, or one number where a function takes scalars too.
Floats = np.ndarray | float


class LocalFrame:
    """The site's local East-North-Up frame, origin at (lat0, lon0, alt0)."""

    def __init__(self, lat_deg: float, lon_deg: float, alt_m: float) -> None:
        self.lat_deg = float(lat_deg)
        self.lon_deg = float(lon_deg)
        self.alt_m = float(alt_m)

    @classmethod
    def from_site(cls, site: Site) -> LocalFrame:
        return cls(site.lat, site.lon, site.alt_m)

    def to_enu(self, lat_deg: Floats, lon_deg: Floats, alt_m: Floats) -> np.ndarray:
        """Geodetic points -> ENU positions, shape (n, 3) metres (or (3,) for scalars)."""
        e, n, u = pymap3d.geodetic2enu(
            lat_deg, lon_deg, alt_m, self.lat_deg, self.lon_deg, self.alt_m
        )
        return np.stack(np.broadcast_arrays(e, n, u), axis=-1).astype(float)

    def to_geodetic(self, enu_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ENU positions (..., 3) metres -> (lat_deg, lon_deg, alt_m)."""
        enu_m = np.asarray(enu_m, dtype=float)
        lat, lon, alt = pymap3d.enu2geodetic(
            enu_m[..., 0], enu_m[..., 1], enu_m[..., 2], self.lat_deg, self.lon_deg, self.alt_m
        )
        return np.asarray(lat), np.asarray(lon), np.asarray(alt)

    def rotation_from(self, lat_deg: float, lon_deg: float) -> np.ndarray:
        """Rotation (3, 3) taking vectors in the ENU axes at (lat, lon) into this frame's axes."""
        # Columns: the other frame's E, N, U unit vectors expressed in ECEF, then in ours.
        cols = []
        for v in np.eye(3):
            x, y, z = pymap3d.enu2uvw(v[0], v[1], v[2], lat_deg, lon_deg)
            cols.append(pymap3d.ecef2enuv(x, y, z, self.lat_deg, self.lon_deg))
        return np.array(cols, dtype=float).T


def enu_to_aer(enu_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors (..., 3) in a local ENU frame -> (range_m, az_rad in [0, 2pi), el_rad)."""
    enu_m = np.asarray(enu_m, dtype=float)
    az, el, rng = pymap3d.enu2aer(enu_m[..., 0], enu_m[..., 1], enu_m[..., 2], deg=False)
    return np.asarray(rng), np.asarray(az), np.asarray(el)


def aer_to_enu(range_m: Floats, az_rad: Floats, el_rad: Floats) -> np.ndarray:
    """(range_m, az_rad, el_rad) -> vectors (..., 3) in the same local ENU frame."""
    e, n, u = pymap3d.aer2enu(az_rad, el_rad, range_m, deg=False)
    return np.stack(np.broadcast_arrays(e, n, u), axis=-1).astype(float)


class SensorGeometry:
    """A sensor's position and axes relative to the site frame.

    ``pos_enu_m`` (3,) is the sensor in site ENU; ``rot`` (3, 3) rotates a site-ENU
    vector into the sensor's own ENU axes (so azimuth is about the sensor's north
    and elevation above its own horizon).
    """

    def __init__(self, frame: LocalFrame, lat_deg: float, lon_deg: float, alt_m: float) -> None:
        self.frame = frame
        self.pos_enu_m = frame.to_enu(lat_deg, lon_deg, alt_m).reshape(3)
        # frame.rotation_from maps sensor axes -> site axes; we need the inverse.
        self.rot = frame.rotation_from(lat_deg, lon_deg).T

    @classmethod
    def from_sensor(cls, frame: LocalFrame, sensor: Sensor) -> SensorGeometry:
        return cls(frame, sensor.lat, sensor.lon, sensor.alt_m)

    def to_local(self, pos_enu_m: np.ndarray) -> np.ndarray:
        """Site-ENU points (..., 3) -> vectors (..., 3) from the sensor, in its own ENU axes."""
        # v = R (p - s)
        return (np.asarray(pos_enu_m, dtype=float) - self.pos_enu_m) @ self.rot.T

    def from_local(self, vec_m: np.ndarray) -> np.ndarray:
        """Vectors (..., 3) in the sensor's ENU axes -> site-ENU points."""
        # p = R' v + s
        return np.asarray(vec_m, dtype=float) @ self.rot + self.pos_enu_m

    def to_aer(self, pos_enu_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Site-ENU points (..., 3) -> (range_m, az_rad, el_rad) as this sensor sees them."""
        return enu_to_aer(self.to_local(pos_enu_m))

    def from_aer(self, range_m: Floats, az_rad: Floats, el_rad: Floats) -> np.ndarray:
        """(range_m, az_rad, el_rad) seen by this sensor -> site-ENU points (..., 3)."""
        return self.from_local(aer_to_enu(range_m, az_rad, el_rad))

    def range_rate(self, pos_enu_m: np.ndarray, vel_enu_mps: np.ndarray) -> np.ndarray:
        """Range rate (m/s, positive receding) of points moving with ``vel_enu_mps``."""
        d = np.asarray(pos_enu_m, dtype=float) - self.pos_enu_m
        r = np.linalg.norm(d, axis=-1)
        return np.einsum("...i,...i->...", d, vel_enu_mps) / np.maximum(r, 1e-9)


def wrap_angle(a_rad: Floats) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (np.asarray(a_rad) + np.pi) % (2.0 * np.pi) - np.pi


def azimuth_window_pairs(
    centre_rad: np.ndarray, half_rad: Floats, az_rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) with ``az_rad[j]`` within ``half_rad`` (scalar or per centre)
    of ``centre_rad[i]``, all radians of any turn: the azimuths sorted once and a window
    per centre, not every pair. Centre-major, each centre's azimuths in ascending order;
    a half-width of pi or more takes them all. Edges are inclusive with no slack: a
    caller that needs a superset widens ``half_rad``."""
    m, n = centre_rad.shape[0], az_rad.shape[0]
    if m == 0 or n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    turn = 2.0 * np.pi
    a = np.asarray(az_rad) % turn
    order = np.argsort(a, kind="stable")
    a = a[order]
    # Azimuths wrap: search a copy a turn below and a turn above as well.
    ring = np.concatenate([a - turn, a, a + turn])
    c = np.asarray(centre_rad) % turn
    half = np.broadcast_to(np.asarray(half_rad, dtype=float), (m,))
    lo = np.searchsorted(ring, c - half, side="left")
    hi = np.searchsorted(ring, c + half, side="right")
    wide = half >= np.pi
    lo[wide], hi[wide] = n, 2 * n
    counts = hi - lo
    i = np.repeat(np.arange(m), counts)
    start = np.repeat(lo - np.cumsum(counts) + counts, counts)
    return i, order[(np.arange(i.shape[0]) + start) % n]
