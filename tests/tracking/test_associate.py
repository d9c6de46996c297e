"""Association against brute force: k-d tree gating, GNN assignment, JPDA marginals."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.stats import chi2

from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.tracking.associate import (
    Gated,
    assign_gnn,
    bearing_candidate_pairs,
    candidate_pairs,
    jpda_weights,
    largest_eigenvalue_bound,
    mahalanobis,
    radar_candidate_pairs,
    radar_marginal_pairs,
)
from skywarden.tracking.measure import MeasurementModel, model_for
from skywarden.types import Sensor


def _random_gated(rng: np.random.Generator, n: int, k: int, p_edge: float) -> Gated:
    """A random gated graph over n tracks and k detections with random costs."""
    ti, di = np.nonzero(rng.random((n, k)) < p_edge)
    cost = rng.normal(5.0, 4.0, ti.shape[0])  # log det S can make costs negative
    return Gated(ti.astype(np.int64), di.astype(np.int64), np.abs(cost), cost)


def _brute_gnn(g: Gated) -> tuple[int, float]:
    """Most pairs, then least total cost, over every one-to-one subset of gated pairs."""
    best = (0, 0.0)
    pairs = range(g.ti.shape[0])
    for r in range(1, len(pairs) + 1):
        for sub in itertools.combinations(pairs, r):
            t = [int(g.ti[p]) for p in sub]
            d = [int(g.di[p]) for p in sub]
            if len(set(t)) < r or len(set(d)) < r:
                continue
            c = float(sum(g.cost[p] for p in sub))
            if r > best[0] or (r == best[0] and c < best[1] - 1e-9):
                best = (r, c)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_gnn_matches_brute_force_on_small_random_clusters(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    g = _random_gated(rng, n, k, p_edge=0.5)
    at, ad = assign_gnn(g, n, k)
    # One-to-one, and only gated pairs.
    assert len(set(at.tolist())) == at.shape[0] and len(set(ad.tolist())) == ad.shape[0]
    gated = {(int(a), int(b)): float(c) for a, b, c in zip(g.ti, g.di, g.cost, strict=True)}
    assert all((int(a), int(b)) in gated for a, b in zip(at, ad, strict=True))
    n_pairs, cost = _brute_gnn(g)
    assert at.shape[0] == n_pairs
    total = sum(gated[(int(a), int(b))] for a, b in zip(at, ad, strict=True))
    assert total == pytest.approx(cost, abs=1e-9)


def _brute_jpda(g: Gated, n: int, pd: float, clutter: float, dim: int) -> np.ndarray:
    """Marginals from every feasible joint event over all tracks (no cluster split)."""
    lr = pd * np.exp(-0.5 * g.cost - 0.5 * dim * math.log(2 * math.pi)) / clutter
    options = [[None, *np.flatnonzero(g.ti == t).tolist()] for t in range(n)]
    marg = np.zeros(g.ti.shape[0])
    total = 0.0
    for event in itertools.product(*options):
        chosen = [p for p in event if p is not None]
        dets = [int(g.di[p]) for p in chosen]
        if len(set(dets)) < len(dets):
            continue  # one detection to two tracks: infeasible
        w = (1.0 - pd) ** (n - len(chosen)) * float(np.prod(lr[chosen]))
        total += w
        marg[chosen] += w
    return marg / total


@pytest.mark.parametrize("seed", range(30))
def test_jpda_marginals_match_brute_force_joint_events(seed):
    rng = np.random.default_rng(100 + seed)
    n, k = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    g = _random_gated(rng, n, k, p_edge=0.45)
    if g.ti.shape[0] == 0:
        return
    g = Gated(g.ti, g.di, g.d2, np.abs(g.cost))
    pd, clutter, dim = 0.9, 1e-4, 3
    beta = jpda_weights(g, n, k, pd, clutter, dim)
    np.testing.assert_allclose(beta, _brute_jpda(g, n, pd, clutter, dim), rtol=1e-9, atol=1e-12)
    # A track's association probabilities and its miss probability sum to one.
    for t in np.unique(g.ti):
        assert beta[g.ti == t].sum() <= 1.0 + 1e-12


def test_jpda_large_cluster_falls_back_to_per_track_normalisation():
    # Nine tracks all gating one of two detections: beyond exact enumeration (8).
    n, k = 9, 2
    ti = np.repeat(np.arange(n), k)
    di = np.tile(np.arange(k), n)
    cost = np.linspace(1.0, 9.0, ti.shape[0])
    g = Gated(ti, di, cost, cost)
    pd, clutter, dim = 0.9, 1e-4, 3
    beta = jpda_weights(g, n, k, pd, clutter, dim)
    lr = pd * np.exp(-0.5 * cost - 0.5 * dim * math.log(2 * math.pi)) / clutter
    for t in range(n):
        j = ti == t
        np.testing.assert_allclose(beta[j], lr[j] / (lr[j].sum() + 1 - pd))


@pytest.mark.parametrize("seed", range(10))
def test_kd_tree_candidates_contain_every_pair_inside_the_gate(seed):
    rng = np.random.default_rng(200 + seed)
    n, k = 60, 80
    tpos = rng.uniform(-2000, 2000, (n, 3))
    dpos = rng.uniform(-2000, 2000, (k, 3))
    tvar = rng.uniform(10.0, 400.0, n) ** 2  # per-axis variances, isotropic
    # Detections near and far (a radar's cross-range error grows with range).
    dvar = rng.uniform(5.0, 600.0, k) ** 2
    gate = 16.27  # chi-square 3 dof, p = 0.999
    ti, di = candidate_pairs(tpos, 3 * tvar, dpos, 3 * dvar, gate)
    got = list(zip(ti.tolist(), di.tolist(), strict=True))
    assert len(got) == len(set(got)) and (np.diff(ti) >= 0).all()
    # Per track, in the order one ball query over the detections' tree gives.
    tree = cKDTree(dpos)
    for t in range(0, n, 7):
        ball = tree.query_ball_point(tpos[t], 1e9, return_sorted=False)
        assert [d for d in ball if d in set(di[ti == t].tolist())] == di[ti == t].tolist()
    # Exact position-model Mahalanobis distance of every pair.
    dist2 = ((tpos[:, None, :] - dpos[None, :, :]) ** 2).sum(-1)
    d2 = dist2 / (tvar[:, None] + dvar[None, :])
    inside = set(zip(*np.nonzero(d2 < gate), strict=True))
    assert inside and inside <= set(got)
    # Exactly the pairs within the trace bound, no more.
    bound = set(zip(*np.nonzero(dist2 <= gate * 3 * (tvar[:, None] + dvar[None, :])), strict=True))
    assert set(got) == bound


@pytest.mark.parametrize("seed", range(6))
def test_position_candidates_with_the_eigenvalue_bound_hold_every_pair_in_the_gate(seed):
    # Elongated, tilted covariances, for which the largest-eigenvalue bound is tight.
    rng = np.random.default_rng(400 + seed)
    frame = LocalFrame(47.0, 8.0, 500.0)
    sensor = Sensor(id="p", kind="position", lat=47.0, lon=8.0, alt_m=500.0, sigma_pos_m=12.0)
    model = model_for(sensor, SensorGeometry.from_sensor(frame, sensor))
    n, k = 400, 300
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(-3000, 3000, (n, 3))
    A = rng.normal(0.0, 1.0, (n, 6, 6)) * np.exp(rng.uniform(0.0, 6.0, (n, 1, 6)))
    P = A @ A.transpose(0, 2, 1) + np.eye(6)
    z = x[rng.integers(0, n, k), :3] + rng.normal(0.0, 150.0, (k, 3))
    gate = chi2.ppf(0.9997, 3)
    ti, di = candidate_pairs(x[:, :3], largest_eigenvalue_bound(P[:, :3, :3]), z,
                             largest_eigenvalue_bound(model.position_cov(z)), gate)  # fmt: skip
    all_t, all_d = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
    d2, _ = mahalanobis(model, x, P, z, all_t.ravel(), all_d.ravel())
    inside = set(zip(all_t.ravel()[d2 < gate].tolist(), all_d.ravel()[d2 < gate].tolist(),
                     strict=True))  # fmt: skip
    got = set(zip(ti.tolist(), di.tolist(), strict=True))
    assert inside and inside <= got
    # Fewer candidates than with traces.
    tr_t, tr_d = (
        np.trace(P[:, :3, :3], axis1=1, axis2=2),
        np.trace(model.position_cov(z), axis1=1, axis2=2),
    )
    assert len(got) < candidate_pairs(x[:, :3], tr_t, z, tr_d, gate)[0].shape[0]


def test_largest_eigenvalue_bound_bounds_and_beats_the_trace():
    rng = np.random.default_rng(7)
    A = rng.normal(0.0, 1.0, (500, 3, 3)) * rng.uniform(0.1, 100.0, (500, 1, 3))
    C = A @ A.transpose(0, 2, 1)
    lam = np.linalg.eigvalsh(C)[:, -1]
    b = largest_eigenvalue_bound(C)
    assert (b >= lam * (1 - 1e-12)).all() and (b <= np.trace(C, axis1=1, axis2=2)).all()
    assert largest_eigenvalue_bound(np.eye(3)[None] * 4.0)[0] == 4.0  # round: not 12


@pytest.mark.parametrize(("seed", "with_el"), [(s, e) for s in range(6) for e in (True, False)])
def test_bearing_candidates_contain_every_pair_inside_the_gate(seed, with_el):
    rng = np.random.default_rng(300 + seed)
    frame = LocalFrame(47.0, 8.0, 500.0)
    sensor = Sensor(id="df", kind="rf", lat=47.001, lon=8.002, alt_m=510.0, sigma_az_deg=2.0)
    model = model_for(sensor, SensorGeometry.from_sensor(frame, sensor), with_el=with_el)
    n, k = 300, 40
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(-8000, 8000, (n, 3))
    x[:5, :2] = model.geom.pos_enu_m[:2] + rng.normal(0.0, 1.0, (5, 2))  # at the sensor
    # Covariances from tight to kilometres, not isotropic.
    A = rng.normal(0.0, 1.0, (n, 6, 6)) * np.exp(rng.uniform(0.0, 7.0, n))[:, None, None]
    P = A @ A.transpose(0, 2, 1) + np.eye(6)
    # Bearings near some tracks' and across the wrap at north.
    zhat, _ = model.predict(x[rng.integers(0, n, k)])
    z = zhat + rng.normal(0.0, 0.05, zhat.shape)
    z[:4, 0] = [0.001, 2 * np.pi - 0.001, 0.0, 6.28]
    gate = chi2.ppf(0.9997, model.dim)
    ti, di = bearing_candidate_pairs(model, x[:, :3], np.trace(P[:, :3, :3], axis1=1, axis2=2),
                                     z, gate)  # fmt: skip
    got = list(zip(ti.tolist(), di.tolist(), strict=True))
    assert got == sorted(set(got))  # track-major, detections ascending, no repeats
    all_t, all_d = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
    d2, _ = mahalanobis(model, x, P, z, all_t.ravel(), all_d.ravel())
    inside = set(zip(all_t.ravel()[d2 < gate].tolist(), all_d.ravel()[d2 < gate].tolist(),
                     strict=True))  # fmt: skip
    assert inside and inside <= set(got)
    assert len(got) < n * k / 2  # and it does rule pairs out


def _radar_model(lat: float, lon: float, with_rate: bool) -> MeasurementModel:
    frame = LocalFrame(47.0, 8.0, 500.0)
    sensor = Sensor(id="r", kind="radar", lat=lat, lon=lon, alt_m=520.0)
    return model_for(sensor, SensorGeometry.from_sensor(frame, sensor), with_rate=with_rate)


def _radar_scene(
    rng: np.random.Generator,
    model: MeasurementModel,
    n: int,
    k: int,
    extent_m: float,
    log_spread: float,
    noise_sigmas: float,
    place: Callable[[np.ndarray], None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n tracks (x, P: covariances from tight to kilometres, not isotropic) within
    ``extent_m``, moved by ``place``, and k plots near some of them."""
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(-extent_m, extent_m, (n, 3))
    place(x)
    A = rng.normal(0.0, 1.0, (n, 6, 6)) * np.exp(rng.uniform(0.0, log_spread, (n, 1, 6)))
    P = A @ A.transpose(0, 2, 1) + np.eye(6)
    zhat, _ = model.predict(x[rng.integers(0, n, k)])
    z = zhat + rng.normal(0.0, 1.0, zhat.shape) * np.sqrt(np.diagonal(model.R)) * noise_sigmas
    return x, P, z


@pytest.mark.parametrize(("seed", "with_rate"), [(s, r) for s in range(4) for r in (True, False)])
def test_radar_marginal_test_keeps_every_pair_in_the_gate(seed, with_rate):
    rng = np.random.default_rng(500 + seed)
    model = _radar_model(47.01, 8.01, with_rate)
    n, k = 300, 200

    def moving(x: np.ndarray) -> None:
        x[:, 3:] = rng.normal(0.0, 30.0, (n, 3))

    x, P, z = _radar_scene(rng, model, n, k, 15000.0, 6.0, 20.0, moving)
    ti, di = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(k), indexing="ij"))
    gate = chi2.ppf(0.9997, model.dim)
    d2, _ = mahalanobis(model, x, P, z, ti, di)
    near = radar_marginal_pairs(
        model, x[:, :3], largest_eigenvalue_bound(P[:, :3, :3]), z, ti, di, gate
    )
    assert (d2 < gate).any() and near[d2 < gate].all()
    assert near.mean() < 0.2  # and it does rule most out


@pytest.mark.parametrize("seed", range(6))
def test_radar_candidates_are_exactly_the_ball_and_marginal_pairs(seed):
    # Every pair, brute force, against the windowed search: tracks across north, at
    # the radar (a window of every azimuth), far out with kilometre covariances.
    rng = np.random.default_rng(600 + seed)
    model = _radar_model(47.0, 8.0, True)
    n, k = 400, 300

    def placed(x: np.ndarray) -> None:
        x[:20, 0] = rng.normal(0.0, 30.0, 20)  # due north and south: windows across 0 / 2 pi
        x[:20, 1] = np.abs(x[:20, 1])
        assert model.geom is not None
        x[20:25, :2] = model.geom.pos_enu_m[:2] + rng.normal(0.0, 3.0, (5, 2))  # over the radar

    x, P, z = _radar_scene(rng, model, n, k, 12000.0, 5.0, 3.0, placed)
    z[:3, 1] = [0.0005, 2 * np.pi - 0.0005, 0.0]
    gate = chi2.ppf(0.9997, model.dim)
    tvar = np.trace(P[:, :3, :3], axis1=1, axis2=2)
    lam = largest_eigenvalue_bound(P[:, :3, :3])
    dpos = model.to_position(z)
    dvar = np.trace(model.position_cov(z), axis1=1, axis2=2)
    ti, di = radar_candidate_pairs(model, x[:, :3], tvar, lam, dpos, dvar, z, gate, 4.0)
    got = list(zip(ti.tolist(), di.tolist(), strict=True))
    assert got == sorted(set(got))  # track-major, detections ascending, no repeats
    all_t, all_d = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(k), indexing="ij"))
    dist2 = ((x[all_t, :3] - dpos[all_d]) ** 2).sum(axis=1)
    ball = dist2 <= 4.0 * gate * (tvar[all_t] + dvar[all_d])
    marginal = radar_marginal_pairs(model, x[:, :3], lam, z, all_t, all_d, gate)
    want = ball & marginal
    assert want[all_t < 25].any() and want[all_t >= 25].any()
    assert set(got) == set(zip(all_t[want].tolist(), all_d[want].tolist(), strict=True))


def test_mahalanobis_of_pairs_in_any_order_equals_each_pair_alone():
    rng = np.random.default_rng(9)
    frame = LocalFrame(47.0, 8.0, 500.0)
    sensor = Sensor(id="r", kind="radar", lat=47.0, lon=8.0, alt_m=520.0)
    model = model_for(sensor, SensorGeometry.from_sensor(frame, sensor), with_rate=True)
    n, k = 30, 20
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(-5000, 5000, (n, 3))
    A = rng.normal(0.0, 10.0, (n, 6, 6))
    P = A @ A.transpose(0, 2, 1) + np.eye(6)
    z, _ = model.predict(x[rng.integers(0, n, k)])
    # Unsorted, repeated tracks, some tracks without a pair.
    ti = rng.integers(0, n // 2, 60)
    di = rng.integers(0, k, 60)
    d2, logdet = mahalanobis(model, x, P, z, ti, di)
    for p in range(0, 60, 7):
        one = mahalanobis(model, x, P, z, ti[p : p + 1], di[p : p + 1])
        assert (d2[p], logdet[p]) == (one[0][0], one[1][0])
