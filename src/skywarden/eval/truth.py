"""Truth and raw detections of a scenario file, as columns in the site ENU frame.

One streaming pass over the scenario (``ScenarioReader``) collects the
``truth`` lines, the first detection of each truth object (the simulator's
optional ``truth`` key on a detection), and the position-like detections
(``position``, ``remoteid``, ``adsb``, and radar through its range/az/el) for
the raw-detection GOSPA. All conversions happen once, vectorised, at the end.

Coverage ("could some sensor see it") uses ``skywarden.coverage.in_coverage``
when that module exists, otherwise only each sensor's ``max_range_m`` (a sensor
without one sees everything).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..coverage import in_coverage
from ..geodesy import LocalFrame, SensorGeometry
from ..scenario import Header, ScenarioReader
from ..types import Detection, Sensor, Site, TruthPoint

log = logging.getLogger(__name__)

#: How coverage is decided: :func:`skywarden.coverage.in_coverage`.
COVERAGE_RULE = "in_coverage"
POSITION_KINDS: tuple[str, ...] = ("position", "remoteid", "adsb")
#: Sensors whose reports carry the object's own identity.
COOPERATIVE_KINDS: tuple[str, ...] = ("remoteid", "adsb")
#: Truth samples further apart than this are not interpolated across (the object is absent).
MAX_TRUTH_GAP_S = 5.0
#: With ``truth`` keys, a truth object counts at a scan only once sensors have
#: actually seen it: named by this many detections within this window.
SEEN_WINDOW_S = 10.0
SEEN_HITS = 1
# Keys object * 1e7 + seconds keep object runs apart for scenarios up to ~100 days.
_KEY_SCALE = 1.0e7


def site_of(header: Header) -> Site:
    """The frame origin: the site line, else the first sensor (as the pipeline does)."""
    if header.site is not None:
        return header.site
    if not header.sensors:
        raise ValueError("scenario declares neither a site nor any sensor")
    s = next(iter(header.sensors.values()))
    return Site(name=s.id, lat=s.lat, lon=s.lon, alt_m=s.alt_m)


@dataclass(frozen=True, slots=True)
class TruthSet:
    """Truth trajectories of k objects, samples grouped by object and sorted by time.

    ``ids`` (k,) names, ``cls`` (k,) truth classes, ``hostile`` (k,) bool.
    ``t_s`` (N,) and ``pos_enu_m`` (N, 3) samples; object i owns rows
    ``start[i]:start[i + 1]``.
    """

    ids: tuple[str, ...]
    cls: np.ndarray
    hostile: np.ndarray
    t_s: np.ndarray
    pos_enu_m: np.ndarray
    start: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def samples(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Object i's sample times (n,) and ENU positions (n, 3)."""
        a, b = self.start[i], self.start[i + 1]
        return self.t_s[a:b], self.pos_enu_m[a:b]

    def at(
        self, t_scan_s: np.ndarray, max_gap_s: float = MAX_TRUTH_GAP_S
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objects that exist at each of the sorted times ``t_scan_s`` (s,), linearly interpolated.

        Returns ``(scan_index (q,), object_index (q,), pos_enu_m (q, 3))`` sorted by scan.
        An object exists between its first and last sample, except across gaps
        longer than ``max_gap_s``.
        """
        t_scan_s = np.asarray(t_scan_s, dtype=float)
        scans, objs, poss = [], [], []
        for i in range(len(self.ids)):
            ts, ps = self.samples(i)
            lo = np.searchsorted(t_scan_s, ts[0], side="left")
            hi = np.searchsorted(t_scan_s, ts[-1], side="right")
            if hi <= lo:
                continue
            tq = t_scan_s[lo:hi]
            if ts.shape[0] == 1:
                k = np.flatnonzero(tq == ts[0])
                pos = np.repeat(ps, k.shape[0], axis=0)
            else:
                j = np.clip(np.searchsorted(ts, tq, side="right") - 1, 0, ts.shape[0] - 2)
                dt = ts[j + 1] - ts[j]
                ok = (dt <= max_gap_s) | (tq == ts[j]) | (tq == ts[j + 1])
                k = np.flatnonzero(ok)
                j = j[k]
                w = ((tq[k] - ts[j]) / np.where(dt[k] > 0.0, dt[k], 1.0))[:, None]
                pos = ps[j] * (1.0 - w) + ps[j + 1] * w
            scans.append(k + lo)
            objs.append(np.full(k.shape[0], i, dtype=np.int64))
            poss.append(pos)
        if not scans:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 3))
        scan = np.concatenate(scans)
        order = np.argsort(scan, kind="stable")
        return scan[order], np.concatenate(objs)[order], np.concatenate(poss)[order]


@dataclass(frozen=True, slots=True)
class RawDetections:
    """Position-like detections in site ENU: ``t_s`` (n,), ``pos_enu_m`` (n, 3), ``sensor`` (n,) codes into ``sensor_ids``."""

    t_s: np.ndarray
    pos_enu_m: np.ndarray
    sensor: np.ndarray
    sensor_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScenarioData:
    """What evaluation needs from a scenario file.

    ``first_detection_t_s`` (k,) per truth object, NaN when no detection names it;
    ``has_truth_keys`` whether any detection carried a ``truth`` key;
    ``identified_t_s`` (k,) the time of the first Remote ID or ADS-B detection
    naming the object (it gave an identity), NaN when none.
    ``t_min_s``/``t_max_s`` span of detection and truth times.
    """

    header: Header
    frame: LocalFrame
    geometries: dict[str, SensorGeometry]
    truth: TruthSet
    first_detection_t_s: np.ndarray
    has_truth_keys: bool
    raw: RawDetections
    #: Sorted keys ``object_index * 1e7 + (t - t_min_s)`` of every detection naming an object.
    det_keys: np.ndarray
    t_min_s: float
    t_max_s: float
    n_rejected: int
    identified_t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def identified(self) -> np.ndarray:
        """(k,) whether the object ever gave an identity."""
        return np.isfinite(self.identified_t_s)

    def seen_recently(
        self,
        obj: np.ndarray,
        t_s: np.ndarray,
        window_s: float = SEEN_WINDOW_S,
        hits: int = SEEN_HITS,
    ) -> np.ndarray:
        """Whether each object obj (n,) was named by >= ``hits`` detections in (t - window, t]."""
        t0 = self.t_min_s if math.isfinite(self.t_min_s) else 0.0
        hi = obj * _KEY_SCALE + (np.asarray(t_s, dtype=float) - t0)
        n = np.searchsorted(self.det_keys, hi, side="right") - np.searchsorted(
            self.det_keys, hi - window_s, side="right"
        )
        return n >= hits

    def in_coverage(self, pos_enu_m: np.ndarray, sensors: list[str] | None = None) -> np.ndarray:
        """Which points (n, 3) at least one of ``sensors`` (default all) could see: bool (n,)."""
        pos_enu_m = np.asarray(pos_enu_m, dtype=float).reshape(-1, 3)
        ids = list(self.header.sensors) if sensors is None else sensors
        seen = np.zeros(pos_enu_m.shape[0], dtype=bool)
        for sid in ids:
            seen |= sensor_covers(self.header.sensors[sid], self.geometries[sid], pos_enu_m)
        return seen


def sensor_covers(sensor: Sensor, geom: SensorGeometry, pos_enu_m: np.ndarray) -> np.ndarray:
    """Whether ``sensor`` covers each point (n, 3) of site ENU: bool (n,)."""
    return np.asarray(in_coverage(sensor, geom, pos_enu_m), dtype=bool).reshape(-1)


def read_scenario(path: str | os.PathLike[str]) -> ScenarioData:
    """Read truth, first detections and position-like detections of a scenario, in one pass."""
    reader = ScenarioReader(path, quiet=True)
    header = reader.header
    frame = LocalFrame.from_site(site_of(header))
    kinds = {sid: s.kind for sid, s in header.sensors.items()}
    truth_t: list[float] = []
    truth_id: list[str] = []
    truth_lla: list[tuple[float, float, float]] = []
    truth_cls: dict[str, str] = {}
    truth_hostile: dict[str, bool] = {}
    first_det: dict[str, float] = {}
    identified: dict[str, float] = {}
    det_truth: list[tuple[str, float]] = []
    pos_rows: list[tuple[float, str, float, float, float]] = []
    radar_rows: list[tuple[float, str, float, float, float]] = []
    for rec in reader:
        if isinstance(rec, Detection):
            if rec.truth is not None:
                det_truth.append((rec.truth, rec.t))
                if rec.truth not in first_det:
                    first_det[rec.truth] = rec.t
            kind = kinds[rec.sensor]
            if rec.truth is not None and kind in COOPERATIVE_KINDS:
                identified[rec.truth] = min(rec.t, identified.get(rec.truth, math.inf))
            if kind in POSITION_KINDS:
                pos_rows.append((rec.t, rec.sensor, rec.lat, rec.lon, rec.alt_m))  # type: ignore[arg-type]
            elif kind == "radar":
                radar_rows.append((rec.t, rec.sensor, rec.range_m, rec.az_deg, rec.el_deg))  # type: ignore[arg-type]
        elif isinstance(rec, TruthPoint):
            truth_t.append(rec.t)
            truth_id.append(rec.id)
            truth_lla.append((rec.lat, rec.lon, rec.alt_m))
            truth_cls.setdefault(rec.id, rec.class_)
            if rec.hostile:
                truth_hostile[rec.id] = True
    geoms = {sid: SensorGeometry.from_sensor(frame, s) for sid, s in header.sensors.items()}
    truth = _truth_set(frame, truth_t, truth_id, truth_lla, truth_cls, truth_hostile)
    first = np.array([first_det.get(i, math.nan) for i in truth.ids], dtype=float)
    raw = _raw_detections(frame, geoms, pos_rows, radar_rows)
    stats = reader.stats
    t_min = stats.t_min if math.isfinite(stats.t_min) else math.nan
    index = {name: i for i, name in enumerate(truth.ids)}
    known = [(index[n], t) for n, t in det_truth if n in index]
    det_keys = (
        np.sort(
            np.array(
                [i * _KEY_SCALE + (t - (t_min if math.isfinite(t_min) else 0.0)) for i, t in known]
            )
        )
        if known
        else np.empty(0)
    )
    t_max = stats.t_max if math.isfinite(stats.t_max) else math.nan
    return ScenarioData(
        header=header,
        frame=frame,
        geometries=geoms,
        truth=truth,
        first_detection_t_s=first,
        has_truth_keys=bool(first_det),
        raw=raw,
        det_keys=det_keys,
        t_min_s=t_min,
        t_max_s=t_max,
        n_rejected=stats.n_rejected,
        identified_t_s=np.array([identified.get(n, math.nan) for n in truth.ids], dtype=float),
    )


def _truth_set(
    frame: LocalFrame,
    t: list[float],
    ids: list[str],
    lla: list[tuple[float, float, float]],
    cls: dict[str, str],
    hostile: dict[str, bool],
) -> TruthSet:
    names = tuple(cls)
    code = {n: i for i, n in enumerate(names)}
    obj = np.fromiter((code[i] for i in ids), dtype=np.int64, count=len(ids))
    t_s = np.asarray(t, dtype=float)
    order = np.lexsort((t_s, obj))
    obj, t_s = obj[order], t_s[order]
    if t_s.shape[0]:
        g = np.asarray(lla, dtype=float)[order]
        pos = frame.to_enu(g[:, 0], g[:, 1], g[:, 2]).reshape(-1, 3)
    else:
        pos = np.empty((0, 3))
    start = np.searchsorted(obj, np.arange(len(names) + 1), side="left")
    return TruthSet(
        ids=names,
        cls=np.array([cls[n] for n in names], dtype=object),
        hostile=np.array([hostile.get(n, False) for n in names], dtype=bool),
        t_s=t_s,
        pos_enu_m=pos,
        start=start,
    )


def _raw_detections(
    frame: LocalFrame,
    geoms: dict[str, SensorGeometry],
    pos_rows: list[tuple[float, str, float, float, float]],
    radar_rows: list[tuple[float, str, float, float, float]],
) -> RawDetections:
    sensor_ids = tuple(sorted({r[1] for r in pos_rows} | {r[1] for r in radar_rows}))
    code = {s: i for i, s in enumerate(sensor_ids)}
    ts, sens, poss = [], [], []
    if pos_rows:
        a = np.array([(r[0], r[2], r[3], r[4]) for r in pos_rows], dtype=float)
        ts.append(a[:, 0])
        sens.append(np.array([code[r[1]] for r in pos_rows], dtype=np.int64))
        poss.append(frame.to_enu(a[:, 1], a[:, 2], a[:, 3]).reshape(-1, 3))
    if radar_rows:
        a = np.array([(r[0], r[2], r[3], r[4]) for r in radar_rows], dtype=float)
        s = np.array([code[r[1]] for r in radar_rows], dtype=np.int64)
        pos = np.empty((a.shape[0], 3))
        for sid in {r[1] for r in radar_rows}:
            k = s == code[sid]
            pos[k] = geoms[sid].from_aer(a[k, 1], np.radians(a[k, 2]), np.radians(a[k, 3]))
        ts.append(a[:, 0])
        sens.append(s)
        poss.append(pos)
    if not ts:
        return RawDetections(np.empty(0), np.empty((0, 3)), np.empty(0, np.int64), sensor_ids)
    t_s = np.concatenate(ts)
    order = np.argsort(t_s, kind="stable")
    return RawDetections(
        t_s=t_s[order],
        pos_enu_m=np.concatenate(poss)[order],
        sensor=np.concatenate(sens)[order],
        sensor_ids=sensor_ids,
    )
