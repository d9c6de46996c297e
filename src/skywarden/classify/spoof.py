"""Plausibility of cooperative reports (Remote ID, ADS-B): is the broadcast a lie?

A cooperative report is suspect when

* it disagrees with where non-cooperative sensors see the same track: a radar
  or position detection more than ``max_offset_m`` (or ``n_sigma`` standard
  deviations) from the report, or a bearing-only detection whose bearing misses
  the reported position by more than ``n_sigma`` sigmas and ``min_bearing_deg``;
* it broadcasts impossible values: a reported speed above the class limit, a
  position or altitude jump implying such a speed, or time running backwards.

Each impossible broadcast adds two to a per-track score (one is proof), each
disagreement with another sensor one, each agreement takes half off; a track is flagged spoofed while the score is at least
``min_score``. That way one mis-associated radar plot does not brand an honest
drone, and a flag decays once the broadcasts agree again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import msgspec
import numpy as np

from ..geodesy import LocalFrame, SensorGeometry, wrap_angle
from ..tracking.measure import sigma_of
from ..types import BEARING_KINDS, Detection, Sensor, SensorDeclared, SiteEvent

log = logging.getLogger(__name__)


class SpoofConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds of the cooperative-report plausibility checks (SI units)."""

    #: Fastest believable small UAS (Remote ID), m/s.
    max_speed_remoteid_mps: float = 80.0
    #: Fastest believable ADS-B target, m/s (about Mach 1 at altitude).
    max_speed_adsb_mps: float = 350.0
    #: Fastest believable climb or descent of a small UAS, m/s.
    max_vrate_remoteid_mps: float = 30.0
    #: A report this far from a sensed position is inconsistent whatever the sensor noise.
    max_offset_m: float = 150.0
    #: ... or this many combined sigmas from it.
    n_sigma: float = 4.0
    #: A bearing miss smaller than this is never inconsistent.
    min_bearing_deg: float = 3.0
    #: Flag while the score is at least this.
    min_score: float = 2.0
    #: The score does not grow beyond this (so a flag can decay in bounded time).
    max_score: float = 6.0

    def __post_init__(self) -> None:
        # Shipped inside the classifier parameters: a hand-edited zero or NaN would make
        # every cooperative report look spoofed (or none), not an error.
        for name in msgspec.structs.fields(self):
            v = getattr(self, name.name)
            zero_ok = name.name == "min_bearing_deg"
            if not (math.isfinite(v) and (v >= 0.0 if zero_ok else v > 0.0)):
                bound = ">= 0" if zero_ok else "> 0"
                raise ValueError(f"spoof parameter {name.name} = {v!r}: must be finite and {bound}")
        if self.min_score > self.max_score:
            raise ValueError("spoof parameters: min_score must not exceed max_score")


_COOP = ("remoteid", "adsb")


class SpoofMonitor:
    """Scores each track's cooperative reports against its other sensors."""

    def __init__(
        self,
        frame: LocalFrame | None = None,
        sensors: Mapping[str, Sensor] | None = None,
        config: SpoofConfig | None = None,
    ) -> None:
        """``sensors`` is the site's table, shared (not copied): a sensor declared
        live is known here at once; :meth:`on_site_event` drops stale geometry."""
        self.frame = frame
        self.sensors: Mapping[str, Sensor] = sensors if sensors is not None else {}
        self.config = config or SpoofConfig()
        self._geoms: dict[str, SensorGeometry] = {}
        #: Detections of sensors missing from the table (their check is skipped).
        self.unknown_sensor = 0
        self._score: dict[int, float] = {}
        # Latest cooperative report per track: (t_s, enu (3,) or None, kind).
        self._last: dict[int, tuple[float, np.ndarray | None, str]] = {}

    def on_site_event(self, event: SiteEvent) -> None:
        """A sensor (re)declared: its geometry is rebuilt from the table when next needed."""
        if isinstance(event, SensorDeclared):
            self._geoms.pop(event.sensor.id, None)

    def _geom(self, sensor_id: str) -> SensorGeometry | None:
        g = self._geoms.get(sensor_id)
        if g is None and self.frame is not None and sensor_id in self.sensors:
            g = SensorGeometry.from_sensor(self.frame, self.sensors[sensor_id])
            self._geoms[sensor_id] = g
        return g

    def update(
        self,
        ids: np.ndarray,
        vel_enu_mps: np.ndarray,
        by_track: dict[int, list[tuple[Detection, str]]],
    ) -> np.ndarray:
        """Spoof flags (n,) bool for tracks ``ids`` (n,) with velocities (n, 3).

        ``by_track`` maps a track id to the (detection, sensor kind) pairs that
        updated it since the previous call; only tracks with a cooperative report
        among them have anything to check (others may be left out). Tracks not in
        ``ids`` are forgotten.
        """
        ids = np.asarray(ids, np.int64)
        if self._score or self._last:
            live = set(ids.tolist())
            for d in (self._score, self._last):
                for tid in [t for t in d if t not in live]:
                    del d[tid]
        cfg = self.config
        for tid, pairs in by_track.items():
            row = np.flatnonzero(ids == tid)
            if row.shape[0] == 0:
                continue
            bad, good = self._check(tid, vel_enu_mps[int(row[0])], pairs)
            s = self._score.get(tid, 0.0) + bad - 0.5 * good
            self._score[tid] = min(max(s, 0.0), cfg.max_score)
        # A track with no score has score 0.
        out = np.full(ids.shape[0], cfg.min_score <= 0.0)
        if self._score:
            scored = np.fromiter(self._score, np.int64, len(self._score))
            flag = np.fromiter(
                (v >= cfg.min_score for v in self._score.values()), bool, len(self._score)
            )
            order = np.argsort(scored)
            pos = np.minimum(np.searchsorted(scored, ids, sorter=order), scored.shape[0] - 1)
            hit = scored[order[pos]] == ids
            out[hit] = flag[order[pos[hit]]]
        return out

    def _check(
        self, tid: int, vel: np.ndarray, pairs: list[tuple[Detection, str]]
    ) -> tuple[int, int]:
        """(number of inconsistent checks, number of consistent checks) for one track."""
        cfg = self.config
        coop = [(d, k) for d, k in pairs if k in _COOP]
        if not coop:
            return 0, 0
        bad = good = 0
        for d, kind in sorted(coop, key=lambda dk: dk[0].t):
            vmax = cfg.max_speed_remoteid_mps if kind == "remoteid" else cfg.max_speed_adsb_mps
            if d.speed_mps is not None and abs(d.speed_mps) > vmax:
                bad += 2
            enu = self._enu(d)
            prev = self._last.get(tid)
            if prev is not None:
                dt = d.t - prev[0]
                if dt < 0:
                    bad += 2  # time running backwards
                elif dt > 0 and enu is not None and prev[1] is not None:
                    step = enu - prev[1]
                    jump = float(np.hypot(step[0], step[1])) / dt > vmax * 1.2
                    climb = kind == "remoteid" and abs(step[2]) / dt > cfg.max_vrate_remoteid_mps
                    bad += 2 * int(jump or climb)
            if prev is None or d.t >= prev[0]:
                self._last[tid] = (d.t, enu, kind)
        # Cross-check against the non-cooperative sensors of the same tick.
        ref = [(d, e) for d, _ in coop if (e := self._enu(d)) is not None]
        if not ref:
            return bad, good
        for d, kind in pairs:
            if kind in _COOP:
                continue
            g = self._geom(d.sensor)
            if g is None:
                if d.sensor not in self.sensors:
                    self.unknown_sensor += 1
                    if self.unknown_sensor == 1:
                        log.warning("spoof check: sensor %r is not in the site table", d.sensor)
                continue
            c, c_enu = min(ref, key=lambda de: abs(de[0].t - d.t))
            # The cooperative position moved to the other detection's time along the track.
            p = c_enu + vel * (d.t - c.t)
            verdict = self._consistent(d, kind, g, p)
            if verdict is None:
                continue
            good += int(verdict)
            bad += int(not verdict)
        return bad, good

    def _enu(self, d: Detection) -> np.ndarray | None:
        if self.frame is None or d.lat is None or d.lon is None or d.alt_m is None:
            return None
        return self.frame.to_enu(d.lat, d.lon, d.alt_m).reshape(3)

    def _consistent(self, d: Detection, kind: str, g: SensorGeometry, p: np.ndarray) -> bool | None:
        """Whether detection d of a sensor at g agrees with position p; None when it cannot say."""
        cfg = self.config
        s = self.sensors[d.sensor]
        if kind == "radar" and d.range_m is not None and d.az_deg is not None:
            el = d.el_deg if d.el_deg is not None else 0.0
            q = g.from_aer(d.range_m, math.radians(d.az_deg), math.radians(el)).reshape(3)
            sr = sigma_of(s, "sigma_range_m")
            sa = math.radians(sigma_of(s, "sigma_az_deg"))
            sigma = math.hypot(sr, d.range_m * sa)
            return float(np.linalg.norm(q - p)) <= max(cfg.max_offset_m, cfg.n_sigma * sigma)
        if kind == "position" and d.lat is not None and self.frame is not None:
            at = self._enu(d)
            if at is None:
                return None
            sigma = sigma_of(s, "sigma_pos_m")
            return float(np.linalg.norm(at - p)) <= max(cfg.max_offset_m, cfg.n_sigma * sigma)
        if kind in BEARING_KINDS and d.az_deg is not None:
            _, az, _ = g.to_aer(p)
            miss = abs(float(wrap_angle(math.radians(d.az_deg) - float(az))))
            sa = math.radians(sigma_of(s, "sigma_az_deg"))
            return miss <= max(math.radians(cfg.min_bearing_deg), cfg.n_sigma * sa)
        return None
