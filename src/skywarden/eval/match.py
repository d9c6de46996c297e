"""Per-scan GOSPA of tracks (and of raw detections) against truth, and the pairs it makes.

Scan times are the distinct ``t`` of the track lines. The tracker writes no
line at a scan with no reported track, so silence must not hide missed
objects: over the truth's time span, grid points at the median scan interval
are added wherever no track line lies within half an interval.

Estimates are the ``confirmed`` and ``coasting`` track lines (what an operator
sees); tentative and deleted lines are ignored. Truth objects counted at a scan
are those that exist then and that some sensor covers (``ScenarioData.in_coverage``),
or every existing object with ``all_truth``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .gospa import distance_matrix, gospa_from_distances
from .outputs import COASTING, CONFIRMED, OutputData
from .truth import ScenarioData

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScanGospa:
    """GOSPA per scan (s scans); the ``*_pp`` parts are in m^p and add up to ``total_pp``.

    ``value_m`` (s,) = total_pp^(1/p); ``loc_m``/``missed_m``/``false_m`` (s,)
    the parts' shares of ``value_m`` (they add up to it).
    """

    t_s: np.ndarray
    value_m: np.ndarray
    total_pp: np.ndarray
    loc_pp: np.ndarray
    missed_pp: np.ndarray
    false_pp: np.ndarray
    loc_m: np.ndarray
    missed_m: np.ndarray
    false_m: np.ndarray
    n_truth: np.ndarray
    n_est: np.ndarray
    n_missed: np.ndarray
    n_false: np.ndarray

    def summary(self) -> dict[str, float | int]:
        """Means over scans (NaN when there are none)."""
        n = int(self.t_s.shape[0])

        def mean(a: np.ndarray) -> float:
            return float(np.mean(a)) if n else float("nan")

        return {
            "n_scans": n,
            "mean_m": mean(self.value_m),
            "median_m": float(np.median(self.value_m)) if n else float("nan"),
            "mean_localisation_m": mean(self.loc_m),
            "mean_missed_m": mean(self.missed_m),
            "mean_false_m": mean(self.false_m),
            "mean_total_pp": mean(self.total_pp),
            "mean_localisation_pp": mean(self.loc_pp),
            "mean_missed_pp": mean(self.missed_pp),
            "mean_false_pp": mean(self.false_pp),
            "mean_n_truth": mean(self.n_truth),
            "mean_n_estimates": mean(self.n_est),
            "mean_n_missed": mean(self.n_missed),
            "mean_n_false": mean(self.n_false),
        }


def gospa_over_scans(
    t_scan_s: np.ndarray,
    truth_scan: np.ndarray,
    truth_pos_m: np.ndarray,
    est_scan: np.ndarray,
    est_pos_m: np.ndarray,
    c_m: float,
    p: float,
) -> tuple[ScanGospa, np.ndarray, np.ndarray]:
    """GOSPA at every scan; truth and estimate rows must be sorted by their scan index.

    ``t_scan_s`` (s,); ``truth_scan`` (q,) scan index of each truth row with
    ``truth_pos_m`` (q, 3); ``est_scan`` (r,) and ``est_pos_m`` (r, 3) likewise.
    Returns the per-scan result and the assigned pairs as row indices
    ``(truth_row (k,), est_row (k,))``.
    """
    s = int(t_scan_s.shape[0])
    edges = np.arange(s + 1)
    toff = np.searchsorted(truth_scan, edges, side="left")
    eoff = np.searchsorted(est_scan, edges, side="left")
    out = np.zeros((5, s))
    n_counts = np.zeros((4, s), dtype=np.int64)
    pair_t: list[np.ndarray] = []
    pair_e: list[np.ndarray] = []
    # One assignment problem per scan: the loop is over scans, never over objects,
    # and the scans are independent sets of a few hundred points at most.
    for k in range(s):
        ta, tb, ea, eb = toff[k], toff[k + 1], eoff[k], eoff[k + 1]
        r = gospa_from_distances(distance_matrix(truth_pos_m[ta:tb], est_pos_m[ea:eb]), c_m, p)
        out[:, k] = (r.value_m, r.total_pp, r.localisation_pp, r.missed_pp, r.false_pp)
        n_counts[:, k] = (tb - ta, eb - ea, r.n_missed, r.n_false)
        if r.n_assigned:
            pair_t.append(r.pairs[:, 0] + ta)
            pair_e.append(r.pairs[:, 1] + ea)
    value, total, loc, missed, false = out
    share = np.divide(value, total, out=np.zeros(s), where=total > 0.0)
    result = ScanGospa(
        t_s=np.asarray(t_scan_s, dtype=float),
        value_m=value,
        total_pp=total,
        loc_pp=loc,
        missed_pp=missed,
        false_pp=false,
        loc_m=loc * share,
        missed_m=missed * share,
        false_m=false * share,
        n_truth=n_counts[0],
        n_est=n_counts[1],
        n_missed=n_counts[2],
        n_false=n_counts[3],
    )
    if pair_t:
        return result, np.concatenate(pair_t), np.concatenate(pair_e)
    return result, np.empty(0, np.int64), np.empty(0, np.int64)


def scan_times(out: OutputData, truth_t_s: np.ndarray) -> tuple[np.ndarray, float]:
    """Evaluation times (s,) and the scan interval (s): track-line times plus gap fill over truth."""
    t = np.unique(out.t_s)
    step = float(np.median(np.diff(t))) if t.shape[0] > 1 else 1.0
    if step <= 0.0:
        step = 1.0
    if truth_t_s.shape[0] == 0:
        return t, step
    anchor = t[0] if t.shape[0] else float(truth_t_s.min())
    k0 = np.ceil((truth_t_s.min() - anchor) / step - 1e-9)
    k1 = np.floor((truth_t_s.max() - anchor) / step + 1e-9)
    grid = anchor + step * np.arange(k0, k1 + 1)
    if t.shape[0]:
        j = np.searchsorted(t, grid)
        left = t[np.clip(j - 1, 0, t.shape[0] - 1)]
        right = t[np.clip(j, 0, t.shape[0] - 1)]
        grid = grid[np.minimum(np.abs(grid - left), np.abs(grid - right)) > 0.5 * step]
    return np.union1d(t, grid), step


@dataclass(frozen=True, slots=True)
class TrackMatching:
    """Tracks against truth at every scan.

    ``gospa`` per scan. Counted truth rows (q): ``truth_scan``, ``truth_obj``,
    ``truth_row_match`` (index of the matched output row, -1 when missed).
    Pairs (k): ``pair_t_s``, ``pair_obj``, ``pair_row`` (output row).
    ``step_s`` the scan interval; ``cutoff_m`` the matching cut-off.
    """

    gospa: ScanGospa
    step_s: float
    truth_scan: np.ndarray
    truth_obj: np.ndarray
    truth_row_match: np.ndarray
    pair_t_s: np.ndarray
    pair_obj: np.ndarray
    pair_row: np.ndarray
    cutoff_m: float = math.inf


def match_tracks(
    scen: ScenarioData, out: OutputData, c_m: float, p: float, all_truth: bool
) -> TrackMatching:
    """Assign reported tracks to counted truth at every scan (GOSPA pairs, d < c)."""
    t_scan, step = scan_times(out, scen.truth.t_s)
    tr_scan, tr_obj, tr_pos = scen.truth.at(t_scan)
    if not all_truth and tr_scan.shape[0]:
        keep = scen.in_coverage(tr_pos)
        if scen.has_truth_keys:
            keep &= scen.seen_recently(tr_obj, t_scan[tr_scan])
        tr_scan, tr_obj, tr_pos = tr_scan[keep], tr_obj[keep], tr_pos[keep]
    shown = np.flatnonzero((out.status == CONFIRMED) | (out.status == COASTING))
    est_scan = np.searchsorted(t_scan, out.t_s[shown])
    order = np.argsort(est_scan, kind="stable")
    rows, est_scan = shown[order], est_scan[order]
    result, pt, pe = gospa_over_scans(
        t_scan, tr_scan, tr_pos, est_scan, out.pos_enu_m[rows], c_m, p
    )
    match = np.full(tr_scan.shape[0], -1, dtype=np.int64)
    match[pt] = rows[pe]
    return TrackMatching(
        gospa=result,
        step_s=step,
        truth_scan=tr_scan,
        truth_obj=tr_obj,
        truth_row_match=match,
        pair_t_s=t_scan[tr_scan[pt]],
        pair_obj=tr_obj[pt],
        pair_row=rows[pe],
        cutoff_m=c_m,
    )


@dataclass(frozen=True, slots=True)
class ObjectTracking:
    """Per truth object (k,): counted scans, matched scans, switches, fragmentations, latency."""

    n_counted: np.ndarray
    n_matched: np.ndarray
    switches: np.ndarray
    fragmentations: np.ndarray
    first_detection_t_s: np.ndarray
    first_confirmed_match_t_s: np.ndarray
    latency_s: np.ndarray


def object_tracking(scen: ScenarioData, out: OutputData, m: TrackMatching) -> ObjectTracking:
    """Identity switches, fragmentations and latency of every truth object.

    Over an object's counted scans in time order: a switch is a change of
    matched track between consecutive matched scans; a fragmentation is a
    matched run that resumes after unmatched counted scans. Latency runs from
    the object's first detection (the ``truth`` key of detections; without any
    such keys, its first counted scan) to its first scan matched to a
    confirmed track.
    """
    k = len(scen.truth)
    t_scan = m.gospa.t_s
    order = np.lexsort((m.truth_scan, m.truth_obj))
    obj = m.truth_obj[order]
    row = m.truth_row_match[order]
    matched = row >= 0
    track = np.where(matched, out.track[np.maximum(row, 0)], -1)
    same = np.zeros(obj.shape[0], dtype=bool)
    same[1:] = obj[1:] == obj[:-1]
    mo, mt = obj[matched], track[matched]
    sw = np.zeros(mo.shape[0], dtype=bool)
    sw[1:] = (mo[1:] == mo[:-1]) & (mt[1:] != mt[:-1])
    switches = np.bincount(mo[sw], minlength=k)
    prev_matched = np.zeros(obj.shape[0], dtype=bool)
    prev_matched[1:] = matched[:-1]
    starts = matched & ~(prev_matched & same)
    fragmentations = np.maximum(np.bincount(obj[starts], minlength=k) - 1, 0)
    n_counted = np.bincount(obj, minlength=k)
    n_matched = np.bincount(mo, minlength=k)

    first_conf = np.full(k, np.inf)
    conf = matched & (out.status[np.maximum(row, 0)] == CONFIRMED)
    np.minimum.at(first_conf, obj[conf], t_scan[m.truth_scan[order][conf]])
    if scen.has_truth_keys:
        t0 = scen.first_detection_t_s.copy()
    else:
        t0 = np.full(k, np.inf)
        np.minimum.at(t0, obj, t_scan[m.truth_scan[order]])
    t0[~np.isfinite(t0)] = np.nan
    first_conf[~np.isfinite(first_conf)] = np.nan
    return ObjectTracking(
        n_counted=n_counted,
        n_matched=n_matched,
        switches=switches,
        fragmentations=fragmentations,
        first_detection_t_s=t0,
        first_confirmed_match_t_s=first_conf,
        latency_s=first_conf - t0,
    )


def raw_detection_gospa(
    scen: ScenarioData, c_m: float, p: float, all_truth: bool
) -> tuple[ScanGospa, np.ndarray]:
    """GOSPA of the position-like raw detections, one scan per (sensor, detection time).

    Truth counted in a scan: objects existing at that time and covered by that
    sensor (every existing object with ``all_truth``). Two sensors seeing one
    object are separate scans, so duplicates are not punished as false; a
    sensor that time-stamps each detection of a sweep separately gets many
    tiny scans and looks worse than it is. Returns the per-scan result and the
    sensor code (s,) of each scan.
    """
    raw = scen.raw
    order = np.lexsort((raw.sensor, raw.t_s))
    t, sens, pos = raw.t_s[order], raw.sensor[order], raw.pos_enu_m[order]
    new = np.ones(t.shape[0], dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (sens[1:] != sens[:-1])
    est_scan = np.cumsum(new) - 1
    g_t, g_sensor = t[new], sens[new]
    u_t, g_u = np.unique(g_t, return_inverse=True)
    tr_scan_u, tr_obj_u, tr_pos = scen.truth.at(u_t)
    # Every group takes the truth rows of its time, filtered by its sensor's coverage.
    uoff = np.searchsorted(tr_scan_u, np.arange(u_t.shape[0] + 1))
    lens = uoff[g_u + 1] - uoff[g_u]
    grp = np.repeat(np.arange(g_t.shape[0]), lens)
    idx = np.repeat(uoff[g_u], lens) + (
        np.arange(grp.shape[0]) - np.repeat(np.cumsum(lens) - lens, lens)
    )
    if not all_truth and idx.shape[0]:
        cov = np.stack([scen.in_coverage(tr_pos, [sid]) for sid in raw.sensor_ids])
        keep = cov[g_sensor[grp], idx]
        if scen.has_truth_keys:
            keep &= scen.seen_recently(tr_obj_u[idx], g_t[grp])
        grp, idx = grp[keep], idx[keep]
    result, _, _ = gospa_over_scans(g_t, grp, tr_pos[idx], est_scan, pos, c_m, p)
    return result, g_sensor
