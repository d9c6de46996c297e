"""The multi-target, multi-sensor tracker.

All track state lives in arrays (structure of arrays): per-mode IMM states
``xm (n, M, 6)``, covariances ``Pm (n, M, 6, 6)`` and mode probabilities
``mu (n, M)`` in the site ENU frame, plus bookkeeping columns. One call to
:meth:`Tracker.process` handles one *batch*: the detections of one sensor at
one measurement time. Per batch: predict every track to the batch time → gate
with a spatial index → Mahalanobis distances on candidates → clusters →
assignment (GNN or JPDA) → IMM update → initiate tentatives from unused
detections (bearings are triangulated across sensors) → confirm / coast /
delete. Detections must come in time order; :mod:`.reorder` provides that.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from ..coverage import in_coverage_aer
from ..geodesy import LocalFrame, SensorGeometry, wrap_angle
from ..timing import StageTimer
from ..types import (
    BEARING_KINDS,
    COASTING,
    CONFIRMED,
    DELETED,
    TENTATIVE,
    Association,
    Detection,
    Identity,
    Sensor,
    SensorDeclared,
    SiteEvent,
    TrackTable,
    present,
)
from .associate import (
    Gated,
    assign_gnn,
    bearing_candidate_pairs,
    candidate_pairs,
    jpda_weights,
    largest_eigenvalue_bound,
    mahalanobis,
    radar_candidate_pairs,
    sensor_axes,
)
from .config import TrackerConfig
from .kalman import kalman_update
from .measure import MeasurementModel, ModelKind, bearing_rays, model_for
from .motion import imm_combine, imm_predict, predict_cv

log = logging.getLogger(__name__)

_POSITION_KINDS = ("position", "remoteid", "adsb")


@dataclass
class TrackerStats:
    """Counters over a run."""

    batches: int = 0
    detections: int = 0
    used: int = 0
    initiated: int = 0
    unassociated: int = 0
    confirmed: int = 0
    deleted: int = 0
    continued: int = 0
    merged: int = 0
    bearings_triangulated: int = 0
    rf_biased_rejected: int = 0


#: A lost track may have been fixed this long after its successor's first detection:
#: the old track can take a plot or two of the manoeuvre before it falls behind.
_LOST_OVERLAP_S = 2.0
#: Position-fixing batches remembered per track (the ring of ``fix_batch``).
_FIX_RING = 16
#: Direction finders whose bearings are checked for bias (``_rf_unbiased``); more are
#: used unchecked.
_RF_SLOTS = 8
#: ``_rf_unbiased`` allows this many of the track's own azimuth sigmas of bias.
_RF_TRACK_SIGMAS = 3.0


@dataclass
class _Bearing:
    t_s: float
    sensor: str
    ray: np.ndarray  # (3,) unit vector, site ENU
    has_el: bool
    det: Detection


@dataclass
class _Assoc:
    track_id: list[int] = field(default_factory=list)
    dets: list[Detection] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


class Tracker:
    """Tracks objects from time-ordered detection batches of many sensors."""

    def __init__(
        self,
        frame: LocalFrame,
        sensors: Mapping[str, Sensor],
        config: TrackerConfig | None = None,
        *,
        first_id: int = 1,
    ) -> None:
        """``sensors`` is the site's table, shared and not copied (the pipeline's
        registry keeps it and tells :meth:`on_site_event` of changes). Track numbers
        start at ``first_id``: a live service seeds it from its store, so that no
        number is used for two objects."""
        self.frame = frame
        self.config = cfg = config or TrackerConfig()
        self.sensors: Mapping[str, Sensor] = sensors
        self.geoms: dict[str, SensorGeometry] = {}
        m = 1 if cfg.motion == "cv" else len(cfg.sigma_a_mps2)
        self._sigma_a = np.asarray(cfg.sigma_a_mps2[:m], dtype=float)
        self._tau = np.asarray(cfg.tau_s[:m], dtype=float)
        mu0 = np.asarray(cfg.mode_p0[:m], dtype=float)
        self._mu0 = mu0 / mu0.sum()
        self._gate = {d: float(chi2.ppf(cfg.gate_p, d)) for d in (1, 2, 3, 4)}
        self.stats = TrackerStats()
        #: Stage timing for the scale benchmark (off: ``None``).
        self.timer: StageTimer | None = None
        self.t_s = -math.inf
        self._next_id = first_id
        self._bearings: deque[_Bearing] = deque()
        #: Per direction finder, its recent batches: (time, azimuths in its axes, sigma).
        self._rf_recent: dict[str, deque[tuple[float, np.ndarray, float]]] = {}
        #: Time of each radar's latest batch (radar sensor id -> UTC seconds).
        self._radar_t: dict[str, float] = {}
        self._assoc = _Assoc()
        self._deleted: list[tuple[int, np.ndarray, np.ndarray, str, int, float, float]] = []
        self._merge_t = -math.inf  # when duplicates were last looked for
        self._rf_slot: dict[str, int] = {}
        self._alloc(m)

    # --- state -----------------------------------------------------------------

    #: Per-track columns. Each lives in a buffer with spare rows, doubled when full,
    #: and the attribute of the same name is a view of its first len(self) rows, so
    #: new tracks are written in place instead of every column being re-concatenated.
    _COLUMNS = (
        "id", "status", "xm", "Pm", "mu", "t_state", "identity",
        "n_upd", "t_first", "t_last", "t_fix", "sd_fix", "b_sensor", "b_t", "fix_batch",
        "n_fix", "t_pos", "rf_bias", "rf_n",
    )  # fmt: skip

    def _alloc(self, m: int) -> None:
        self._n = 0
        self._buf: dict[str, np.ndarray] = {
            "id": np.empty(0, np.int64),
            "status": np.empty(0, np.int8),
            "xm": np.empty((0, m, 6)),
            "Pm": np.empty((0, m, 6, 6)),
            "mu": np.empty((0, m)),
            "t_state": np.empty(0),
            "identity": np.empty(0, object),
            "n_upd": np.empty(0, np.int64),
            "t_first": np.empty(0),
            "t_last": np.empty(0),
            # Last update that fixed the position: a full-position measurement, or
            # bearings from two different sensors close in time. A track that only
            # one bearing sensor sees has no range and must not live on that alone.
            "t_fix": np.empty(0),
            # Horizontal position one-sigma (RMS over east and north) after that fix.
            "sd_fix": np.empty(0),
            "b_sensor": np.empty(0, object),
            "b_t": np.empty(0),
            # The last _FIX_RING batches (``stats.batches`` numbers, -1 none) in which a
            # position-giving sensor updated the track, a ring written at ``n_fix``: two
            # tracks fixed in one batch were two plots of one sensor's scan.
            "fix_batch": np.empty((0, _FIX_RING), np.int64),
            "n_fix": np.empty(0, np.int64),
            # Last update by a full-position measurement (radar plot, position report).
            "t_pos": np.empty(0),
            # Per direction finder (a slot of ``_rf_slot``): a running mean of the
            # track's azimuth residual from it (radians), and how many bearings it holds.
            "rf_bias": np.empty((0, _RF_SLOTS)),
            "rf_n": np.empty((0, _RF_SLOTS), np.int64),
        }
        #: Moment-matched (x, P) of the current state, until the state changes.
        self._combined: tuple[np.ndarray, np.ndarray] | None = None
        self._views()

    def _views(self) -> None:
        n = self._n
        self.id = self._buf["id"][:n]
        self.status = self._buf["status"][:n]
        self.xm = self._buf["xm"][:n]
        self.Pm = self._buf["Pm"][:n]
        self.mu = self._buf["mu"][:n]
        self.t_state = self._buf["t_state"][:n]
        self.identity = self._buf["identity"][:n]
        self.n_upd = self._buf["n_upd"][:n]
        self.t_first = self._buf["t_first"][:n]
        self.t_last = self._buf["t_last"][:n]
        self.t_fix = self._buf["t_fix"][:n]
        self.sd_fix = self._buf["sd_fix"][:n]
        self.b_sensor = self._buf["b_sensor"][:n]
        self.b_t = self._buf["b_t"][:n]
        self.fix_batch = self._buf["fix_batch"][:n]
        self.n_fix = self._buf["n_fix"][:n]
        self.t_pos = self._buf["t_pos"][:n]
        self.rf_bias = self._buf["rf_bias"][:n]
        self.rf_n = self._buf["rf_n"][:n]

    def _append(self, rows: dict[str, np.ndarray]) -> None:
        """Add ``k`` tracks: every column's k new rows."""
        k = rows["id"].shape[0]
        n = self._n
        cap = self._buf["id"].shape[0]
        if n + k > cap:
            size = max(2 * cap, n + k, 64)
            for name, old in self._buf.items():
                new = np.empty((size, *old.shape[1:]), old.dtype)
                new[:n] = old[:n]
                self._buf[name] = new
        for name in self._COLUMNS:
            self._buf[name][n : n + k] = rows[name]
        self._n = n + k
        self._combined = None
        self._views()

    def _keep(self, keep: np.ndarray) -> None:
        """Keep the tracks ``keep`` (n,) bool, in order."""
        n, k = self._n, int(keep.sum())
        for name in self._COLUMNS:
            b = self._buf[name]
            b[:k] = b[:n][keep]
            if b.dtype == object:
                b[k:n] = None  # drop references held beyond the live rows
        self._n = k
        if self._combined is not None:
            self._combined = (self._combined[0][keep], self._combined[1][keep])
        self._views()

    def __len__(self) -> int:
        return self._n

    @property
    def next_id(self) -> int:
        """The number the next new track will get (numbers are never reused)."""
        return self._next_id

    def on_site_event(self, event: SiteEvent) -> None:
        """A sensor (re)declared in the site table: rebuild its geometry when next used."""
        if isinstance(event, SensorDeclared):
            self.geoms.pop(event.sensor.id, None)

    def _geom(self, sensor_id: str) -> SensorGeometry:
        g = self.geoms.get(sensor_id)
        if g is None:
            g = self.geoms[sensor_id] = SensorGeometry.from_sensor(
                self.frame, self.sensors[sensor_id]
            )
        return g

    # --- the batch step ---------------------------------------------------------

    def process(self, dets: list[Detection]) -> None:
        """Process one batch: detections of one sensor at (about) one time."""
        if not dets:
            return
        sensor = self.sensors[dets[0].sensor]
        geom = self._geom(sensor.id)
        t = max(d.t for d in dets)
        self.stats.batches += 1
        self.stats.detections += len(dets)
        self._predict_to(t)
        if sensor.kind == "radar":
            self._radar_t[sensor.id] = t
        tm = self.timer
        if tm is not None:
            tm.lap("predict")
        for model, z, sub in self._measurements(sensor, geom, dets):
            self._update_with(model, z, sub, sensor)
        self._manage(t)
        if tm is not None:
            tm.lap("update")

    def _measurements(
        self, sensor: Sensor, geom: SensorGeometry, dets: list[Detection]
    ) -> list[tuple[MeasurementModel, np.ndarray, list[Detection]]]:
        kind = sensor.kind
        out = []
        if kind in _POSITION_KINDS:
            lat = np.array([d.lat for d in dets], dtype=float)
            lon = np.array([d.lon for d in dets], dtype=float)
            alt = np.array([d.alt_m for d in dets], dtype=float)
            z = self.frame.to_enu(lat, lon, alt).reshape(-1, 3)
            out.append((model_for(sensor, geom), z, dets))
        elif kind == "radar":
            # Detections with and without range rate use different models.
            for with_rate in (True, False):
                sub = [d for d in dets if (d.range_rate_mps is not None) == with_rate]
                if not sub:
                    continue
                cols = [
                    [d.range_m for d in sub],
                    np.radians([d.az_deg for d in sub]),
                    np.radians([d.el_deg for d in sub]),
                ]
                if with_rate:
                    cols.append([d.range_rate_mps for d in sub])
                z = np.array(cols, dtype=float).T
                out.append((model_for(sensor, geom, with_rate=with_rate), z, sub))
        else:
            for with_el in (True, False):
                sub = [d for d in dets if (d.el_deg is not None) == with_el]
                if not sub:
                    continue
                cols = [np.radians([d.az_deg for d in sub])]
                if with_el:
                    cols.append(np.radians([d.el_deg for d in sub]))
                z = np.array(cols, dtype=float).T
                out.append((model_for(sensor, geom, with_el=with_el), z, sub))
        return out

    def advance(self, t: float) -> None:
        """Move the tracker's clock to t with no detection (coast, delete)."""
        if t > self.t_s:
            self.t_s = t
            self._manage(t)

    def _predict_to(self, t: float) -> None:
        """Predict every track to time t (IMM mixing + per-mode CV prediction)."""
        if len(self) == 0:
            self.t_s = max(self.t_s, t)
            return
        dt = t - self.t_state
        move = dt != 0.0
        if move.any():
            xm, Pm, mu = imm_predict(
                self.xm[move], self.Pm[move], self.mu[move], dt[move], self._sigma_a, self._tau
            )
            self.xm[move], self.Pm[move], self.mu[move] = xm, Pm, mu
            self.t_state[move] = t
            self._combined = None
        self.t_s = max(self.t_s, t)

    def combined(self) -> tuple[np.ndarray, np.ndarray]:
        """Moment-matched state x (n, 6) and covariance P (n, 6, 6) of every track
        (read-only: kept until the state changes)."""
        if self._combined is None:
            if self.mu.shape[1] == 1:
                self._combined = (self.xm[:, 0].copy(), self.Pm[:, 0].copy())
            else:
                self._combined = imm_combine(self.xm, self.Pm, self.mu)
        return self._combined

    def _update_with(
        self, model: MeasurementModel, z: np.ndarray, dets: list[Detection], sensor: Sensor
    ) -> None:
        cfg = self.config
        tm = self.timer
        geom = self._geom(sensor.id)
        k = z.shape[0]
        n = len(self)
        det_ident = np.array([_identity(d, sensor.kind) for d in dets], dtype=object)
        det_pos = model.to_position(z)
        used = np.zeros(k, bool)
        if n:
            x, P = self.combined()
            gate = self._gate[model.dim]
            pos_var = np.trace(P[:, :3, :3], axis1=1, axis2=2)
            if model.kind is ModelKind.RADAR:
                # A radar plot's converted position covariance only approximates its
                # gate in range/azimuth/elevation: a wider ball, and the exact marginal
                # tests on range, azimuth and elevation (radar plots carry no identity,
                # so no wider gate either).
                det_var = np.trace(model.position_cov(z), axis1=1, axis2=2)
                ti, di = radar_candidate_pairs(
                    model, x[:, :3], pos_var, largest_eigenvalue_bound(P[:, :3, :3]),
                    det_pos, det_var, z, gate, cfg.prefilter_gate_factor,
                )  # fmt: skip
            elif det_pos is not None:
                # Linear position model: S = P_pos + R, so d2 >= |dp|^2 / lambda_max(S)
                # and the bound is exact; no margin needed.
                ti, di = candidate_pairs(
                    x[:, :3],
                    largest_eigenvalue_bound(P[:, :3, :3]),
                    det_pos,
                    largest_eigenvalue_bound(model.position_cov(z)),
                    gate,
                )
            else:
                # Bearings: the bound holds for the linearised gate itself (exact).
                ti, di = bearing_candidate_pairs(model, x[:, :3], pos_var, z, gate)
            ti, di = _with_identity_pairs(ti, di, self.identity, det_ident)
            if sensor.max_range_m is not None and ti.shape[0]:
                # A sensor cannot see a track far beyond its range. Without this, a
                # camera's bearing to a nearby bird can pull a radar track of a
                # drone 15 km out along the same line of sight.
                reach = sensor.max_range_m * self.config.range_margin + 3.0 * np.sqrt(pos_var)
                seen = np.linalg.norm(x[:, :3] - geom.pos_enu_m, axis=1) <= reach
                keep_pairs = seen[ti]
                ti, di = ti[keep_pairs], di[keep_pairs]
            d2, logdet = mahalanobis(model, x, P, z, ti, di)
            # Cooperative identity: the same id always pairs (within a wide
            # gate, so a reused id far away does not), a different id never.
            ti_id = self.identity[ti]
            di_id = det_ident[di]
            ti_has, di_has = present(ti_id), present(di_id)
            same = ti_has & (ti_id == di_id)
            differ = ti_has & di_has & (ti_id != di_id)
            keep = ((d2 < gate) | (same & (d2 < gate * cfg.identity_gate_factor))) & ~differ
            cost = np.where(same, 0.0, d2 + logdet)
            # Tentative tracks come second to established ones for a detection.
            cost = cost + np.where(self.status[ti] == TENTATIVE, cfg.tentative_cost, 0.0)
            g = Gated(ti[keep], di[keep], d2[keep], cost[keep])
            gated_di = g.di
            if sensor.kind == "rf" and cfg.rf_bias_max > 0.0 and g.ti.shape[0]:
                g = self._rf_unbiased(g, sensor.id, x, P, z, model)
            if tm is not None:
                tm.lap("gate")
            if self.config.association == "jpda":
                used |= self._update_jpda(model, z, dets, sensor, g, n)
            else:
                at, ad = assign_gnn(g, n, k)
                if tm is not None:
                    tm.lap("assign")
                if at.shape[0]:
                    self._kalman_update(model, at, z[ad])
                    self._after_update(at, [dets[j] for j in ad], det_ident[ad], sensor)
                    used[ad] = True
            # A detection inside a track's gate that lost the assignment is not
            # a new object's first sighting: only truly unexplained ones start tracks.
            in_gate = np.zeros(k, bool)
            # A bearing refused for bias is not unexplained either: freed, another
            # emitter's bearings crossed a camera's on a bird beside the sensors and
            # started ghosts there (held-out real-train-01, -04).
            in_gate[gated_di] = True
            self.stats.unassociated += int((~used).sum())
            fresh = ~used & ~in_gate
        else:
            self.stats.unassociated += k
            fresh = ~used
        self.stats.used += int(used.sum())
        if tm is not None:
            tm.lap("update")
        if model.kind is ModelKind.BEARING:
            self._triangulate(sensor, model, z, dets, fresh)
        else:
            self._initiate(model, z, dets, det_ident, fresh, sensor)
        if tm is not None:
            tm.lap("initiate")

    def _update_jpda(
        self,
        model: MeasurementModel,
        z: np.ndarray,
        dets: list[Detection],
        sensor: Sensor,
        g: Gated,
        n: int,
    ) -> np.ndarray:
        """JPDA: each gated track takes the beta-weighted combined innovation."""
        cfg = self.config
        k = z.shape[0]
        used = np.zeros(k, bool)
        if g.ti.shape[0] == 0:
            return used
        beta = jpda_weights(g, n, k, cfg.jpda_pd, cfg.jpda_clutter_density, model.dim)
        if self.timer is not None:
            self.timer.lap("assign")
        tracks = np.unique(g.ti)
        x, P = self.combined()
        zhat, _H = model.predict(x[g.ti])
        y = model.residual(z[g.di], zhat)
        yb = np.zeros((n, model.dim))
        np.add.at(yb, g.ti, beta[:, None] * y)
        yy = np.zeros((n, model.dim, model.dim))
        np.add.at(yy, g.ti, beta[:, None, None] * np.einsum("ki,kj->kij", y, y))
        bsum = np.zeros(n)
        np.add.at(bsum, g.ti, beta)
        _zh_t, H_t = model.predict(x[tracks])
        S = H_t @ P[tracks] @ H_t.transpose(0, 2, 1) + model.R
        K = P[tracks] @ H_t.transpose(0, 2, 1) @ np.linalg.inv(S)
        ybt = yb[tracks]
        # x = x + K yb ; P = b0 P + (1-b0) Pc + K (sum b y y' - yb yb') K'
        x_new = x[tracks] + np.einsum("kij,kj->ki", K, ybt)
        Pc = P[tracks] - K @ S @ K.transpose(0, 2, 1)
        b0 = 1.0 - bsum[tracks]
        spread = yy[tracks] - np.einsum("ki,kj->kij", ybt, ybt)
        P_new = (
            b0[:, None, None] * P[tracks]
            + (1 - b0)[:, None, None] * Pc
            + K @ spread @ K.transpose(0, 2, 1)
        )
        # The IMM modes collapse to the JPDA estimate; mode probabilities keep.
        self.xm[tracks] = x_new[:, None, :]
        self.Pm[tracks] = P_new[:, None, :, :]
        self._combined = None
        # The detection each updated track is credited with: its likeliest one above
        # jpda_update_p (first in descending beta), else its first gated one.
        upd = tracks[bsum[tracks] > cfg.jpda_update_p]
        if upd.shape[0]:
            order = np.argsort(-beta)
            order = order[beta[order] > cfg.jpda_update_p]
            best_t, at = np.unique(g.ti[order], return_index=True)
            first_t, first = np.unique(g.ti, return_index=True)
            dd = g.di[first[np.searchsorted(first_t, upd)]]
            has_best = np.isin(upd, best_t)
            dd[has_best] = g.di[order[at[np.searchsorted(best_t, upd[has_best])]]]
            ident = np.array([_identity(dets[j], sensor.kind) for j in dd], dtype=object)
            self._after_update(upd, [dets[j] for j in dd], ident, sensor)
        used[np.unique(g.di[beta > cfg.jpda_used_p])] = True
        return used

    def _kalman_update(self, model: MeasurementModel, ti: np.ndarray, z: np.ndarray) -> None:
        """IMM update of tracks ti (p,) with measurements z (p, m), Joseph form per mode."""
        p, m_modes = ti.shape[0], self.mu.shape[1]
        xm = self.xm[ti].reshape(p * m_modes, 6)
        Pm = self.Pm[ti].reshape(p * m_modes, 6, 6)
        zhat, H = model.predict(xm)
        y = model.residual(np.repeat(z, m_modes, axis=0), zhat)
        x_new, P_new, d2, logdet = kalman_update(xm, Pm, H, model.R, y)
        if m_modes > 1:
            loglik = (-0.5 * (d2 + logdet)).reshape(p, m_modes)
            loglik -= loglik.max(axis=1, keepdims=True)
            w = self.mu[ti] * np.exp(loglik)
            self.mu[ti] = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
        self.xm[ti] = x_new.reshape(p, m_modes, 6)
        self.Pm[ti] = P_new.reshape(p, m_modes, 6, 6)
        self._combined = None

    def _rf_unbiased(
        self,
        g: Gated,
        sensor_id: str,
        x: np.ndarray,
        P: np.ndarray,
        z: np.ndarray,
        model: MeasurementModel,
    ) -> Gated:
        """The gated pairs of a direction finder's batch less those of tracks whose
        bearings from it are biased.

        One bearing 3.5 sigma off passes the gate, and a bird that a radar fixes 2 km
        short of a hovering drone, near the line of the drone's emissions from two
        finders, took the drone's bearings scan after scan and read as an emitter
        (real-eval-02). Noise averages out and another emitter's offset does not: per
        track and finder, a running mean of the azimuth residual (of the best-gated
        bearing each batch) beyond ``rf_bias_max`` finder sigmas plus three of the
        track's own, after ``rf_bias_min_n`` bearings, rejects the pairs of a track a
        radar plot or position report updated within ``rf_bias_fix_s``.
        """
        cfg = self.config
        slot = self._rf_slot.get(sensor_id)
        if slot is None:
            if len(self._rf_slot) >= _RF_SLOTS:
                return g
            slot = self._rf_slot[sensor_id] = len(self._rf_slot)
        # Best pair per track (lowest d2): sort by d2, keep each track's first.
        order = np.lexsort((g.d2, g.ti))
        first = np.ones(order.shape[0], bool)
        first[1:] = g.ti[order][1:] != g.ti[order][:-1]
        best = order[first]
        tb, db = g.ti[best], g.di[best]
        _, rh2, az_t = sensor_axes(model, x[tb, :3])
        y = (z[db, 0] - az_t + math.pi) % (2.0 * math.pi) - math.pi
        a = cfg.rf_bias_alpha
        self.rf_bias[tb, slot] = (1.0 - a) * self.rf_bias[tb, slot] + a * y
        self.rf_n[tb, slot] += 1
        # The finder's noise averages out of the mean, the track's own error does
        # not (it changes slowly): allow the track's azimuth sigma from the finder (its
        # horizontal variance across the line of sight over the squared range) in
        # full. A radar-held quadcopter hovering 100 m from a finder is metres off,
        # degrees from there.
        sd_track = np.sqrt((P[tb, 0, 0] + P[tb, 1, 1]) / 2.0 / rh2)
        bound = cfg.rf_bias_max * math.sqrt(float(model.R[0, 0])) + _RF_TRACK_SIGMAS * sd_track
        biased = (
            (np.abs(self.rf_bias[tb, slot]) > bound)
            & (self.rf_n[tb, slot] >= cfg.rf_bias_min_n)
            # Only where a range-giving sensor holds the track: one that bearings keep
            # (a quadcopter between radar plots) is where its bearings put it, and
            # there a lagging turn, not another emitter, makes one-sided residuals.
            & (self.t_s - self.t_pos[tb] <= cfg.rf_bias_fix_s)
        )
        refused = np.zeros(len(self), bool)
        refused[tb[biased]] = True
        ok = ~refused[g.ti]
        if ok.all():
            return g
        self.stats.rf_biased_rejected += int((~ok).sum())
        return Gated(g.ti[ok], g.di[ok], g.d2[ok], g.cost[ok])

    def _after_update(
        self, ti: np.ndarray, dets: list[Detection], ident: np.ndarray, sensor: Sensor
    ) -> None:
        kind = sensor.kind
        self.n_upd[ti] += 1
        self.t_last[ti] = self.t_s
        cfg = self.config
        if kind in BEARING_KINDS:
            crossed = (
                (self.b_sensor[ti] != "")
                & (self.b_sensor[ti] != sensor.id)
                & (self.t_s - self.b_t[ti] <= cfg.bearing_fix_window_s)
            )
            fixed = ti[crossed]
            partner = self.b_sensor[fixed]
            self.b_sensor[ti] = sensor.id
            self.b_t[ti] = self.t_s
            if fixed.shape[0]:
                fixed = fixed[self._crossing_fixes(fixed, partner, sensor.id)]
        else:
            fixed = ti
            self.fix_batch[ti, self.n_fix[ti] % _FIX_RING] = self.stats.batches
            self.n_fix[ti] += 1
            self.t_pos[ti] = self.t_s
        self.sd_fix[fixed] = self._sd_horizontal(fixed)
        self.t_fix[fixed] = self.t_s
        coasting = self.status[fixed] == COASTING
        self.status[fixed[coasting]] = CONFIRMED
        set_id = present(ident) & ~present(self.identity[ti])
        self.identity[ti[set_id]] = ident[set_id]
        self._assoc.track_id.extend(self.id[ti].tolist())
        self._assoc.dets.extend(dets)
        self._assoc.kinds.extend([kind] * len(dets))

    def _sd_horizontal(self, rows: np.ndarray) -> np.ndarray:
        """Horizontal position one-sigma (RMS over east and north, metres) of the mode
        mixture of ``rows``."""
        _, P = imm_combine(self.xm[rows], self.Pm[rows], self.mu[rows])
        return _horizontal_sd(P)

    def _crossing_fixes(self, rows: np.ndarray, partner: np.ndarray, sensor_id: str) -> np.ndarray:
        """Which of ``rows``, whose bearing from ``sensor_id`` crossed one from ``partner``
        (per row) within the fix window, that crossing fixes: bool (n,). Each check
        looks only at the rows the ones before it kept."""
        cfg = self.config
        x, P = imm_combine(self.xm[rows], self.Pm[rows], self.mu[rows])
        sd = _horizontal_sd(P)
        keep = np.ones(rows.shape[0], bool)
        if cfg.bearing_fix_max_growth > 0.0:
            keep &= sd <= np.maximum(
                cfg.bearing_fix_max_growth * self.sd_fix[rows], cfg.bearing_fix_sd_m
            )
        if cfg.rf_corroborate_window_s > 0.0:
            # A crossing with a finder's bearing fixes a track only where every other
            # finder in range hears it too, as it starts one only there (_triangulate):
            # else a track left where two bearings on two far objects cross lives on.
            for r in np.flatnonzero(keep):
                keep[r] = self._rf_corroborated(
                    x[r, :3], float(sd[r]), (sensor_id, str(partner[r]))
                )
        if cfg.radar_cover_range_m > 0.0:
            # Bearings alone do not place an object where a radar would see it: only a
            # radar plot does (a ghost there lives on crossings otherwise).
            unseen = keep & (self.t_s - self.t_pos[rows] > cfg.radar_cover_window_s)
            if unseen.any():
                keep[unseen] = ~self._radar_covers(x[unseen, :3])
        return keep

    # --- initiation ---------------------------------------------------------------

    def _initiate(
        self,
        model: MeasurementModel,
        z: np.ndarray,
        dets: list[Detection],
        ident: np.ndarray,
        fresh: np.ndarray,
        sensor: Sensor,
    ) -> None:
        idx = np.flatnonzero(fresh)
        if idx.shape[0] == 0:
            return
        pos = model.to_position(z[idx])
        pcov = model.position_cov(z[idx])
        vel = np.zeros((idx.shape[0], 3))
        vvar = np.full((idx.shape[0], 3), self.config.init_speed_sigma_mps**2)
        vvar[:, 2] = self.config.init_vspeed_sigma_mps**2
        fresh_dets = [dets[i] for i in idx]
        # Cooperative broadcasts give velocity: start with it (only they carry one).
        moving = [
            (j, d.speed_mps, d.track_deg, d.vrate_mps)
            for j, d in enumerate(fresh_dets)
            if d.speed_mps is not None and d.track_deg is not None
        ]
        for j, speed, track, vrate in moving:
            tr = math.radians(track)
            vel[j] = (speed * math.sin(tr), speed * math.cos(tr), vrate or 0.0)
        vvar[[m[0] for m in moving]] = self.config.cooperative_speed_sigma_mps**2
        self._spawn(pos, pcov, vel, vvar, ident[idx], fresh_dets, sensor.kind)

    def _spawn(
        self,
        pos: np.ndarray,
        pcov: np.ndarray,
        vel: np.ndarray,
        vvar: np.ndarray,
        ident: np.ndarray,
        dets: list[Detection],
        kind: str,
    ) -> None:
        k = pos.shape[0]
        m = self.mu.shape[1]
        x = np.concatenate([pos, vel], axis=1)
        P = np.zeros((k, 6, 6))
        P[:, :3, :3] = pcov
        P[:, 3, 3], P[:, 4, 4], P[:, 5, 5] = vvar[:, 0], vvar[:, 1], vvar[:, 2]
        ids = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        fix_batch = np.full((k, _FIX_RING), -1, np.int64)
        positioned = kind not in BEARING_KINDS
        if positioned:
            fix_batch[:, 0] = self.stats.batches
        self._append(
            {
                "id": ids,
                "status": np.full(k, TENTATIVE, np.int8),
                "xm": np.repeat(x[:, None], m, axis=1),
                "Pm": np.repeat(P[:, None], m, axis=1),
                "mu": np.tile(self._mu0, (k, 1)),
                "t_state": np.full(k, self.t_s),
                "identity": ident.astype(object),
                "n_upd": np.ones(k, np.int64),
                "t_first": np.full(k, self.t_s),
                "t_last": np.full(k, self.t_s),
                "t_fix": np.full(k, self.t_s),
                "sd_fix": _horizontal_sd(pcov),
                "b_sensor": np.full(k, "", dtype=object),
                "b_t": np.full(k, -math.inf),
                "fix_batch": fix_batch,
                "n_fix": np.full(k, int(positioned), np.int64),
                "t_pos": np.full(k, self.t_s if positioned else -math.inf),
                "rf_bias": np.zeros((k, _RF_SLOTS)),
                "rf_n": np.zeros((k, _RF_SLOTS), np.int64),
            }
        )
        self.stats.initiated += k
        self._assoc.track_id.extend(ids.tolist())
        self._assoc.dets.extend(dets)
        self._assoc.kinds.extend([kind] * k)

    def _triangulate(
        self,
        sensor: Sensor,
        model: MeasurementModel,
        z: np.ndarray,
        dets: list[Detection],
        fresh: np.ndarray,
    ) -> None:
        """Start tracks where unexplained bearings of two sensors cross.

        Each new bearing is paired with buffered bearings of other sensors from
        the last ``triangulation_window_s``; the midpoint of the two rays'
        closest approach, if both rays point forward to it and they cross at a
        usable angle, starts a tentative track. Ghost crossings of many rays
        die as tentatives for want of confirmation.
        """
        cfg = self.config
        geom = self._geom(sensor.id)
        while self._bearings and self._bearings[0].t_s < self.t_s - cfg.triangulation_window_s:
            self._bearings.popleft()
        if sensor.kind == "rf" and cfg.rf_corroborate_window_s > 0.0:
            self._remember_rf(sensor.id, z[:, 0], math.sqrt(model.R[0, 0]))
        idx = np.flatnonzero(fresh)
        if idx.shape[0] == 0:
            return
        has_el = model.with_el
        el = z[idx, 1] if has_el else np.zeros(idx.shape[0])
        rays = bearing_rays(geom, z[idx, 0], el)
        min_sin = math.sin(math.radians(cfg.triangulation_min_angle_deg))
        new_pos, new_cov, new_dets = [], [], []
        consumed: set[int] = set()
        for j, i in enumerate(idx):
            for b_i, b in enumerate(self._bearings):
                if b.sensor == sensor.id or b_i in consumed:
                    continue
                hit = _closest_approach(
                    geom.pos_enu_m, rays[j], self._geom(b.sensor).pos_enu_m, b.ray, has_el, b.has_el
                )
                if hit is None:
                    continue
                p, r1, r2, sin_a = hit
                if sin_a < min_sin:
                    continue
                max1 = self.sensors[sensor.id].max_range_m or math.inf
                max2 = self.sensors[b.sensor].max_range_m or math.inf
                if r1 > max1 * cfg.range_margin or r2 > max2 * cfg.range_margin:
                    continue
                if not (has_el or b.has_el):
                    p[2] = cfg.triangulation_default_up_m
                s_az = math.sqrt(model.R[0, 0])
                # Cross-range error of each ray over the angle between them.
                s_h = max(r1, r2) * s_az / sin_a
                s_u = s_h if (has_el or b.has_el) else cfg.triangulation_default_up_sigma_m
                if not self._rf_corroborated(p, s_h, (sensor.id, b.sensor)):
                    continue
                if cfg.radar_cover_range_m > 0.0 and self._radar_covers(p[None, :])[0]:
                    continue  # a radar would see an object there, and has no track of it
                new_pos.append(p)
                new_cov.append(np.diag([s_h**2, s_h**2, s_u**2]))
                new_dets.append(dets[i])
                consumed.add(b_i)
                break
        for j, i in enumerate(idx):
            self._bearings.append(_Bearing(self.t_s, sensor.id, rays[j], has_el, dets[i]))
        if new_pos:
            k = len(new_pos)
            self.stats.bearings_triangulated += k
            self._spawn(
                np.array(new_pos),
                np.array(new_cov),
                np.zeros((k, 3)),
                np.tile(
                    [
                        cfg.init_speed_sigma_mps**2,
                        cfg.init_speed_sigma_mps**2,
                        cfg.init_vspeed_sigma_mps**2,
                    ],
                    (k, 1),
                ),
                np.full(k, None, dtype=object),
                new_dets,
                sensor.kind,
            )

    def _radar_covers(self, pos: np.ndarray) -> np.ndarray:
        """Which site-ENU points (n, 3) lie within ``radar_cover_range_m`` (and
        ``radar_cover_max_frac`` of its range) of a radar that has reported in the last
        ``radar_cover_window_s``, inside its field of view: bool (n,)."""
        cfg = self.config
        out = np.zeros(pos.shape[0], bool)
        for sid, t in self._radar_t.items():
            sensor = self.sensors.get(sid)
            if sensor is None or self.t_s - t > cfg.radar_cover_window_s:
                continue
            reach = cfg.radar_cover_range_m
            if sensor.max_range_m is not None:
                reach = min(reach, cfg.radar_cover_max_frac * sensor.max_range_m)
            r, az, el = self._geom(sid).to_aer(pos)
            out |= (r <= reach) & in_coverage_aer(sensor, r, az, el)
        return out

    def _remember_rf(self, sensor_id: str, az: np.ndarray, sigma: float) -> None:
        """Keep a direction finder's bearings (azimuths in its axes, radians, and their
        sigma) of the last ``rf_corroborate_window_s``."""
        q = self._rf_recent.setdefault(sensor_id, deque())
        q.append((self.t_s, np.array(az, dtype=float), sigma))
        while q and q[0][0] < self.t_s - self.config.rf_corroborate_window_s:
            q.popleft()

    def _rf_corroborated(self, p: np.ndarray, s_h: float, pair: tuple[str, str]) -> bool:
        """Whether a crossing at ``p`` (horizontal sigma ``s_h``, metres) of the bearings
        of the sensors in ``pair``, one of them a direction finder, is heard by every other
        direction finder whose range covers it (``rf_corroborate_window_s``)."""
        cfg = self.config
        if cfg.rf_corroborate_window_s <= 0.0:
            return True
        kinds = [self.sensors[sid].kind for sid in pair if sid in self.sensors]
        if "rf" not in kinds:
            return True
        for sid, s in self.sensors.items():
            if s.kind != "rf" or sid in pair or s.max_range_m is None:
                continue
            v = self._geom(sid).to_local(p)
            dist = math.hypot(v[0], v[1])
            if dist > s.max_range_m or dist <= 0.0:
                continue
            recent = [
                (az, sigma)
                for t, az, sigma in self._rf_recent.get(sid, ())
                if t >= self.t_s - cfg.rf_corroborate_window_s
            ]
            if not recent:
                return False
            az = np.concatenate([a for a, _ in recent])
            sigma = np.concatenate([np.full(a.shape[0], sg) for a, sg in recent])
            off = np.abs(wrap_angle(az - math.atan2(v[0], v[1])))
            tol = cfg.rf_corroborate_n_sigma * np.sqrt(sigma**2 + (s_h / dist) ** 2)
            if not (off <= tol).any():
                return False
        return True

    # --- management ------------------------------------------------------------------

    def _manage(self, t: float) -> None:
        cfg = self.config
        since = t - self.t_last
        since_fix = t - self.t_fix
        age = t - self.t_first
        st = self.status
        x, P = self.combined()
        vel_var = np.trace(P[:, 3:, 3:], axis1=1, axis2=2) / 3.0
        confirm = (
            (st == TENTATIVE)
            & (self.n_upd >= cfg.confirm_hits)
            & (vel_var <= cfg.confirm_max_vel_std_mps**2)
            & (self.t_last - self.t_first >= cfg.confirm_min_span_s)
            & (since_fix <= cfg.coast_after_s)
        )
        st[confirm] = CONFIRMED
        self.stats.confirmed += int(confirm.sum())
        st[(st == CONFIRMED) & (since_fix > cfg.coast_after_s)] = COASTING
        pos_var = np.trace(P[:, :3, :3], axis1=1, axis2=2) / 3.0
        dead = (
            ((st == TENTATIVE) & ((since > cfg.tentative_timeout_s) | (age > cfg.confirm_window_s)))
            | ((st != TENTATIVE) & (since_fix > cfg.delete_after_s))
            | (pos_var > cfg.max_pos_std_m**2)
            # ENU up is measured from the site altitude.
            | (x[:, 2] + self.frame.alt_m < cfg.min_alt_m)
        )
        if dead.any():
            for i in np.flatnonzero(dead & (st != TENTATIVE)):
                self._end(int(i), x, P)
            self.stats.deleted += int((dead & (st != TENTATIVE)).sum())
            self._keep(~dead)
        if cfg.continue_accel_mps2 > 0.0:
            self._continue_lost(t)
        # A duplicate lives for seconds: looking once a second is enough.
        if cfg.merge_fixes > 0 and t - self._merge_t >= 1.0:
            self._merge_t = t
            self._merge_duplicates()

    def _end(self, i: int, x: np.ndarray, P: np.ndarray) -> None:
        """Queue a deleted line for track row ``i`` (state ``x[i]``, ``P[i]``)."""
        self._deleted.append(
            (
                int(self.id[i]),
                x[i].copy(),
                P[i].copy(),
                self.identity[i],
                int(self.n_upd[i]),
                float(self.t_first[i]),
                float(self.t_last[i]),
            )
        )

    def _continue_lost(self, t: float) -> None:
        """Give a young confirmed track the id of a coasting one whose object it can be.

        Young: confirmed, first seen within ``continue_window_s`` of now, or within as
        long before the lost track's last fix (in a turn one radar's plots may keep
        fixing the old track for seconds after the new one started, and it coasts only
        after that). Lost: coasting, older,
        its last fix at most ``_LOST_OVERLAP_S`` after the young track's first detection
        (tracks both fixed for longer saw two objects), or fixed for longer but never in
        a batch that also fixed the young track (no sensor saw both at once: in a sharp
        turn one radar's plots may still fit the old track while the others' start the
        new one, and that is one object). It can be that object when it
        lies within reach of a turn at ``continue_accel_mps2`` since the lost track's last
        fix (plus 3 sigma of both positions), at a velocity that turn allows, with no
        other identity, and no third established track lies within that reach nearer to
        the lost track's prediction than the young one, and the lost track is not
        predicted more than ``continue_min_up_m`` below the site (it came down). Nearest
        first, one to one; the lost track is dropped without a deleted line, since its id
        lives on.
        """
        cfg = self.config
        st = self.status
        # Young by the clock, or by the lost track's last fix (checked per pair below).
        new = np.flatnonzero(
            (st == CONFIRMED) & (t - self.t_first <= cfg.continue_window_s + cfg.delete_after_s)
        )
        if new.shape[0] == 0:
            return
        old = np.flatnonzero(st == COASTING)
        if old.shape[0] == 0:
            return
        x, P = self.combined()
        dt_state = t - self.t_state[old]
        p_old = x[old, :3] + x[old, 3:6] * dt_state[:, None]
        # Candidate pairs within the longest reach only, from k-d trees: in a raid some
        # 150 young against 100 lost tracks per batch, few of them near each other.
        reach_max = cfg.continue_max_m
        near_old = cKDTree(x[new, :3]).query_ball_tree(cKDTree(p_old), reach_max)
        r = np.repeat(np.arange(new.shape[0]), [len(c) for c in near_old])
        if r.shape[0] == 0:
            return
        c = np.fromiter((j for cs in near_old for j in cs), np.int64, r.shape[0])
        by_pair = np.lexsort((c, r))
        r, c = r[by_pair], c[by_pair]
        i, j = new[r], old[c]
        dt_fix = t - self.t_fix[j]
        d = np.linalg.norm(x[i, :3] - p_old[c], axis=1)
        dv = np.linalg.norm(x[i, 3:6] - x[j, 3:6], axis=1)
        var_i = np.diagonal(P[i], axis1=1, axis2=2)
        var_j = np.diagonal(P[j], axis1=1, axis2=2)
        a = cfg.continue_accel_mps2
        reach = np.minimum(
            0.5 * a * dt_fix**2
            + 3.0 * np.sqrt(var_i[:, :3].mean(axis=1) + var_j[:, :3].mean(axis=1)),
            reach_max,
        )
        turn = a * dt_fix + 3.0 * np.sqrt(var_i[:, 3:].mean(axis=1) + var_j[:, 3:].mean(axis=1))
        id_i, id_j = self.identity[i], self.identity[j]
        clash = present(id_i) & present(id_j) & (id_i != id_j)
        before = (self.t_first[j] < self.t_first[i]) & (
            (self.t_fix[j] <= self.t_first[i] + _LOST_OVERLAP_S) | self._never_fixed_together(i, j)
        )
        young = (t - self.t_first[i] <= cfg.continue_window_s) | (
            (self.t_first[i] >= self.t_fix[j] - cfg.continue_window_s)
            & (self.t_first[i] <= self.t_fix[j])
        )
        # A lost track whose prediction has gone far below the site is an object that
        # came down (a drone diving into its target keeps diving in its prediction).
        up = p_old[c, 2] >= cfg.continue_min_up_m
        ok = (d <= reach) & (dv <= turn) & ~clash & before & young & up
        if not ok.any():
            return
        c, i, j, d, reach = c[ok], i[ok], j[ok], d[ok], reach[ok]
        # Only where nothing else could as well be the lost object: with another
        # established track within reach and nearer to the lost one's prediction than
        # the young track (a wave of drones in formation) the young track may as well be
        # a neighbour's second track, and the object handover of the threat stage
        # decides. A neighbour further off than the young track (the next drone of a
        # wave, 640 m abreast of one whose track broke at a dogleg 580 m off its
        # prediction) is no such doubt. The pair itself is at most two of a lost
        # track's three nearest established tracks, so the nearest third is among them.
        others = np.flatnonzero((st == CONFIRMED) | (st == COASTING))
        k_near = min(3, others.shape[0])
        lost, row = np.unique(c, return_inverse=True)
        dist, nearest = cKDTree(x[others, :3]).query(p_old[lost], k=k_near)
        dist = dist.reshape(lost.shape[0], k_near)[row]
        near = others[nearest.reshape(lost.shape[0], k_near)][row]
        third = (near != i[:, None]) & (near != j[:, None])
        free = ~(third & (dist <= np.minimum(reach, d)[:, None])).any(axis=1)
        if not free.any():
            return
        i, j = i[free], j[free]
        cost = (d / np.maximum(reach, 1e-9))[free]
        # Nearest first, one to one (a stable sort keeps the young-then-lost order of ties).
        drop = np.zeros(len(self), bool)
        taken_i = np.zeros(len(self), bool)
        for k in np.argsort(cost, kind="stable"):
            ik, jk = i[k], j[k]
            if taken_i[ik] or drop[jk]:
                continue
            self.id[ik] = self.id[jk]
            self.t_first[ik] = self.t_first[jk]
            self.n_upd[ik] += self.n_upd[jk]
            if self.identity[ik] is None:
                self.identity[ik] = self.identity[jk]
            drop[jk] = True
            taken_i[ik] = True
        self.stats.continued += int(drop.sum())
        self._keep(~drop)

    def _merge_duplicates(self) -> None:
        """Merge pairs of established tracks that are one object seen twice.

        Candidates lie within ``merge_max_m`` (horizontally and vertically) at
        velocities within ``merge_max_dv_mps``, with the same identity (or none), and
        no third established track lies that close to either.
        They are one object when no position-fixing batch in their rings fixed both,
        and each had at least ``merge_fixes`` of them while the other's ring runs:
        one sensor's scan never gave two plots there. The track with the smaller position variance survives under the
        older id (its first time, update count and identity); the younger id ends
        with a deleted line. Nearest pair first, one merge per track per batch.
        """
        cfg = self.config
        k = cfg.merge_fixes
        st = self.status
        cand = np.flatnonzero((st == CONFIRMED) | (st == COASTING))
        if cand.shape[0] < 2:
            return
        x, P = self.combined()
        pairs = cKDTree(x[cand, :2]).query_pairs(cfg.merge_max_m, output_type="ndarray")
        if pairs.shape[0] == 0:
            return
        # Only a pair with no third established track near either: in a flock of birds
        # (or a tight formation) tracks hop between members, and two members' tracks
        # can go a few scans without a common fix.
        alone = np.bincount(pairs.ravel(), minlength=cand.shape[0]) == 1
        pairs = pairs[alone[pairs[:, 0]] & alone[pairs[:, 1]]]
        i, j = cand[pairs[:, 0]], cand[pairs[:, 1]]
        ok = (np.abs(x[i, 2] - x[j, 2]) <= cfg.merge_max_m) & (
            np.linalg.norm(x[i, 3:6] - x[j, 3:6], axis=1) <= cfg.merge_max_dv_mps
        )
        i, j = i[ok], j[ok]
        if i.shape[0] == 0:
            return
        # Over the span both rings cover: no batch in common, at least k fixes each.
        fi, fj = self.fix_batch[i], self.fix_batch[j]
        common = _fixed_together(fi, fj)
        big = np.iinfo(np.int64).max
        lo = np.maximum(
            np.where(fi >= 0, fi, big).min(axis=1), np.where(fj >= 0, fj, big).min(axis=1)
        )
        hi = np.minimum(fi.max(axis=1), fj.max(axis=1))
        n_i = ((fi >= lo[:, None]) & (fi <= hi[:, None])).sum(axis=1)
        n_j = ((fj >= lo[:, None]) & (fj <= hi[:, None])).sum(axis=1)
        same = ~common & (n_i >= k) & (n_j >= k)
        # Identities (Python objects) compared only for the few pairs left.
        i, j = i[same], j[same]
        id_i, id_j = self.identity[i], self.identity[j]
        same_id = (present(id_i) == present(id_j)) & ((id_i == id_j) | ~present(id_i))
        i, j = i[same_id], j[same_id]
        if i.shape[0] == 0:
            return
        d = np.hypot(x[i, 0] - x[j, 0], x[i, 1] - x[j, 1])
        var_i = np.trace(P[i, :3, :3], axis1=1, axis2=2)
        var_j = np.trace(P[j, :3, :3], axis1=1, axis2=2)
        drop = np.zeros(len(self), bool)
        for m in np.argsort(d, kind="stable"):
            a, b = int(i[m]), int(j[m])
            if drop[a] or drop[b]:
                continue
            old, young = (a, b) if self.t_first[a] <= self.t_first[b] else (b, a)
            keep, gone = (a, b) if var_i[m] <= var_j[m] else (b, a)
            self._end(young, x, P)
            if keep == young:
                self.id[keep] = self.id[old]
                self.t_first[keep] = self.t_first[old]
            self.n_upd[keep] += self.n_upd[gone]
            drop[gone] = True
        self.stats.merged += int(drop.sum())
        self._keep(~drop)

    def _never_fixed_together(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Per pair, whether no position-giving batch updated both track ``i`` and track
        ``j`` since ``i``'s first such fix, as far as their rings tell (False when they
        cannot tell: ``i`` has no such fix or more than the ring holds, or ``j``'s ring
        does not reach back to ``i``'s first)."""
        fi, fj = self.fix_batch[i], self.fix_batch[j]
        ni, nj = self.n_fix[i], self.n_fix[j]
        common = _fixed_together(fi, fj)
        oldest_j = fj[np.arange(j.shape[0]), np.where(nj >= _FIX_RING, nj % _FIX_RING, 0)]
        complete = (ni > 0) & (ni <= _FIX_RING) & ((nj < _FIX_RING) | (oldest_j < fi[:, 0]))
        return complete & ~common

    # --- output -------------------------------------------------------------------

    def table(self, t: float | None = None, *, include_deleted: bool = True) -> TrackTable:
        """Every track predicted to time t (default: the latest batch time), as columns.

        Tracks deleted since the previous call appear once with status DELETED.
        Prediction here is for output only; the tracker's own state is unchanged.
        """
        t = self.t_s if t is None else t
        x, P = self.combined()
        dt = t - self.t_state
        if len(self) and np.any(dt != 0):
            x, P = predict_cv(x, P, dt, float(self._sigma_a[0]))
        ids, status, xs, Ps = [self.id], [self.status], [x], [P]
        ident, nup, tf, tl = [self.identity], [self.n_upd], [self.t_first], [self.t_last]
        mu, tfix = [self.mu], [self.t_fix]
        if include_deleted and self._deleted:
            d = self._deleted
            ids.append(np.array([r[0] for r in d], np.int64))
            status.append(np.full(len(d), DELETED, np.int8))
            xs.append(np.array([r[1] for r in d]))
            Ps.append(np.array([r[2] for r in d]))
            ident.append(np.array([r[3] for r in d], dtype=object))
            nup.append(np.array([r[4] for r in d], np.int64))
            tf.append(np.array([r[5] for r in d]))
            tl.append(np.array([r[6] for r in d]))
            mu.append(np.tile(self._mu0, (len(d), 1)))
            tfix.append(tl[-1])  # a deleted row gets no level: its last update stands in
            self._deleted = []
        return TrackTable(
            t_s=float(t),
            id=np.concatenate(ids),
            status=np.concatenate(status),
            x=np.concatenate(xs),
            P=np.concatenate(Ps),
            identity=np.concatenate(ident),
            n_updates=np.concatenate(nup),
            t_first_s=np.concatenate(tf),
            t_last_update_s=np.concatenate(tl),
            mode_p=np.concatenate(mu),
            t_fix_s=np.concatenate(tfix),
        )

    def take_association(self) -> Association:
        """Detections that updated or started tracks since the last call."""
        a = self._assoc
        self._assoc = _Assoc()
        return Association(
            track_id=np.asarray(a.track_id, dtype=np.int64),
            detections=tuple(a.dets),
            kinds=tuple(a.kinds),
        )


def _identity(d: Detection, kind: str) -> Identity | None:
    if kind == "remoteid" and d.uas_id:
        return Identity("remoteid", d.uas_id)
    if kind == "adsb" and d.icao24:
        return Identity("icao24", d.icao24.lower())
    return None


def _with_identity_pairs(
    ti: np.ndarray, di: np.ndarray, track_ident: np.ndarray, det_ident: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Add (track, detection) pairs that share a cooperative identity to the spatial
    candidates: the identity gate is far wider than any spatial prefilter."""
    has_t, has_d = np.flatnonzero(present(track_ident)), np.flatnonzero(present(det_ident))
    if has_t.shape[0] == 0 or has_d.shape[0] == 0:
        return ti, di
    rows: dict[Identity, list[int]] = {}
    for i in has_t:
        rows.setdefault(track_ident[i], []).append(int(i))
    pairs = [(i, int(j)) for j in has_d for i in rows.get(det_ident[j], ())]
    if not pairs:
        return ti, di
    et, ed = np.array(pairs, dtype=np.int64).T
    k = int(max(det_ident.shape[0], 1))
    new = ~np.isin(et * k + ed, ti * k + di)
    return np.concatenate([ti, et[new]]), np.concatenate([di, ed[new]])


def _closest_approach(
    p1: np.ndarray, u1: np.ndarray, p2: np.ndarray, u2: np.ndarray, el1: bool, el2: bool
) -> tuple[np.ndarray, float, float, float] | None:
    """Midpoint of closest approach of rays p1 + s u1, p2 + r u2 (s, r > 0).

    Rays without elevation are intersected in the horizontal plane. Returns
    (point, s, r, sin of the angle between the rays) or None.
    """
    if not (el1 and el2):
        a = np.array([u1[0], u1[1]])
        b = np.array([u2[0], u2[1]])
        a /= np.linalg.norm(a)
        b /= np.linalg.norm(b)
        cross = a[0] * b[1] - a[1] * b[0]
        if abs(cross) < 1e-9:
            return None
        d = p2[:2] - p1[:2]
        s = (d[0] * b[1] - d[1] * b[0]) / cross
        r = (d[0] * a[1] - d[1] * a[0]) / cross
        if s <= 0 or r <= 0:
            return None
        h = p1[:2] + s * a
        if el1:
            up = p1[2] + s * u1[2] / max(np.hypot(u1[0], u1[1]), 1e-9)
        elif el2:
            up = p2[2] + r * u2[2] / max(np.hypot(u2[0], u2[1]), 1e-9)
        else:
            up = 0.0
        return np.array([h[0], h[1], up]), float(s), float(r), float(abs(cross))
    w0 = p1 - p2
    a, b, c = u1 @ u1, u1 @ u2, u2 @ u2
    d, e = u1 @ w0, u2 @ w0
    den = a * c - b * b
    if den < 1e-12:
        return None
    s = (b * e - c * d) / den
    r = (a * e - b * d) / den
    if s <= 0 or r <= 0:
        return None
    q1, q2 = p1 + s * u1, p2 + r * u2
    sin_a = float(np.linalg.norm(np.cross(u1, u2)))
    # Rays that miss each other by far more than their own angular error allows are not a fix.
    if np.linalg.norm(q1 - q2) > 0.05 * max(s, r) + 50.0:
        return None
    return (q1 + q2) / 2, float(s), float(r), sin_a


def _horizontal_sd(P: np.ndarray) -> np.ndarray:
    """Horizontal position one-sigma (RMS over east and north, metres) of covariances
    ``P`` (n, k, k) whose first two axes are east and north."""
    return np.sqrt((P[:, 0, 0] + P[:, 1, 1]) / 2.0)


def _fixed_together(fi: np.ndarray, fj: np.ndarray) -> np.ndarray:
    """Per pair of fix rings (p, _FIX_RING), whether one batch number is in both."""
    return ((fi[:, :, None] == fj[:, None, :]) & (fi[:, :, None] >= 0)).any(axis=(1, 2))
