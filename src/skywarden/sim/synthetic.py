"""A quick synthetic scenario for training the classifier, without the full simulator.

:func:`synthetic_scenario` makes drones on legs with hovers, meandering and
soaring birds, airliners, light aircraft and circling gliders, helicopters,
drifting balloons (``unknown``), with radar RCS, RF emitters, Remote ID and
ADS-B. Its distributions are plausible, not measured; retrain on ``skywarden
simulate`` output when that simulator's models are richer
(``scripts/train_classifier.py --scenario``). Detections carry the
simulator-only ``truth`` key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..geodesy import LocalFrame, SensorGeometry
from ..scenario import Header
from ..types import CLASSES, Detection, Record, Sensor, Site, TruthClass, TruthPoint

T0_S = 1_767_225_600.0
SITE = Site(name="training", lat=52.0, lon=5.0, alt_m=10.0)


@dataclass(frozen=True)
class _Kind:
    cls: str
    rcs_mean_dbsm: tuple[float, float]
    rcs_flutter_db: float
    p_rf: float
    p_remoteid: float
    p_adsb: float


def _legs(rng: np.random.Generator, n_t: int, dt: float, *, hover_p: float, speed, leg_s, climb):
    """Speed (T,), heading (T,) and climb (T,) of a path made of straight legs and hovers."""
    spd = np.empty(n_t)
    hdg = np.empty(n_t)
    vu = np.empty(n_t)
    k = 0
    h = rng.uniform(0, 2 * np.pi)
    while k < n_t:
        m = max(1, int(rng.uniform(*leg_s) / dt))
        hover = rng.random() < hover_p
        h = h + rng.uniform(-np.pi, np.pi)
        spd[k : k + m] = 0.0 if hover else rng.uniform(*speed)
        hdg[k : k + m] = h
        vu[k : k + m] = rng.uniform(-climb, climb)
        k += m
    return spd, hdg, vu


def _ou(rng: np.random.Generator, n_t: int, dt: float, sigma: float, tau_s: float) -> np.ndarray:
    """An Ornstein-Uhlenbeck series (T,) with stationary sigma and correlation time tau_s."""
    a = math.exp(-dt / tau_s)
    e = rng.normal(0, sigma * math.sqrt(1 - a * a), n_t)
    out = np.empty(n_t)
    out[0] = rng.normal(0, sigma)
    for k in range(1, n_t):
        out[k] = a * out[k - 1] + e[k]
    return out


def _path(rng: np.random.Generator, cls: str, n_t: int, dt: float) -> tuple[np.ndarray, str]:
    """Velocity (T, 3) and a subtype name for one object of class ``cls``."""
    if cls == "drone":
        spd, hdg, vu = _legs(rng, n_t, dt, hover_p=0.3, speed=(4, 22), leg_s=(10, 50), climb=2.0)
        sub = "drone"
    elif cls == "bird":
        if rng.random() < 0.3:  # soaring in a thermal: circling, climbing, drifting
            w = np.radians(rng.uniform(12, 25)) * rng.choice([-1, 1])
            hdg = rng.uniform(0, 2 * np.pi) + w * dt * np.arange(n_t)
            spd = rng.uniform(8, 13) + _ou(rng, n_t, dt, 1.0, 3.0)
            vu = rng.uniform(0.5, 2.0) + _ou(rng, n_t, dt, 0.5, 3.0)
            sub = "soaring_bird"
        else:
            hdg = rng.uniform(0, 2 * np.pi) + np.cumsum(_ou(rng, n_t, dt, np.radians(8), 4.0)) * dt
            spd = rng.uniform(8, 18) + _ou(rng, n_t, dt, 2.0, 3.0)
            vu = _ou(rng, n_t, dt, 1.0, 4.0)
            sub = "bird"
    elif cls == "aircraft":
        r = rng.random()
        if r < 0.35:
            spd = np.full(n_t, rng.uniform(22, 35))
            w = np.radians(rng.uniform(8, 18)) * rng.choice([-1, 1])
            hdg = rng.uniform(0, 2 * np.pi) + w * dt * np.arange(n_t)
            vu = rng.uniform(-1.0, 2.5) + _ou(rng, n_t, dt, 0.5, 5.0)
            sub = "glider"
        elif r < 0.65:
            spd = np.full(n_t, rng.uniform(40, 70))
            hdg = rng.uniform(0, 2 * np.pi) + np.cumsum(_ou(rng, n_t, dt, np.radians(1), 20)) * dt
            vu = np.full(n_t, rng.uniform(-4, 4))
            sub = "light_aircraft"
        else:
            spd = np.full(n_t, rng.uniform(80, 230))
            hdg = np.full(n_t, rng.uniform(0, 2 * np.pi))
            vu = np.full(n_t, rng.uniform(-10, 10))
            sub = "airliner"
    elif cls == "helicopter":
        spd, hdg, vu = _legs(rng, n_t, dt, hover_p=0.2, speed=(25, 70), leg_s=(20, 90), climb=3.0)
        sub = "helicopter"
    else:  # unknown: a free balloon drifting with the wind and rising
        spd = np.full(n_t, rng.uniform(2, 12)) + _ou(rng, n_t, dt, 0.3, 10)
        hdg = np.full(n_t, rng.uniform(0, 2 * np.pi))
        vu = np.full(n_t, rng.uniform(2, 6))
        sub = "balloon"
    v = np.stack([spd * np.sin(hdg), spd * np.cos(hdg), vu], axis=1)
    return v, sub


_KINDS = {
    "drone": _Kind("drone", (-18, -10), 2.0, 0.7, 0.25, 0.0),
    "bird": _Kind("bird", (-28, -16), 5.0, 0.0, 0.0, 0.0),
    "aircraft": _Kind("aircraft", (0, 25), 3.0, 0.0, 0.0, 0.6),
    "helicopter": _Kind("helicopter", (5, 15), 3.0, 0.0, 0.0, 0.5),
    "unknown": _Kind("unknown", (-15, -3), 1.5, 0.0, 0.0, 0.0),
}
_HEIGHT_M = {
    "drone": (30, 150),
    "bird": (10, 250),
    "glider": (300, 1500),
    "light_aircraft": (300, 1500),
    "airliner": (1000, 9000),
    "helicopter": (100, 600),
    "soaring_bird": (50, 400),
    "balloon": (50, 2500),
}


def synthetic_scenario(
    rng: np.random.Generator,
    n_per_class: int = 40,
    duration_s: float = 150.0,
    dt_s: float = 1.0,
    rf_false_p: float = 0.02,
) -> tuple[Header, list[Record]]:
    """A header (site, radar, RF, Remote ID and ADS-B sensors) and time-sorted truth
    and detection records of ``n_per_class`` objects of every class.

    Radar at the site: Pd 0.9, range/azimuth/elevation with RCS; RF direction
    finder: Pd 0.6 on drones that emit, and ``rf_false_p`` false associations
    on anything else; Remote ID and ADS-B report the true position every scan.
    """
    frame = LocalFrame.from_site(SITE)
    radar = Sensor(
        id="radar1",
        kind="radar",
        lat=SITE.lat,
        lon=SITE.lon,
        alt_m=SITE.alt_m + 10,
        pd=0.9,
        update_s=dt_s,
        sigma_range_m=10.0,
        sigma_az_deg=0.3,
        sigma_el_deg=0.3,
    )
    rf = Sensor(
        id="rf1", kind="rf", lat=SITE.lat, lon=SITE.lon, alt_m=SITE.alt_m + 10, sigma_az_deg=2.0
    )
    rid = Sensor(id="rid1", kind="remoteid", lat=SITE.lat, lon=SITE.lon, alt_m=SITE.alt_m)
    adsb = Sensor(id="adsb1", kind="adsb", lat=SITE.lat, lon=SITE.lon, alt_m=SITE.alt_m)
    header = Header(site=SITE, sensors={s.id: s for s in (radar, rf, rid, adsb)})
    g = SensorGeometry.from_sensor(frame, radar)
    n_t = int(duration_s / dt_s)
    t = T0_S + dt_s * np.arange(n_t)
    records: list[Record] = []
    serial = 0
    for cls in CLASSES:
        kind = _KINDS[cls]
        for _ in range(n_per_class):
            serial += 1
            oid = f"{cls}{serial}"
            v, sub = _path(rng, cls, n_t, dt_s)
            r0 = rng.uniform(800, 6000)
            b0 = rng.uniform(0, 2 * np.pi)
            p0 = np.array([r0 * np.sin(b0), r0 * np.cos(b0), rng.uniform(*_HEIGHT_M[sub])])
            pos = p0 + np.cumsum(v, axis=0) * dt_s - v[0] * dt_s
            pos[:, 2] = np.maximum(pos[:, 2], 5.0)
            lat, lon, alt = frame.to_geodetic(pos)
            for k in range(n_t):
                records.append(
                    TruthPoint(
                        t=float(t[k]),
                        id=oid,
                        class_=cast(TruthClass, cls),  # one of CLASSES
                        lat=float(lat[k]),
                        lon=float(lon[k]),
                        alt_m=float(alt[k]),
                        hostile=cls == "drone",
                        vel_enu_mps=(float(v[k, 0]), float(v[k, 1]), float(v[k, 2])),
                    )
                )
            rng_m, az, el = g.to_aer(pos)
            rcs = rng.uniform(*kind.rcs_mean_dbsm) + rng.normal(0, kind.rcs_flutter_db, n_t)
            snr = rcs + 40.0 - 40.0 * np.log10(np.maximum(rng_m, 1.0) / 1000.0)
            emits = rng.random() < kind.p_rf
            coop_rid = rng.random() < kind.p_remoteid
            coop_adsb = rng.random() < kind.p_adsb
            noise = rng.normal(0, 1, (n_t, 3)) * [10.0, math.radians(0.3), math.radians(0.3)]
            for k in range(n_t):
                tk = float(t[k])
                if rng.random() < 0.9:
                    records.append(
                        Detection(
                            t=tk,
                            sensor="radar1",
                            range_m=float(rng_m[k] + noise[k, 0]),
                            az_deg=math.degrees((az[k] + noise[k, 1]) % (2 * np.pi)),
                            el_deg=float(np.clip(math.degrees(el[k] + noise[k, 2]), -90, 90)),
                            rcs_dbsm=float(rcs[k]),
                            snr_db=float(snr[k]),
                            truth=oid,
                        )
                    )
                if rng.random() < (0.6 if emits else rf_false_p):
                    az_rf = math.degrees(az[k] + rng.normal(0, math.radians(2.0))) % 360.0
                    records.append(Detection(t=tk + 0.1, sensor="rf1", az_deg=az_rf, truth=oid))
                if coop_rid:
                    records.append(
                        Detection(
                            t=tk + 0.2,
                            sensor="rid1",
                            uas_id=f"SN{serial:05d}",
                            lat=float(lat[k]),
                            lon=float(lon[k]),
                            alt_m=float(alt[k]),
                            speed_mps=float(np.hypot(v[k, 0], v[k, 1])),
                            truth=oid,
                        )
                    )
                if coop_adsb:
                    records.append(
                        Detection(
                            t=tk + 0.3,
                            sensor="adsb1",
                            icao24=f"{serial:06x}",
                            lat=float(lat[k]),
                            lon=float(lon[k]),
                            alt_m=float(alt[k]),
                            truth=oid,
                        )
                    )
    records.sort(key=lambda r: r.t)  # type: ignore[union-attr]
    return header, records
