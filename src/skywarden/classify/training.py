"""Training and evaluation data for the classifier: scenarios -> tracks -> labelled features.

A *scenario* here is what a simulator writes: a header plus ``truth`` and
``detection`` records, the detections carrying the simulator-only ``truth``
key. Tracks come either from :func:`pseudo_scans` (truth positions at the scan
times plus measurement noise, filtered by a per-axis constant-velocity Kalman
filter: cheap, and independent of the tracker) or from :func:`tracker_scans`
(the real :class:`~skywarden.pipeline.Engine`). Either way, each track's true
class is the majority vote of the ``truth`` keys of the detections that
updated it, exactly as evaluation would match them.

:func:`synthetic_scenario` makes such a scenario without the full simulator:
drones on legs with hovers, meandering and soaring birds, airliners, light
aircraft and circling gliders, helicopters, drifting balloons (``unknown``),
with radar RCS, RF emitters, Remote ID and ADS-B. Its distributions are
plausible, not measured; retrain on ``skywarden simulate`` output when that
simulator's models are richer (``scripts/train_classifier.py --scenario``).
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..geodesy import LocalFrame, SensorGeometry
from ..scenario import Header
from ..types import (
    CLASSES,
    CONFIRMED,
    DELETED,
    TENTATIVE,
    Association,
    Detection,
    Identity,
    Record,
    Sensor,
    Site,
    TrackTable,
    TruthPoint,
)
from .classifier import Classifier, ClassifierParams
from .features import EXTRA_DEPTH, FEATURES, TrackHistory, scan_inputs

log = logging.getLogger(__name__)

T0_S = 1_767_225_600.0
SITE = Site(name="training", lat=52.0, lon=5.0, alt_m=10.0)

#: Interior bin edges of each feature's histogram (chosen by hand on physical
#: scales: speeds log-spaced from hover to airliner, heights from mast to cruise).
EDGES: dict[str, list[float]] = {
    "speed_mps": [1, 2, 4, 6, 8, 10, 12, 15, 18, 22, 27, 33, 40, 50, 65, 80, 100, 130, 170, 220],
    "height_m": [10, 25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 5000],
    "climb_mps": [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12],
    "speed_std_mps": [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 10],
    "turn_rate_dps": [0.5, 1, 2, 3, 5, 8, 12, 18, 25],
    "straightness": [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99],
    "hover_frac": [0.01, 0.2, 0.5, 0.8],
    # 2.5 dB steps where attack drones (-10..3 dBsm), gliders and helicopters meet.
    "rcs_dbsm": [-30, -25, -20, -15, -12.5, -10, -7.5, -5, -2.5, 0, 2.5, 5, 7.5, 10, 15, 20, 25],
    "rcs_std_db": [1, 2, 3, 4, 5, 6, 8],
    "rf_frac": [0.01, 0.1, 0.3, 0.6],
}
#: Prior class probabilities: a new track with no evidence reads "unknown".
PRIOR = (0.2, 0.2, 0.2, 0.15, 0.25)
#: Fixed log-likelihoods of a believed cooperative identity (not learnt: a
#: simulator says nothing about how often real transponders are mis-associated).
IDENTITY_LOG_LIK = {"remoteid": [8.0, 0.0, 0.0, 0.0, 0.0], "icao24": [-1.0, -4.0, 4.0, 3.0, 0.0]}


# --- a synthetic scenario -------------------------------------------------------


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
                        class_=cls,
                        lat=float(lat[k]),  # type: ignore[arg-type]
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


# --- tracks from a scenario -----------------------------------------------------


def pseudo_scans(
    header: Header,
    records: Iterable[Record],
    rng: np.random.Generator,
    *,
    dt_s: float = 1.0,
    sigma_m: float = 12.0,
    sigma_a_mps2: float = 2.0,
    pd: float = 0.9,
    confirm_hits: int = 3,
) -> Iterator[tuple[TrackTable, Association]]:
    """Pseudo-tracks from truth: one (TrackTable, Association) per scan of ``dt_s``.

    Each truth object is measured at the scan times with probability ``pd`` and
    isotropic noise ``sigma_m``, and filtered per axis by a constant-velocity
    Kalman filter (white acceleration ``sigma_a_mps2``). Detections with a
    ``truth`` key are associated to that object's track within their scan.
    """
    frame = LocalFrame.from_site(header.site or SITE)
    truth: dict[str, list[TruthPoint]] = defaultdict(list)
    dets: dict[tuple[str, int], list[Detection]] = defaultdict(list)
    detections: list[Detection] = []
    for r in records:
        if isinstance(r, TruthPoint):
            truth[r.id].append(r)
        elif isinstance(r, Detection) and r.truth is not None:
            detections.append(r)
    if not truth:
        return
    t_min = min(p[0].t for p in truth.values())
    t_max = max(p[-1].t for p in truth.values())
    t_grid = t_min + dt_s * np.arange(int((t_max - t_min) / dt_s) + 1)
    kind_of = {sid: s.kind for sid, s in header.sensors.items()}
    for d in detections:
        k = math.floor((d.t - t_min) / dt_s + 1e-9)
        dets[(d.truth, max(k, 0))].append(d)  # type: ignore[index]

    ids = sorted(truth)
    n = len(ids)
    pos = np.full((n, len(t_grid), 3), np.nan)
    for i, oid in enumerate(ids):
        pts = truth[oid]
        tt = np.array([p.t for p in pts])
        enu = frame.to_enu(
            np.array([p.lat for p in pts]),
            np.array([p.lon for p in pts]),
            np.array([p.alt_m for p in pts]),
        ).reshape(-1, 3)
        inside = (t_grid >= tt[0]) & (t_grid <= tt[-1])
        for a in range(3):
            pos[i, inside, a] = np.interp(t_grid[inside], tt, enu[:, a])

    # Per-axis CV Kalman filter state, all objects at once: x = [p, v], P = [[a, b], [b, c]].
    xp = np.full((n, 3), np.nan)
    xv = np.zeros((n, 3))
    Pa = np.full((n, 3), sigma_m**2)
    Pb = np.zeros((n, 3))
    Pc = np.full((n, 3), 30.0**2)
    hits = np.zeros(n, np.int64)
    t_first = np.full(n, np.nan)
    t_last = np.full(n, np.nan)
    identity = np.full(n, None, dtype=object)
    alive = np.zeros(n, bool)
    R = sigma_m**2
    q = sigma_a_mps2**2
    for k, tk in enumerate(t_grid):
        present = np.isfinite(pos[:, k, 0])
        seen = present & (rng.random(n) < pd)
        z = pos[:, k] + rng.normal(0, sigma_m, (n, 3))
        # Predict: x = F x, P = F P F' + Q (F = [[1, dt], [0, 1]], Q white acceleration).
        dt = dt_s
        xp = xp + xv * dt
        Pa, Pb, Pc = (
            Pa + 2 * dt * Pb + dt * dt * Pc + q * dt**3 / 3,
            Pb + dt * Pc + q * dt**2 / 2,
            Pc + q * dt,
        )
        new = seen & ~np.isfinite(xp[:, 0])
        xp[new] = z[new]
        xv[new] = 0.0
        Pa[new], Pb[new], Pc[new] = R, 0.0, 30.0**2
        upd = seen & ~new
        # K = P H' / (H P H' + R), H = [1, 0]; x += K (z - p); P = (I - K H) P.
        s = Pa + R
        ka, kb = Pa / s, Pb / s
        r = z - xp
        xp = np.where(upd[:, None], xp + ka * r, xp)
        xv = np.where(upd[:, None], xv + kb * r, xv)
        Pa, Pb, Pc = (
            np.where(upd[:, None], (1 - ka) * Pa, Pa),
            np.where(upd[:, None], (1 - ka) * Pb, Pb),
            np.where(upd[:, None], Pc - kb * Pb, Pc),
        )
        hits += seen
        t_first = np.where(new, tk, t_first)
        t_last = np.where(seen, tk, t_last)
        was = alive.copy()
        alive = np.isfinite(xp[:, 0]) & present
        gone = was & ~alive

        track_id, adets, kinds = [], [], []
        for i in np.flatnonzero(alive):
            for d in dets.get((ids[i], k), ()):
                kind = kind_of.get(d.sensor, "position")
                track_id.append(i + 1)
                adets.append(d)
                kinds.append(kind)
                if kind == "remoteid" and d.uas_id:
                    identity[i] = Identity("remoteid", d.uas_id)
                elif kind == "adsb" and d.icao24 and identity[i] is None:
                    identity[i] = Identity("icao24", d.icao24.lower())
        rows = np.flatnonzero(alive | gone)
        status = np.where(hits[rows] >= confirm_hits, CONFIRMED, TENTATIVE).astype(np.int8)
        status[gone[rows]] = DELETED
        P = np.zeros((len(rows), 6, 6))
        for a in range(3):
            P[:, a, a] = Pa[rows, a]
            P[:, a, a + 3] = P[:, a + 3, a] = Pb[rows, a]
            P[:, a + 3, a + 3] = Pc[rows, a]
        yield (
            TrackTable(
                t_s=float(tk),
                id=(rows + 1).astype(np.int64),
                status=status,
                x=np.concatenate([xp[rows], xv[rows]], axis=1),
                P=P,
                identity=identity[rows].copy(),
                n_updates=hits[rows].copy(),
                t_first_s=t_first[rows].copy(),
                t_last_update_s=t_last[rows].copy(),
                mode_p=np.ones((len(rows), 1)),
            ),
            Association(
                track_id=np.asarray(track_id, np.int64), detections=tuple(adets), kinds=tuple(kinds)
            ),
        )
        # A deleted object's filter is reset so that it appears once as DELETED.
        xp[gone] = np.nan
        hits[gone] = 0


def tracker_scans(
    header: Header, records: Iterable[Record]
) -> Iterator[tuple[TrackTable, Association]]:
    """Tracks from the real tracker (:class:`~skywarden.pipeline.Engine`), one pair per output tick."""
    from ..pipeline import Engine

    out: list[tuple[TrackTable, Association]] = []
    engine = Engine(header, on_tracks=lambda table, assoc: out.append((table, assoc)))
    for r in records:
        if isinstance(r, Detection):
            engine.push(r)
            yield from out
            out.clear()
    engine.flush()
    yield from out


# --- labelled samples, fitting, evaluation -------------------------------------


class TruthVotes:
    """Each track's true object: the majority of its detections' ``truth`` keys."""

    def __init__(self, classes_by_truth: dict[str, str]) -> None:
        self.classes_by_truth = classes_by_truth
        self._votes: dict[int, Counter] = defaultdict(Counter)

    def add(self, assoc: Association) -> None:
        for tid, d in zip(assoc.track_id, assoc.detections, strict=True):
            if d.truth is not None:
                self._votes[int(tid)][d.truth] += 1

    def truth_of(self, track_id: int) -> str | None:
        c = self._votes.get(int(track_id))
        return c.most_common(1)[0][0] if c else None

    def class_of(self, track_id: int) -> str | None:
        t = self.truth_of(track_id)
        return None if t is None else self.classes_by_truth.get(t)


def truth_classes(records: Iterable[Record]) -> tuple[dict[str, str], dict[str, float]]:
    """Class and mean speed (m/s) of every truth object of a scenario."""
    cls: dict[str, str] = {}
    spd: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if isinstance(r, TruthPoint):
            cls[r.id] = r.class_
            if r.vel_enu_mps is not None:
                spd[r.id].append(math.hypot(r.vel_enu_mps[0], r.vel_enu_mps[1]))
    return cls, {k: float(np.mean(v)) for k, v in spd.items()}


@dataclass
class Samples:
    """Labelled feature rows: ``feats`` (N, F), ``y`` (N,) class index, ``track`` (N,) ids."""

    feats: np.ndarray
    y: np.ndarray
    track: np.ndarray


def collect(
    scans: Iterable[tuple[TrackTable, Association]],
    classes_by_truth: dict[str, str],
    window_s: float = 20.0,
    settle_s: float = 5.0,
) -> Samples:
    """Feature rows of every confirmed track at every scan, labelled by truth vote."""
    hist = TrackHistory(depth=max(8, math.ceil(window_s) + EXTRA_DEPTH))
    votes = TruthVotes(classes_by_truth)
    feats, ys, tracks = [], [], []
    for table, assoc in scans:
        votes.add(assoc)
        rcs, rf, _ = scan_inputs(table, assoc)
        slots = hist.slots(table.id)
        hist.push(slots, table.t_s, table.x, rcs, rf)
        t_start = table.t_first_s + settle_s
        f = hist.features(slots, table.t_s, window_s, t_start)
        for i in np.flatnonzero((table.status == CONFIRMED) & (table.t_s >= t_start)):
            c = votes.class_of(int(table.id[i]))
            if c is None:
                continue
            feats.append(f[i])
            ys.append(CLASSES.index(c))
            tracks.append(int(table.id[i]))
        hist.forget(table.id[table.status == DELETED])
    return Samples(
        np.array(feats).reshape(-1, len(FEATURES)), np.array(ys, np.int64), np.array(tracks)
    )


def fit(
    samples: Samples,
    *,
    alpha: float = 1.0,
    floor: float = 0.02,
    evidence_weight: float = 1.0,
    tau_s: float = 10.0,
    window_s: float = 20.0,
) -> ClassifierParams:
    """Histogram likelihoods from labelled samples.

    p(bin | c) = (1 - floor) (count + alpha) / (n_c + alpha B) + floor / B: Laplace
    smoothing plus a uniform floor, so that no single feature value can rule a
    class out (the simulator is not the world).
    """
    log_lik: dict[str, list[list[float]]] = {}
    for j, f in enumerate(FEATURES):
        edges = np.asarray(EDGES[f], float)
        nb = len(edges) + 1
        table = np.zeros((nb, len(CLASSES)))
        for c in range(len(CLASSES)):
            v = samples.feats[samples.y == c, j]
            v = v[np.isfinite(v)]
            cnt = np.bincount(np.searchsorted(edges, v, side="right"), minlength=nb)
            p = (cnt + alpha) / (cnt.sum() + alpha * nb)
            table[:, c] = (1 - floor) * p + floor / nb
        log_lik[f] = np.round(np.log(table), 4).tolist()
    return ClassifierParams(
        edges={f: [float(e) for e in EDGES[f]] for f in FEATURES},
        log_lik=log_lik,
        log_prior=np.round(np.log(np.asarray(PRIOR)), 4).tolist(),
        evidence_weight=evidence_weight,
        tau_s=tau_s,
        window_s=window_s,
        identity_log_lik=IDENTITY_LOG_LIK,
    )


@dataclass
class Evaluation:
    """Measured classifier behaviour over a scenario.

    ``accuracy`` over confirmed tracks at scans at least ``settle_s`` after
    confirmation; ``per_class`` the same per true class; ``max_drone_p_bird`` and
    ``max_drone_p_slow_aircraft`` the highest drone probability ever given to a
    bird or to an aircraft slower than 45 m/s (gliders); ``log_loss`` the mean
    negative log probability of the true class (settled scans).
    """

    accuracy: float
    per_class: dict[str, float]
    n_scored: int
    max_drone_p_bird: float
    max_drone_p_slow_aircraft: float
    log_loss: float
    confusion: list[list[int]]


def evaluate(
    classifier: Classifier,
    scans: Iterable[tuple[TrackTable, Association]],
    classes_by_truth: dict[str, str],
    mean_speed_by_truth: dict[str, float],
    settle_s: float = 30.0,
) -> Evaluation:
    """Run ``classifier`` over ``scans`` and score it against truth."""
    votes = TruthVotes(classes_by_truth)
    confirmed_at: dict[int, float] = {}
    conf = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    logp: list[float] = []
    max_bird = max_slow = 0.0
    for table, assoc in scans:
        votes.add(assoc)
        res = classifier.update(table, assoc)
        for i in np.flatnonzero(table.status == CONFIRMED):
            tid = int(table.id[i])
            confirmed_at.setdefault(tid, table.t_s)
            truth = votes.truth_of(tid)
            if truth is None:
                continue
            c = CLASSES.index(classes_by_truth[truth])
            pd_ = float(res.p[i, 0])
            if c == 1:
                max_bird = max(max_bird, pd_)
            if c == 2 and mean_speed_by_truth.get(truth, 1e9) < 45.0:
                max_slow = max(max_slow, pd_)
            if table.t_s - confirmed_at[tid] >= settle_s:
                conf[c, CLASSES.index(str(res.label[i]))] += 1
                logp.append(math.log(max(float(res.p[i, c]), 1e-12)))
    n = int(conf.sum())
    per = {c: float(conf[k, k] / max(conf[k].sum(), 1)) for k, c in enumerate(CLASSES)}
    return Evaluation(
        accuracy=float(np.trace(conf) / max(n, 1)),
        per_class=per,
        n_scored=n,
        max_drone_p_bird=max_bird,
        max_drone_p_slow_aircraft=max_slow,
        log_loss=float(-np.mean(logp)) if logp else math.nan,
        confusion=conf.tolist(),
    )
