"""Gating, clustering and assignment of detections to tracks.

Steps, each vectorised over the whole scan:
1. candidate pairs from a spatial index (scipy ``cKDTree`` over detection
   positions, queried with a per-track radius that bounds its gate); for radar
   plots, from a ``cKDTree`` over their (azimuth, range) searched with each
   track's range and azimuth window; for bearing-only sensors, whose detections
   have no position, from azimuths sorted once and a per-track azimuth window
   that bounds its gate;
2. Mahalanobis distances in measurement space on candidate pairs only;
3. independent clusters (connected components of the gated bipartite graph);
4. per cluster: singletons are assigned directly, larger clusters by the
   Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) — GNN — or
   weighted by JPDA marginal association probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain

import numpy as np
from numba import njit
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..geodesy import azimuth_window_pairs
from .measure import MeasurementModel, ModelKind
from .motion import as_f8


@dataclass(frozen=True, slots=True)
class Gated:
    """Candidate pairs that passed the gate.

    ``ti``, ``di`` (p,) track and detection indices; ``d2`` (p,) squared
    Mahalanobis distance; ``cost`` (p,) negative log-likelihood used to rank
    pairs (``d2 + log det S``).
    """

    ti: np.ndarray
    di: np.ndarray
    d2: np.ndarray
    cost: np.ndarray


def largest_eigenvalue_bound(cov: np.ndarray) -> np.ndarray:
    """An upper bound (n,) of the largest eigenvalue of symmetric PSD matrices (n, d, d):
    the smaller of the trace and the largest absolute row sum (Gershgorin). For a
    round covariance the row sum is about a third of the trace (in 3-D)."""
    trace = np.trace(cov, axis1=1, axis2=2)
    return np.minimum(trace, np.abs(cov).sum(axis=2).max(axis=1))


def candidate_pairs(
    track_pos: np.ndarray,
    track_pos_var: np.ndarray,
    det_pos: np.ndarray,
    det_pos_var: np.ndarray,
    gate_chi2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Track/detection index pairs that may lie within each other's gate.

    track_pos (n, 3), track_pos_var (n,) an upper bound of the largest eigenvalue of
    each track's position covariance (its trace, or :func:`largest_eigenvalue_bound`);
    det_pos (k, 3) and det_pos_var (k,) likewise for detections (bearing-only
    detections have no position: :func:`bearing_candidate_pairs`). The pairs within
    ``|p_t - p_d|^2 <= gate_chi2 (v_t + v_d)``: track-major, and per track in the order
    of a k-d tree over the detections.
    """
    n = track_pos.shape[0]
    k = det_pos.shape[0]
    if n == 0 or k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # The gate ellipsoid lies inside a ball of radius sqrt(chi2 * largest eigenvalue
    # of S), and the traces bound that eigenvalue: a pair in the gate has
    # |p_t - p_d|^2 <= chi2 (v_t + v_d) <= 2 chi2 max(v_t, v_d) = max(r_t, r_d)^2.
    # (One radius from the largest v_d of the scan let a radar's far detections
    # widen every track's ball to kilometres.) Most radii are small: all pairs within
    # a common radius r0 come from one dual-tree pass; the few wider balls (new
    # tracks of unknown speed, far radar plots) are queried one by one.
    r_t = np.sqrt(2.0 * gate_chi2 * track_pos_var)
    r_d = np.sqrt(2.0 * gate_chi2 * det_pos_var)
    r0 = 2.0 * float(np.median(np.concatenate([r_t, r_d])))
    tree_t, tree_d = cKDTree(track_pos), cKDTree(det_pos)
    near = tree_t.sparse_distance_matrix(tree_d, r0, output_type="ndarray")
    wide_t = np.flatnonzero(r_t > r0)
    wide_d = np.flatnonzero(r_d > r0)
    hits_t = tree_d.query_ball_point(track_pos[wide_t], r_t[wide_t], return_sorted=False)
    hits_d = tree_t.query_ball_point(det_pos[wide_d], r_d[wide_d], return_sorted=False)
    ct = np.fromiter(map(len, hits_t), np.int64, wide_t.shape[0])
    cd = np.fromiter(map(len, hits_d), np.int64, wide_d.shape[0])
    # The ball test, before the sort below (which costs more per pair): the dual pass
    # gave its pairs' distances, the wide balls' pairs are measured here.
    ti_n, di_n = near["i"].astype(np.int64), near["j"].astype(np.int64)
    in_n = near["v"] ** 2 <= gate_chi2 * (track_pos_var[ti_n] + det_pos_var[di_n])
    ti_w = np.concatenate(
        [np.repeat(wide_t, ct), np.fromiter(chain.from_iterable(hits_d), np.int64, cd.sum())]
    )
    di_w = np.concatenate(
        [np.fromiter(chain.from_iterable(hits_t), np.int64, ct.sum()), np.repeat(wide_d, cd)]
    )
    d = track_pos[ti_w] - det_pos[di_w]
    in_w = np.einsum("ij,ij->i", d, d) <= gate_chi2 * (track_pos_var[ti_w] + det_pos_var[di_w])
    ti = np.concatenate([ti_n[in_n], ti_w[in_w]])
    di = np.concatenate([di_n[in_n], di_w[in_w]])
    # Track-major, and per track the detections in the tree's leaf order (as one ball
    # query returns them): JPDA's sums run in pair order, so the order is kept too.
    # (A pair both within r0 and in a wide ball was found twice: unique drops one.)
    rank = np.empty(k, np.int64)
    rank[tree_d.indices] = np.arange(k)
    # (np.unique would do, at ten times the cost of a sort on NumPy 2.4's hashing path.)
    key = np.sort(ti * k + rank[di])
    key = key[np.r_[True, key[1:] != key[:-1]]] if key.shape[0] else key
    return key // k, tree_d.indices[key % k]


def bearing_candidate_pairs(
    model: MeasurementModel,
    track_pos: np.ndarray,
    track_pos_var: np.ndarray,
    z: np.ndarray,
    gate_chi2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Track/detection pairs whose azimuths may lie within the gate, for bearing
    detections z (k, 1 or 2) of ``model``'s sensor; track_pos (n, 3), track_pos_var (n,)
    the trace of each track's position covariance. Ordered as all pairs would be
    (track-major, detections ascending).

    Conservative bound: with ``y`` the residual, ``d2 = y' S^-1 y >= y_az^2 / tr S``, and
    the azimuth and elevation gradients have norms ``1/r_h`` and ``1/r <= 1/r_h`` (``r_h``
    the horizontal range in the sensor's axes), so ``tr S <= m tr(P_pos) / r_h^2 + tr R``
    for an m-dimensional bearing. A pair with ``y_az^2 > gate (m tr P_pos / r_h^2 + tr R)``
    is outside the gate.
    """
    n, k = track_pos.shape[0], z.shape[0]
    if n == 0 or k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, rh2, az_t = sensor_axes(model, track_pos)
    bound = gate_chi2 * (model.dim * track_pos_var / rh2 + float(np.trace(model.R)))
    # Rounding slack: the bound may keep a pair too many, never drop one in the gate.
    half = np.sqrt(bound) * (1.0 + 1e-9) + 1e-12
    ti, di = azimuth_window_pairs(az_t, half, z[:, 0])
    keep = np.lexsort((di, ti))
    return ti[keep], di[keep]


def sensor_axes(
    model: MeasurementModel, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (n, 3) relative to the sensor in its axes, their squared horizontal
    range (n,) (at least 1e-6 m^2) and their azimuth (n,) in [0, 2 pi) radians."""
    assert model.geom is not None
    v = (pos - model.geom.pos_enu_m) @ model.geom.rot.T
    rh2 = np.maximum(v[:, 0] ** 2 + v[:, 1] ** 2, 1e-6)
    return v, rh2, np.arctan2(v[:, 0], v[:, 1]) % (2 * math.pi)


def radar_candidate_pairs(
    model: MeasurementModel,
    track_pos: np.ndarray,
    track_pos_var: np.ndarray,
    track_pos_lam: np.ndarray,
    det_pos: np.ndarray,
    det_pos_var: np.ndarray,
    z: np.ndarray,
    gate_chi2: float,
    ball_factor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Track/detection pairs of a radar scan that may lie within the gate: within the
    ball ``|p_t - p_d|^2 <= ball_factor gate_chi2 (v_t + v_d)`` (``track_pos_var``,
    ``det_pos_var`` the traces of the position covariances, as :func:`candidate_pairs`)
    and passing :func:`radar_marginal_pairs` (``track_pos_lam`` its eigenvalue bound).
    Track-major, detections ascending.

    The pairs come from the marginal test's own range and azimuth windows, searched in
    a k-d tree over the plots' (azimuth, range), not from balls around positions: a
    radar plot's position covariance at 10 km is hundreds of metres across in
    azimuth, and the balls of a dense scan held five times the pairs that survive
    the marginal test (most of a mass raid's gating time went to finding and
    sorting them).
    """
    n, k = track_pos.shape[0], z.shape[0]
    if n == 0 or k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    v, rh2, az_t = sensor_axes(model, track_pos)
    r_t = np.sqrt(rh2 + v[:, 2] ** 2)
    R = np.diagonal(model.R)
    # The marginal test's half-widths, with rounding slack (a pair too many, never one
    # in the gate dropped).
    g = gate_chi2 * (1.0 + 1e-9)
    h_r = np.sqrt(g * (track_pos_lam + R[0])) * (1.0 + 1e-9) + 1e-9
    h_az = np.sqrt(g * (track_pos_lam / rh2 + R[1])) * (1.0 + 1e-9) + 1e-12
    # Azimuth scaled to metres by the usual window's aspect, so that one Chebyshev
    # radius per track, the larger half-width, is a box close to its window.
    c = float(np.median(h_r / h_az))
    turn = 2 * math.pi * c
    tree_d = cKDTree(np.column_stack([(z[:, 1] % (2 * math.pi)) * c, z[:, 0]]))
    radius = np.maximum(h_az * c, h_r)
    # A window across north is searched a turn below or above as well (a window under
    # a quarter turn wide finds a plot once); a track nearly over the radar, with a
    # window that wide, takes every plot.
    wide = h_az >= math.pi / 2
    q = np.flatnonzero(~wide)
    below = q[az_t[q] + h_az[q] >= 2 * math.pi]
    above = q[az_t[q] - h_az[q] < 0.0]
    qi = np.concatenate([q, below, above])
    pts = np.column_stack([az_t * c, r_t])[qi]
    pts[q.shape[0] : q.shape[0] + below.shape[0], 0] -= turn
    pts[q.shape[0] + below.shape[0] :, 0] += turn
    # Most boxes are small: their pairs come from one dual-tree pass at a common
    # radius r0; the few larger ones (new tracks, tracks near the radar) one by one.
    rq = radius[qi]
    r0 = float(np.quantile(rq, 0.9)) if qi.shape[0] else 0.0
    small = np.flatnonzero(rq <= r0)
    big = np.flatnonzero(rq > r0)
    near = cKDTree(pts[small]).sparse_distance_matrix(tree_d, r0, p=np.inf, output_type="ndarray")
    i_s = near["i"].astype(np.int64)
    in_box = near["v"] <= rq[small[i_s]]
    hits = tree_d.query_ball_point(pts[big], rq[big], p=np.inf, return_sorted=False)
    cnt = np.fromiter(map(len, hits), np.int64, big.shape[0])
    all_t = np.flatnonzero(wide)
    ti = np.concatenate([qi[small[i_s[in_box]]], np.repeat(qi[big], cnt), np.repeat(all_t, k)])
    di = np.concatenate(
        [
            near["j"][in_box].astype(np.int64),
            np.fromiter(chain.from_iterable(hits), np.int64, cnt.sum()),
            np.tile(np.arange(k), all_t.shape[0]),
        ]
    )
    d = track_pos[ti] - det_pos[di]
    keep = np.einsum("ij,ij->i", d, d) <= ball_factor * gate_chi2 * (
        track_pos_var[ti] + det_pos_var[di]
    )
    ti, di = ti[keep], di[keep]
    keep = radar_marginal_pairs(model, track_pos, track_pos_lam, z, ti, di, gate_chi2)
    key = np.sort(ti[keep] * k + di[keep])
    return key // k, key % k


def radar_marginal_pairs(
    model: MeasurementModel,
    track_pos: np.ndarray,
    track_pos_var: np.ndarray,
    z: np.ndarray,
    ti: np.ndarray,
    di: np.ndarray,
    gate_chi2: float,
) -> np.ndarray:
    """Which radar pairs (p,) bool may lie within the gate, from range, azimuth and
    elevation alone: a cheap exact test before :func:`mahalanobis`.

    For any component i of the residual, ``d2 = y' S^-1 y >= y_i^2 / S_ii``, and
    ``S_ii <= |h_i|^2 v + R_ii`` with ``v`` (n,) a bound of the largest eigenvalue of
    the track's position covariance and ``h_i`` the position part of row i of H:
    of norm 1 for range, ``1/r_h`` for azimuth, ``1/r <= 1/r_h`` for elevation.
    A pair failing one of these is outside the gate whatever its range rate.
    """
    v, rh2, az = sensor_axes(model, track_pos)
    r = np.sqrt(rh2 + v[:, 2] ** 2)
    el = np.arctan2(v[:, 2], np.sqrt(rh2))
    var = track_pos_var[ti]
    R = np.diagonal(model.R)
    # Rounding slack: the test may keep a pair too many, never drop one in the gate.
    g = gate_chi2 * (1.0 + 1e-9)
    y_r = z[di, 0] - r[ti]
    y_az = (z[di, 1] - az[ti] + math.pi) % (2 * math.pi) - math.pi
    y_el = z[di, 2] - el[ti]
    return (
        (y_r * y_r <= g * (var + R[0]))
        & (y_az * y_az <= g * (var / rh2[ti] + R[1]))
        & (y_el * y_el <= g * (var / rh2[ti] + R[2]))
    )


# Compiled: a general solve per pair (LU with pivoting, through NumPy's batched
# dispatch) took 2 ms per radar batch of a raid; forward substitution on each
# track's Cholesky factor is all it needs. The signature compiles at import.
@njit("f8[::1](f8[:, :, ::1], i8[::1], f8[:, ::1])", cache=True)
def _whitened_d2(L, row, y):
    """|L_row^-1 y|^2 per pair: L (t, m, m) lower Cholesky factors, row (k,), y (k, m)."""
    k, m = y.shape
    out = np.empty(k)
    w = np.empty(m)
    for p in range(k):
        Lp = L[row[p]]
        d2 = 0.0
        for i in range(m):
            s = y[p, i]
            for j in range(i):
                s -= Lp[i, j] * w[j]
            w[i] = s / Lp[i, i]
            d2 += w[i] * w[i]
        out[p] = d2
    return out


def mahalanobis(
    model: MeasurementModel,
    x: np.ndarray,
    P: np.ndarray,
    z: np.ndarray,
    ti: np.ndarray,
    di: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Squared Mahalanobis distance and log det S for pairs (ti, di).

    x (n, 6), P (n, 6, 6) predicted tracks; z (k, m) measurements.
    S = H P H' + R ; d2 = y' S^-1 y with y the (wrapped) residual.
    """
    if ti.shape[0] == 0:
        return np.empty(0), np.empty(0)
    # S depends on the track alone: predicted once per track with candidates, not
    # once per pair (a track has several candidates in a dense scan).
    has = np.zeros(x.shape[0], bool)
    has[ti] = True
    tracks = np.flatnonzero(has)
    row = (np.cumsum(has) - 1)[ti]
    zhat, H = model.predict(x[tracks])
    if model.kind is ModelKind.POSITION:
        S = P[tracks, :3, :3] + model.R  # H = [I 0]: the same numbers as H P H' + R
    else:
        S = H @ P[tracks] @ H.transpose(0, 2, 1) + model.R
    y = model.residual(z[di], zhat[row])
    L = np.linalg.cholesky(S)
    d2 = _whitened_d2(L, row, as_f8(y))
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    return d2, logdet[row]


def assign_gnn(g: Gated, n_tracks: int, n_dets: int) -> tuple[np.ndarray, np.ndarray]:
    """Global nearest neighbour: (track idx, det idx) arrays of the chosen pairs.

    Independent clusters are solved separately; one-to-one clusters (the usual
    case) need no solver call at all.
    """
    if g.ti.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    comp_t, _comp_d = _components(g, n_tracks, n_dets)
    pair_comp = comp_t[g.ti]
    order = np.argsort(pair_comp, kind="stable")
    pc = pair_comp[order]
    starts = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1]])
    ends = np.r_[starts[1:], pc.shape[0]]
    sizes = ends - starts
    out_t: list[np.ndarray] = []
    out_d: list[np.ndarray] = []
    # Clusters with a single gated pair: take it.
    single = order[starts[sizes == 1]]
    out_t.append(g.ti[single])
    out_d.append(g.di[single])
    # Larger clusters: each one's tracks and detections numbered (ascending) for all
    # clusters at once, then one small assignment problem per cluster.
    if not (sizes > 1).any():
        return np.concatenate(out_t), np.concatenate(out_d)
    in_multi = np.repeat(sizes > 1, sizes)
    idx = order[in_multi]
    bounds = np.r_[0, np.cumsum(sizes[sizes > 1])].tolist()
    pcm = pc[in_multi]
    t_u, t_row, t_base, t_n = _number_within(pcm, g.ti[idx], bounds)
    d_u, d_col, d_base, d_n = _number_within(pcm, g.di[idx], bounds)
    cost = g.cost[idx]
    big = 1e6
    for c in range(len(bounds) - 1):
        s, e = bounds[c], bounds[c + 1]
        C = np.full((t_n[c], d_n[c]), big)
        C[t_row[s:e], d_col[s:e]] = cost[s:e]
        r, cc = linear_sum_assignment(C)
        ok = C[r, cc] < big
        out_t.append(t_u[t_base[c] + r[ok]])
        out_d.append(d_u[d_base[c] + cc[ok]])
    return np.concatenate(out_t), np.concatenate(out_d)


def _number_within(
    group: np.ndarray, v: np.ndarray, bounds: list[int]
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Number the distinct values of ``v`` within each group (``group`` sorted, group
    ``c`` at ``bounds[c]:bounds[c + 1]``, at least one group), ascending, as ``np.unique`` per group would:
    the distinct values of all groups one after another, each element's number within
    its group, and per group where its values start and how many there are."""
    o = np.lexsort((v, group))
    vs, gs = v[o], group[o]
    new = np.r_[True, (vs[1:] != vs[:-1]) | (gs[1:] != gs[:-1])]
    uid = np.cumsum(new) - 1
    b = np.asarray(bounds)
    base = uid[b[:-1]]
    n = uid[b[1:] - 1] - base + 1
    num = np.empty_like(uid)
    num[o] = uid - np.repeat(base, np.diff(b))
    return vs[new], num, base.tolist(), n.tolist()


def jpda_weights(
    g: Gated, n_tracks: int, n_dets: int, pd: float, clutter_density: float, dim: int
) -> np.ndarray:
    """JPDA marginal association probabilities beta (p,) for the gated pairs.

    Exact enumeration of joint events inside each cluster, for clusters of up to
    8 tracks; larger clusters fall back to each track's own normalisation
    (PDA), which a dense raid can need to stay real-time.
    """
    beta = np.zeros(g.ti.shape[0])
    if beta.shape[0] == 0:
        return beta
    comp_t, _ = _components(g, n_tracks, n_dets)
    # Likelihood ratio of each pair against clutter: Pd N(y; 0, S) / lambda
    lr = pd * np.exp(-0.5 * g.cost - 0.5 * dim * math.log(2 * math.pi)) / clutter_density
    pair_comp = comp_t[g.ti]
    for c in np.unique(pair_comp):
        idx = np.flatnonzero(pair_comp == c)
        tracks = np.unique(g.ti[idx])
        if tracks.shape[0] > 8:
            for t in tracks:
                j = idx[g.ti[idx] == t]
                s = lr[j].sum() + (1 - pd)
                beta[j] = lr[j] / s
            continue
        beta[idx] = _enumerate(g.ti[idx], g.di[idx], lr[idx], tracks, 1 - pd)
    return beta


def _enumerate(
    ti: np.ndarray, di: np.ndarray, lr: np.ndarray, tracks: np.ndarray, miss: float
) -> np.ndarray:
    """Marginals by enumerating feasible joint events (each det to at most one track)."""
    opts = [np.flatnonzero(ti == t) for t in tracks]
    marg = np.zeros(ti.shape[0])
    total = 0.0

    def rec(level: int, used: frozenset[int], w: float, chosen: list[int]) -> None:
        nonlocal total
        if level == len(opts):
            total += w
            for p in chosen:
                marg[p] += w
            return
        rec(level + 1, used, w * miss, chosen)
        for p in opts[level]:
            d = int(di[p])
            if d not in used:
                rec(level + 1, used | {d}, w * lr[p], [*chosen, p])

    rec(0, frozenset(), 1.0, [])
    return marg / total if total > 0 else marg


def _components(g: Gated, n_tracks: int, n_dets: int) -> tuple[np.ndarray, np.ndarray]:
    """Connected-component label of every track (n,) and detection (k,)."""
    m = n_tracks + n_dets
    A = coo_matrix((np.ones(g.ti.shape[0]), (g.ti, n_tracks + g.di)), shape=(m, m)).tocsr()
    _, labels = connected_components(A, directed=False)
    return labels[:n_tracks], labels[n_tracks:]
