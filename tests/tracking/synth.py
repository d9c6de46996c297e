"""Small, exact synthetic scenarios for tracker tests: truth paths and sensor models in numpy."""

from __future__ import annotations

import math

import numpy as np

from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.scenario import Header
from skywarden.types import Detection, Sensor, Site

T0 = 1_767_225_600.0
SITE = Site(name="test", lat=51.0, lon=1.0, alt_m=0.0)
FRAME = LocalFrame.from_site(SITE)


def header(*sensors: Sensor) -> Header:
    return Header(site=SITE, sensors={s.id: s for s in sensors})


def sensor_at(sid: str, kind: str, e: float = 0.0, n: float = 0.0, u: float = 10.0, **kw) -> Sensor:
    lat, lon, alt = FRAME.to_geodetic(np.array([e, n, u]))
    return Sensor(id=sid, kind=kind, lat=float(lat), lon=float(lon), alt_m=float(alt), **kw)


def straight(p0, v, t):
    """Positions (T, 3) of a constant-velocity path at times t (T,) seconds from T0."""
    return np.asarray(p0, float)[None] + np.asarray(v, float)[None] * t[:, None]


def observe(
    sensor: Sensor,
    paths: dict[str, np.ndarray],
    t: np.ndarray,
    rng: np.random.Generator,
    *,
    pd: float = 1.0,
    clutter_per_scan: float = 0.0,
    clutter_box_m: float = 10_000.0,
    offset_s: float = 0.0,
) -> list[Detection]:
    """Detections of ``sensor`` of every path (sampled at times t) made at t + offset_s."""
    geom = SensorGeometry.from_sensor(FRAME, sensor)
    if offset_s:
        paths = {
            k: np.stack([np.interp(t + offset_s, t, p[:, i]) for i in range(3)], axis=1)
            for k, p in paths.items()
        }
        t = t + offset_s
    out = []
    for k, tk in enumerate(t):
        for tid, path in paths.items():
            if rng.random() > pd or np.isnan(path[k]).any():
                continue
            out.append(_measure(sensor, geom, path, k, tk, rng, tid))
        for _ in range(rng.poisson(clutter_per_scan)):
            p = rng.uniform(-clutter_box_m, clutter_box_m, 3) * np.array([1, 1, 0.05]) + [0, 0, 500]
            fake = np.repeat(p[None], 2, axis=0)
            out.append(_measure(sensor, geom, fake, 0, tk, rng, None, dt=1.0))
    out.sort(key=lambda d: d.t)
    return out


def _measure(sensor, geom, path, k, tk, rng, tid, dt=None):
    p = path[k]
    t_abs = T0 + float(tk)
    if sensor.kind == "position":
        s = sensor.sigma_pos_m or 10.0
        lat, lon, alt = FRAME.to_geodetic(p + rng.normal(0, s, 3))
        return Detection(
            t=t_abs, sensor=sensor.id, lat=float(lat), lon=float(lon), alt_m=float(alt), truth=tid
        )
    rng_m, az, el = geom.to_aer(p)
    az_s = math.radians(sensor.sigma_az_deg or 0.5)
    el_s = math.radians(sensor.sigma_el_deg or 0.5)
    az_m = float((az + rng.normal(0, az_s)) % (2 * math.pi))
    el_m = float(el + rng.normal(0, el_s))
    if sensor.kind == "radar":
        vel = (path[min(k + 1, len(path) - 1)] - path[max(k - 1, 0)]) / (dt or 2.0)
        rr = float(geom.range_rate(p, vel)) + rng.normal(0, sensor.sigma_range_rate_mps or 1.0)
        return Detection(
            t=t_abs,
            sensor=sensor.id,
            range_m=float(rng_m + rng.normal(0, sensor.sigma_range_m or 10.0)),
            az_deg=math.degrees(az_m),
            el_deg=math.degrees(el_m),
            range_rate_mps=rr,
            truth=tid,
        )
    return Detection(
        t=t_abs, sensor=sensor.id, az_deg=math.degrees(az_m), el_deg=math.degrees(el_m), truth=tid
    )


def merge(*lists: list[Detection]) -> list[Detection]:
    out = [d for lst in lists for d in lst]
    out.sort(key=lambda d: d.t)
    return out
