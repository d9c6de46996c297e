"""Sensor models: what each sensor reports about the truth at its own scan times.

Each model samples the truth (interpolated between 1 s grid points) at its
scan times, keeps what it covers (``coverage.in_coverage_aer``), draws
detections, adds Gaussian noise and Poisson clutter, and returns the
detections of a time chunk as ``Detection`` records, all vectorised over
objects x scans.

Radar detection follows the radar equation and a Swerling-1 target: the mean
SNR is SNR_ref * RCS / 1 m^2 * (R_ref / R)^4, where SNR_ref gives a 0 dBsm
target the sensor's ``pd`` at ``ref_range_m``; the echo power (noise units) is
exponential with mean 1 + SNR and is detected above the threshold
T = -ln(Pfa), so Pd = Pfa^(1 / (1 + SNR)). The reported ``snr_db`` is that
echo's SNR and ``rcs_dbsm`` the RCS it implies, so both fluctuate as a
Swerling-1 echo does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import msgspec
import numpy as np

from ..coverage import in_coverage_aer
from ..geodesy import LocalFrame, SensorGeometry
from ..types import Detection, Sensor
from .spec import SensorSpec
from .truth import Population

#: Noise sigmas a sensor gets when its spec leaves them unset.
DEFAULT_SIGMAS: dict[str, dict[str, float]] = {
    "radar": {
        "sigma_range_m": 15.0,
        "sigma_az_deg": 0.5,
        "sigma_el_deg": 0.8,
        "sigma_range_rate_mps": 0.5,
    },
    "rf": {"sigma_az_deg": 2.0},
    "camera": {"sigma_az_deg": 0.05, "sigma_el_deg": 0.05},
    "remoteid": {"sigma_pos_m": 3.0},
    "adsb": {"sigma_pos_m": 15.0},
    "position": {"sigma_pos_m": 10.0},
}
_SIGMA_KEYS = (
    "sigma_range_m",
    "sigma_az_deg",
    "sigma_el_deg",
    "sigma_range_rate_mps",
    "sigma_pos_m",
)


#: The ADS-B emitter category (DO-260B) a transponder of each spec kind is set to.
_EMITTER_BY_GROUP = {"airliner": "A3", "light_aircraft": "A1", "helicopter": "A7", "glider": "B1"}
#: For recorded flights, by their truth class (a light aircraft's for ``aircraft``).
_EMITTER_BY_CLASS = {"aircraft": "A1", "helicopter": "A7", "drone": "B6", "unknown": "B2"}


def emitter_category(truth_class: str, group: str) -> str | None:
    """The emitter category an object of ``truth_class`` from spec kind ``group`` broadcasts."""
    return _EMITTER_BY_GROUP.get(group) or _EMITTER_BY_CLASS.get(truth_class)


def snr_ref_for_pd(pd: float, pfa: float) -> float:
    """Linear SNR at which a Swerling-1 target is detected with ``pd``: ln(Pfa)/ln(Pd) - 1."""
    pd = min(max(pd, 1e-9), 1.0 - 1e-12)
    return math.log(pfa) / math.log(pd) - 1.0


def radar_snr_db(
    range_m: np.ndarray,
    rcs_dbsm: np.ndarray | float,
    *,
    pd_ref: float,
    ref_range_m: float,
    pfa: float,
) -> np.ndarray:
    """Mean SNR (dB) of a target at ``range_m`` with ``rcs_dbsm`` (radar equation, R^-4)."""
    snr_ref_db = 10.0 * math.log10(snr_ref_for_pd(pd_ref, pfa))
    r = np.maximum(np.asarray(range_m, dtype=float), 1.0)
    return snr_ref_db + np.asarray(rcs_dbsm) + 40.0 * np.log10(ref_range_m / r)


def swerling1_pd(snr_db: np.ndarray, pfa: float) -> np.ndarray:
    """Single-look Swerling-1 detection probability: Pd = Pfa^(1 / (1 + SNR))."""
    snr = 10.0 ** (np.asarray(snr_db, dtype=float) / 10.0)
    return pfa ** (1.0 / (1.0 + snr))


def sensor_record(spec: SensorSpec, frame: LocalFrame) -> Sensor:
    """The ``sensor`` line of a spec, with the kind's default noise sigmas filled in."""
    if spec.pos_enu_m is not None:
        lat, lon, alt = frame.to_geodetic(np.asarray(spec.pos_enu_m, dtype=float))
        lat_deg, lon_deg, alt_m = float(lat), float(lon), float(alt)
    else:
        lat_deg, lon_deg, alt_m = spec.lat, spec.lon, spec.alt_m  # type: ignore[assignment]
    sigmas = dict(DEFAULT_SIGMAS[spec.kind])
    for key in _SIGMA_KEYS:
        if getattr(spec, key) is not None:
            sigmas[key] = getattr(spec, key)
    if not spec.report_range_rate:
        sigmas.pop("sigma_range_rate_mps", None)
    return Sensor(
        id=spec.id,
        kind=spec.kind,
        lat=round(lat_deg, 7),
        lon=round(lon_deg, 7),
        alt_m=round(alt_m, 2),
        pd=spec.pd,
        update_s=spec.update_s,
        max_range_m=spec.max_range_m,
        fov=spec.fov,
        **sigmas,
    )


@dataclass
class ChunkOut:
    """One sensor's detections in one chunk: times (k,) from the start, records, clutter count."""

    t_s: np.ndarray
    records: list[Detection]
    n_clutter: int = 0


@dataclass
class SensorModel:
    """A simulated sensor: its line, geometry, own random stream and counters."""

    spec: SensorSpec
    sensor: Sensor
    geom: SensorGeometry
    frame: LocalFrame
    rng: np.random.Generator
    epoch_s: float
    n_detections: int = 0
    n_clutter: int = 0
    n_scans: int = 0
    _sig: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sig = {k: getattr(self.sensor, k) or 0.0 for k in _SIGMA_KEYS}

    def scan_times(self, t_from_s: float, t_to_s: float, t_last_s: float) -> np.ndarray:
        """Scan times in [t_from_s, t_to_s) and <= t_last_s (s from the start), dropouts removed."""
        u, ph = self.spec.update_s, self.spec.phase_s
        k0 = math.ceil((t_from_s - ph) / u - 1e-9)
        k1 = math.ceil((t_to_s - ph) / u - 1e-9)
        t = ph + np.arange(max(k0, 0), max(k1, 0)) * u
        t = t[(t >= t_from_s) & (t < t_to_s) & (t <= t_last_s)]
        for d in self.spec.dropouts:
            t = t[(t < d.from_s) | (t >= d.to_s)]
        return t

    def eligible(self, pop: Population) -> np.ndarray:
        """Indices of the objects this kind of sensor can report at all."""
        kind = self.spec.kind
        if kind == "rf":
            return np.flatnonzero(pop.radio)
        if kind == "remoteid":
            return np.array([i for i, u in enumerate(pop.uas_id) if u is not None], dtype=np.int64)
        if kind == "adsb":
            return np.array([i for i, a in enumerate(pop.icao24) if a is not None], dtype=np.int64)
        return np.arange(len(pop))

    def chunk(self, pop: Population, t_from_s: float, t_to_s: float) -> ChunkOut:
        """Detections (and clutter) for the scans in [t_from_s, t_to_s)."""
        t = self.scan_times(t_from_s, t_to_s, float(pop.n_times - 1))
        self.n_scans += t.size
        idx = self.eligible(pop)
        if t.size == 0:
            return ChunkOut(np.zeros(0), [])
        pos, vel, ok = pop.sample(idx, t)
        obj, scan = np.nonzero(ok)
        pos, vel = pos[obj, scan], vel[obj, scan]
        obj = idx[obj]
        kind = self.spec.kind
        if kind == "radar":
            out = self._radar(pop, obj, t[scan], pos, vel)
        elif kind in ("rf", "camera"):
            out = self._angles(pop, obj, t[scan], pos)
        else:
            out = self._geodetic(pop, obj, t[scan], pos, vel)
        clutter = self._clutter(t)
        self.n_detections += len(out.records)
        self.n_clutter += len(clutter.records)
        return ChunkOut(
            np.concatenate([out.t_s, clutter.t_s]),
            out.records + clutter.records,
            len(clutter.records),
        )

    # --- kinds ---------------------------------------------------------------

    def _draw(self, n: int, pd: float | np.ndarray) -> np.ndarray:
        return self.rng.random(n) < pd

    def _t(self, t_s: np.ndarray) -> list[float]:
        return np.round(self.epoch_s + t_s, 6).tolist()

    def _truth_ids(self, pop: Population, obj: np.ndarray) -> list[str]:
        ids = pop.ids
        return [ids[i] for i in obj.tolist()]

    def _radar(
        self, pop: Population, obj: np.ndarray, t_s: np.ndarray, pos: np.ndarray, vel: np.ndarray
    ) -> ChunkOut:
        sp, sig, rng = self.spec, self._sig, self.rng
        r, az, el = self.geom.to_aer(pos)
        keep = in_coverage_aer(self.sensor, r, az, el)
        obj, t_s, pos, vel, r, az, el = (a[keep] for a in (obj, t_s, pos, vel, r, az, el))
        rcs = pop.rcs_dbsm[obj]
        snr_db = radar_snr_db(r, rcs, pd_ref=sp.pd, ref_range_m=sp.ref_range_m, pfa=sp.pfa)
        # Swerling 1: echo power (noise units) ~ (1 + SNR) * Exp(1), detected above -ln(Pfa).
        power = (1.0 + 10.0 ** (snr_db / 10.0)) * rng.exponential(1.0, r.size)
        hit = power > -math.log(sp.pfa)
        obj, t_s, pos, vel, r, az, el = (a[hit] for a in (obj, t_s, pos, vel, r, az, el))
        power, snr_db, rcs = power[hit], snr_db[hit], rcs[hit]
        n = r.size
        rr = self.geom.range_rate(pos, vel)
        r_m = np.maximum(r + rng.normal(0.0, sig["sigma_range_m"], n), 0.0)
        az_deg = (np.degrees(az) + rng.normal(0.0, sig["sigma_az_deg"], n)) % 360.0
        el_deg = np.clip(np.degrees(el) + rng.normal(0.0, sig["sigma_el_deg"], n), -90.0, 90.0)
        rr = rr + rng.normal(0.0, sig["sigma_range_rate_mps"], n)
        meas_snr_db = 10.0 * np.log10(power - 1.0)
        meas_rcs = rcs + meas_snr_db - snr_db
        recs = self._radar_records(
            t_s, r_m, az_deg, el_deg, rr, meas_snr_db, meas_rcs, self._truth_ids(pop, obj)
        )
        return ChunkOut(t_s, recs)

    def _radar_records(
        self,
        t_s: np.ndarray,
        r_m: np.ndarray,
        az_deg: np.ndarray,
        el_deg: np.ndarray,
        rr_mps: np.ndarray,
        snr_db: np.ndarray,
        rcs_dbsm: np.ndarray,
        truth: list[str] | None,
    ) -> list[Detection]:
        sid = self.spec.id
        absent: list[float | None] = [None] * t_s.size
        cols = (
            self._t(t_s),
            np.round(r_m, 2).tolist(),
            np.round(az_deg, 4).tolist(),
            np.round(el_deg, 4).tolist(),
            np.round(rr_mps, 2).tolist() if self.spec.report_range_rate else absent,
            np.round(snr_db, 2).tolist() if self.spec.report_rcs else absent,
            np.round(rcs_dbsm, 2).tolist() if self.spec.report_rcs else absent,
            truth if truth is not None else [None] * t_s.size,
        )
        return [
            Detection(
                t=t,
                sensor=sid,
                range_m=r,
                az_deg=a % 360.0,
                el_deg=e,
                range_rate_mps=v,
                snr_db=s,
                rcs_dbsm=c,
                truth=o,
            )
            for t, r, a, e, v, s, c, o in zip(*cols, strict=True)
        ]

    def _angles(
        self, pop: Population, obj: np.ndarray, t_s: np.ndarray, pos: np.ndarray
    ) -> ChunkOut:
        r, az, el = self.geom.to_aer(pos)
        keep = in_coverage_aer(self.sensor, r, az, el)
        keep &= self._draw(r.size, self.spec.pd)
        obj, t_s, az, el = obj[keep], t_s[keep], az[keep], el[keep]
        n = obj.size
        az_deg = (np.degrees(az) + self.rng.normal(0.0, self._sig["sigma_az_deg"], n)) % 360.0
        el_deg = np.clip(
            np.degrees(el) + self.rng.normal(0.0, self._sig["sigma_el_deg"], n), -90.0, 90.0
        )
        return ChunkOut(t_s, self._angle_records(t_s, az_deg, el_deg, self._truth_ids(pop, obj)))

    def _angle_records(
        self, t_s: np.ndarray, az_deg: np.ndarray, el_deg: np.ndarray, truth: list[str] | None
    ) -> list[Detection]:
        sid = self.spec.id
        # An RF direction finder reports elevation only when configured with its sigma.
        with_el = self.spec.kind == "camera" or self.spec.sigma_el_deg is not None
        els = np.round(el_deg, 4).tolist() if with_el else [None] * t_s.size
        return [
            Detection(t=t, sensor=sid, az_deg=a % 360.0, el_deg=e, truth=o)
            for t, a, e, o in zip(
                self._t(t_s),
                np.round(az_deg, 4).tolist(),
                els,
                truth if truth is not None else [None] * t_s.size,
                strict=True,
            )
        ]

    def _geodetic(
        self, pop: Population, obj: np.ndarray, t_s: np.ndarray, pos: np.ndarray, vel: np.ndarray
    ) -> ChunkOut:
        r, az, el = self.geom.to_aer(pos)
        keep = in_coverage_aer(self.sensor, r, az, el) & self._draw(r.size, self.spec.pd)
        obj, t_s, pos, vel = obj[keep], t_s[keep], pos[keep], vel[keep]
        n = obj.size
        rng, sig = self.rng, self._sig["sigma_pos_m"]
        lat, lon, alt = self.frame.to_geodetic(pos + rng.normal(0.0, sig, (n, 3)))
        cols: dict[str, list] = {
            "t": self._t(t_s),
            "lat": np.round(lat, 7).tolist(),
            "lon": np.round(lon, 7).tolist(),
            "alt_m": np.round(alt, 2).tolist(),
            "truth": self._truth_ids(pop, obj),
        }
        kind = self.spec.kind
        if kind in ("remoteid", "adsb"):
            # Cooperative reports carry the object's own (GNSS) velocity, slightly noisy.
            v = vel + rng.normal(0.0, 0.3, (n, 3))
            cols["speed_mps"] = np.round(np.hypot(v[:, 0], v[:, 1]), 2).tolist()
            cols["track_deg"] = np.round(
                np.degrees(np.arctan2(v[:, 0], v[:, 1])) % 360.0, 2
            ).tolist()
            if kind == "adsb":
                cols["icao24"] = [pop.icao24[i] for i in obj.tolist()]
                cols["callsign"] = [pop.callsign[i] for i in obj.tolist()]
                cols["emitter_cat"] = [
                    emitter_category(pop.truth_class[i], pop.group[i]) for i in obj.tolist()
                ]
                cols["vrate_mps"] = np.round(v[:, 2], 2).tolist()
            else:
                cols["uas_id"] = [pop.uas_id[i] for i in obj.tolist()]
                olat, olon, _ = self.frame.to_geodetic(pop.operator_enu_m[obj])
                cols["operator_lat"] = np.round(olat, 7).tolist()
                cols["operator_lon"] = np.round(olon, 7).tolist()
        sid = self.spec.id
        keys = list(cols)
        recs = [
            Detection(sensor=sid, **dict(zip(keys, row, strict=True)))
            for row in zip(*cols.values(), strict=True)
        ]
        # track_deg of 360.0 after rounding is 0.0 on the wire.
        recs = [
            msgspec.structs.replace(d, track_deg=0.0) if d.track_deg == 360.0 else d for d in recs
        ]
        return ChunkOut(t_s, recs)

    def _clutter(self, scans_s: np.ndarray) -> ChunkOut:
        """Poisson false detections, uniform over the covered range and angles, at low elevation."""
        lam = self.spec.clutter_per_scan
        if lam <= 0.0 or scans_s.size == 0:
            return ChunkOut(np.zeros(0), [])
        rng, sp = self.rng, self.spec
        counts = rng.poisson(lam, scans_s.size)
        t_s = np.repeat(scans_s, counts)
        n = t_s.size
        fov = self.sensor.fov
        az_lo, width = (0.0, 360.0)
        el_lo, el_hi = -1.0, 90.0
        if fov is not None:
            el_lo, el_hi = fov.el_min_deg, fov.el_max_deg
            if fov.az_max_deg - fov.az_min_deg < 360.0:
                az_lo, width = fov.az_min_deg % 360.0, (fov.az_max_deg - fov.az_min_deg) % 360.0
        az_deg = (az_lo + width * rng.random(n)) % 360.0
        # Clutter (ground, sea, rain) sits in the lowest couple of degrees covered.
        el_deg = rng.uniform(el_lo, max(el_lo, min(el_hi, el_lo + 2.0)), n)
        if sp.kind == "radar":
            r_m = rng.uniform(min(200.0, sp.max_range_m), sp.max_range_m, n)
            # Noise-only exceedances: power above threshold T is T + Exp(1).
            power = -math.log(sp.pfa) + rng.exponential(1.0, n)
            snr_db = 10.0 * np.log10(power - 1.0)
            rcs = snr_db - radar_snr_db(
                r_m, 0.0, pd_ref=sp.pd, ref_range_m=sp.ref_range_m, pfa=sp.pfa
            )
            rr = rng.normal(0.0, 2.0, n)
            recs = self._radar_records(t_s, r_m, az_deg, el_deg, rr, snr_db, rcs, None)
        elif sp.kind in ("rf", "camera"):
            recs = self._angle_records(t_s, az_deg, el_deg, None)
        else:
            # Position reports: uniform over the covered disc, up to 1.5 km high.
            rad = sp.max_range_m * np.sqrt(rng.random(n))
            a = np.radians(az_deg)
            local = np.column_stack([rad * np.sin(a), rad * np.cos(a), rng.uniform(0, 1500.0, n)])
            lat, lon, alt = self.frame.to_geodetic(self.geom.from_local(local))
            sid = sp.id
            recs = [
                Detection(t=t, sensor=sid, lat=la, lon=lo, alt_m=al)
                for t, la, lo, al in zip(
                    self._t(t_s),
                    np.round(lat, 7).tolist(),
                    np.round(lon, 7).tolist(),
                    np.round(alt, 2).tolist(),
                    strict=True,
                )
            ]
        return ChunkOut(t_s, recs, n)
