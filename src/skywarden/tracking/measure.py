"""Measurement models per sensor kind, vectorised over many (track, detection) pairs.

Every model maps track states ``x (k, 6)`` in site ENU to predicted measurements
``zhat (k, m)`` and their Jacobians ``H (k, m, 6)`` (an EKF linearisation about
the prediction; exact for the position model). Sensor-native measurements stay
in the sensor's own frame: a radar's range/azimuth/elevation are predicted from
the state, never converted into Cartesian for the update, so no conversion
bias enters the filter.

Measurement vectors, SI units:
- position-like (``position``, ``remoteid``, ``adsb``): ``[e_m, n_m, u_m]`` site ENU;
- radar: ``[range_m, az_rad, el_rad]`` or with ``range_rate_mps`` appended;
- bearing (``rf``, ``camera``): ``[az_rad]`` or ``[az_rad, el_rad]``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from ..geodesy import SensorGeometry, aer_to_enu
from ..types import Sensor

#: One-sigma noise assumed when a sensor line gives none (or gives 0), by sensor kind
#: and ``Sensor`` field (metres, degrees, m/s). The tracker and the spoof check both
#: read it through :func:`sigma_of`. (The simulator's own sensor noise is a different
#: thing: it writes its sigmas into every sensor line it makes.)
DEFAULT_SIGMAS: dict[str, dict[str, float]] = {
    "position": {"sigma_pos_m": 10.0},
    "remoteid": {"sigma_pos_m": 5.0},
    "adsb": {"sigma_pos_m": 30.0},
    "radar": {
        "sigma_range_m": 10.0,
        "sigma_az_deg": 0.5,
        "sigma_el_deg": 0.5,
        "sigma_range_rate_mps": 1.0,
    },
    "rf": {"sigma_az_deg": 2.0, "sigma_el_deg": 4.0},
    "camera": {"sigma_az_deg": 0.2, "sigma_el_deg": 0.2},
}


def sigma_of(sensor: Sensor, field: str) -> float:
    """The sensor's one-sigma ``field`` (e.g. ``"sigma_az_deg"``), else its kind's default."""
    v = getattr(sensor, field)
    return float(v) if v else DEFAULT_SIGMAS[sensor.kind][field]


class ModelKind(enum.StrEnum):
    """Measurement spaces: site ENU position, radar range/azimuth/elevation(/rate), bearings."""

    POSITION = "pos"
    RADAR = "radar"
    BEARING = "bearing"


@dataclass(frozen=True)
class MeasurementModel:
    """A measurement function, its noise and which components are angles.

    ``R`` (m, m) measurement noise covariance; ``angles`` (m,) bool marks
    components whose residuals wrap to [-pi, pi).
    """

    kind: ModelKind
    R: np.ndarray
    angles: np.ndarray
    geom: SensorGeometry | None = None
    with_rate: bool = False
    with_el: bool = True

    @property
    def dim(self) -> int:
        return int(self.R.shape[0])

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurements zhat (k, m) and Jacobians H (k, m, 6) for states x (k, 6)."""
        if self.kind is ModelKind.POSITION:
            k = x.shape[0]
            H = np.zeros((k, 3, 6))
            H[:, 0, 0] = H[:, 1, 1] = H[:, 2, 2] = 1.0
            return x[:, :3].copy(), H
        assert self.geom is not None
        rot = self.geom.rot
        v = (x[:, :3] - self.geom.pos_enu_m) @ rot.T  # relative position, sensor axes
        ve, vn, vu = v[:, 0], v[:, 1], v[:, 2]
        rh2 = np.maximum(ve * ve + vn * vn, 1e-6)
        rh = np.sqrt(rh2)
        r = np.sqrt(rh2 + vu * vu)
        az = np.arctan2(ve, vn) % (2 * math.pi)
        el = np.arctan2(vu, rh)
        k = x.shape[0]
        # Derivatives with respect to v (sensor axes), then chained through v = R (p - s).
        d_az = np.stack([vn / rh2, -ve / rh2, np.zeros(k)], axis=1)
        d_el = np.stack([-ve * vu, -vn * vu, rh2], axis=1) / (r * r * rh)[:, None]
        rows_z = []
        rows_h = []
        if self.kind is ModelKind.RADAR:
            d_r = v / r[:, None]
            rows_z.append(r)
            rows_h.append(np.concatenate([d_r @ rot, np.zeros((k, 3))], axis=1))
        rows_z.append(az)
        rows_h.append(np.concatenate([d_az @ rot, np.zeros((k, 3))], axis=1))
        if self.with_el:
            rows_z.append(el)
            rows_h.append(np.concatenate([d_el @ rot, np.zeros((k, 3))], axis=1))
        if self.with_rate:
            w = x[:, 3:] @ rot.T
            u = v / r[:, None]
            rr = np.einsum("ki,ki->k", u, w)
            # d rr / d v = (w - rr u) / r ; d rr / d w = u
            d_rr_p = ((w - rr[:, None] * u) / r[:, None]) @ rot
            d_rr_v = u @ rot
            rows_z.append(rr)
            rows_h.append(np.concatenate([d_rr_p, d_rr_v], axis=1))
        return np.stack(rows_z, axis=1), np.stack(rows_h, axis=1)

    def residual(self, z: np.ndarray, zhat: np.ndarray) -> np.ndarray:
        """z - zhat with angle components wrapped to [-pi, pi)."""
        y = z - zhat
        if self.angles.any():
            y[..., self.angles] = (y[..., self.angles] + math.pi) % (2 * math.pi) - math.pi
        return y

    def to_position(self, z: np.ndarray) -> np.ndarray | None:
        """Site-ENU positions (k, 3) implied by full-position measurements, else None."""
        if self.kind is ModelKind.POSITION:
            return z[:, :3]
        if self.kind is ModelKind.RADAR:
            assert self.geom is not None
            return self.geom.from_aer(z[:, 0], z[:, 1], z[:, 2])
        return None

    def position_cov(self, z: np.ndarray) -> np.ndarray | None:
        """Covariance (k, 3, 3) of ``to_position`` by first-order propagation, else None."""
        if self.kind is ModelKind.POSITION:
            return np.broadcast_to(self.R[:3, :3], (z.shape[0], 3, 3)).copy()
        if self.kind != "radar":
            return None
        assert self.geom is not None
        r, az, el = z[:, 0], z[:, 1], z[:, 2]
        se, ce, sa, ca = np.sin(el), np.cos(el), np.sin(az), np.cos(az)
        # d(e, n, u)/d(r, az, el) in sensor axes for e = r ce sa, n = r ce ca, u = r se
        J = np.empty((z.shape[0], 3, 3))
        J[:, 0] = np.stack([ce * sa, r * ce * ca, -r * se * sa], axis=1)
        J[:, 1] = np.stack([ce * ca, -r * ce * sa, -r * se * ca], axis=1)
        J[:, 2] = np.stack([se, np.zeros_like(r), r * ce], axis=1)
        Rr = self.R[:3, :3]
        C = J @ Rr @ J.transpose(0, 2, 1)
        rot = self.geom.rot
        return rot.T @ C @ rot


def model_for(
    sensor: Sensor, geom: SensorGeometry, *, with_rate: bool = False, with_el: bool = True
) -> MeasurementModel:
    """The measurement model of ``sensor`` (noise from its sigmas, else defaults)."""
    kind = sensor.kind
    if kind in ("position", "remoteid", "adsb"):
        s = sigma_of(sensor, "sigma_pos_m")
        return MeasurementModel(ModelKind.POSITION, np.eye(3) * s * s, np.zeros(3, bool))
    if kind == "radar":
        sr = sigma_of(sensor, "sigma_range_m")
        sa = math.radians(sigma_of(sensor, "sigma_az_deg"))
        se = math.radians(sigma_of(sensor, "sigma_el_deg"))
        sig = [sr, sa, se]
        ang = [False, True, True]
        if with_rate:
            sig.append(sigma_of(sensor, "sigma_range_rate_mps"))
            ang.append(False)
        return MeasurementModel(
            ModelKind.RADAR, np.diag(np.square(sig)), np.array(ang), geom, with_rate=with_rate
        )
    sa = math.radians(sigma_of(sensor, "sigma_az_deg"))
    se = math.radians(sigma_of(sensor, "sigma_el_deg"))
    sig = [sa, se] if with_el else [sa]
    return MeasurementModel(
        ModelKind.BEARING, np.diag(np.square(sig)), np.ones(len(sig), bool), geom, with_el=with_el
    )


def bearing_rays(geom: SensorGeometry, az_rad: np.ndarray, el_rad: np.ndarray) -> np.ndarray:
    """Unit direction vectors (k, 3) in site ENU for bearings seen by a sensor."""
    return aer_to_enu(np.ones_like(az_rad), az_rad, el_rad) @ geom.rot
