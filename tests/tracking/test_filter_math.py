"""The compiled filter arithmetic against the textbook formulas, written out here in
plain NumPy (random well-conditioned matrices, several sizes; can fail)."""

import math

import numpy as np
import pytest

from skywarden.geodesy import SensorGeometry
from skywarden.tracking.associate import mahalanobis
from skywarden.tracking.kalman import kalman_update
from skywarden.tracking.measure import model_for
from skywarden.tracking.motion import imm_combine, imm_predict, predict_cv

from .synth import FRAME, sensor_at

RNG = np.random.default_rng(7)


def spd(n: int, dim: int, scale: float = 1.0) -> np.ndarray:
    a = RNG.normal(size=(n, dim, dim)) * scale
    return a @ a.transpose(0, 2, 1) + scale**2 * np.eye(dim)


def cv_f_q(dt: float, sigma_a: float) -> tuple[np.ndarray, np.ndarray]:
    F = np.eye(6)
    F[:3, 3:] = dt * np.eye(3)
    G = np.vstack([dt**2 / 2 * np.eye(3), dt * np.eye(3)])
    return F, sigma_a**2 * G @ G.T


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_kalman_update_is_the_joseph_form_ekf_update(m):
    n = 40
    x = RNG.normal(size=(n, 6)) * 100.0
    P = spd(n, 6, 5.0)
    H = RNG.normal(size=(n, m, 6))
    R = spd(1, m, 2.0)[0]
    y = RNG.normal(size=(n, m)) * 3.0
    x2, P2, d2, logdet = kalman_update(x, P, H, R, y)
    for k in range(n):
        S = H[k] @ P[k] @ H[k].T + R
        K = P[k] @ H[k].T @ np.linalg.inv(S)
        A = np.eye(6) - K @ H[k]
        np.testing.assert_allclose(x2[k], x[k] + K @ y[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(P2[k], A @ P[k] @ A.T + K @ R @ K.T, rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(d2[k], y[k] @ np.linalg.solve(S, y[k]), rtol=1e-9)
        np.testing.assert_allclose(logdet[k], np.linalg.slogdet(S)[1], rtol=1e-9, atol=1e-12)
    assert np.array_equal(P2, P2.transpose(0, 2, 1))


def test_kalman_update_takes_any_array_layout():
    x = RNG.normal(size=(6, 5)).T  # non-contiguous views, integers
    P = spd(5, 6)
    H = np.zeros((5, 3, 6), np.int64)
    H[:, [0, 1, 2], [0, 1, 2]] = 1
    R = np.eye(3)
    y = np.ones((5, 3))
    a = kalman_update(x, P, H, R, y)
    b = kalman_update(np.ascontiguousarray(x), P, H.astype(float), R, y)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("modes", [1, 2, 3])
def test_imm_predict_mixes_then_predicts_each_mode(modes):
    n = 30
    xm = RNG.normal(size=(n, modes, 6)) * 50.0
    Pm = spd(n * modes, 6, 3.0).reshape(n, modes, 6, 6)
    mu = RNG.random((n, modes)) + 0.05
    mu /= mu.sum(axis=1, keepdims=True)
    dt = RNG.uniform(0.05, 3.0, n)
    sigma = np.array([0.5, 20.0, 5.0])[:modes]
    tau = np.array([60.0, 8.0, 20.0])[:modes]
    x2, P2, c = imm_predict(xm, Pm, mu, dt, sigma, tau)
    for k in range(n):
        leave = 1.0 - np.exp(-dt[k] / tau)
        Pi = np.repeat((leave / max(modes - 1, 1))[:, None], modes, axis=1)
        Pi[np.arange(modes), np.arange(modes)] = 1.0 - leave
        ck = Pi.T @ mu[k]
        np.testing.assert_allclose(c[k], ck, rtol=1e-12)
        for j in range(modes):
            w = Pi[:, j] * mu[k] / ck[j]
            x0 = w @ xm[k]
            P0 = sum(
                w[i] * (Pm[k, i] + np.outer(xm[k, i] - x0, xm[k, i] - x0)) for i in range(modes)
            )
            F, Q = cv_f_q(dt[k], sigma[j])
            np.testing.assert_allclose(x2[k, j], F @ x0, rtol=1e-10, atol=1e-9)
            np.testing.assert_allclose(P2[k, j], F @ P0 @ F.T + Q, rtol=1e-9, atol=1e-9)


def test_predict_cv_is_f_p_ft_plus_q():
    n = 20
    x = RNG.normal(size=(n, 6)) * 50.0
    P = spd(n, 6, 3.0)
    dt = RNG.uniform(-1.0, 4.0, n)
    x2, P2 = predict_cv(x, P, dt, 4.0)
    for k in range(n):
        F, Q = cv_f_q(dt[k], 4.0)
        np.testing.assert_allclose(x2[k], F @ x[k], rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(P2[k], F @ P[k] @ F.T + Q, rtol=1e-10, atol=1e-9)


def test_imm_combine_matches_the_mixture_moments():
    n, modes = 25, 2
    xm = RNG.normal(size=(n, modes, 6)) * 50.0
    Pm = spd(n * modes, 6).reshape(n, modes, 6, 6)
    mu = RNG.dirichlet(np.ones(modes), n)
    x, P = imm_combine(xm, Pm, mu)
    for k in range(n):
        xk = mu[k] @ xm[k]
        Pk = sum(
            mu[k, i] * (Pm[k, i] + np.outer(xm[k, i] - xk, xm[k, i] - xk)) for i in range(modes)
        )
        np.testing.assert_allclose(x[k], xk, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(P[k], Pk, rtol=1e-10, atol=1e-9)


def test_mahalanobis_of_radar_pairs_matches_a_direct_solve():
    s = sensor_at("r", "radar", 100.0, -50.0, 10.0, sigma_range_m=10.0, sigma_az_deg=0.3)
    model = model_for(s, SensorGeometry.from_sensor(FRAME, s))
    n = 12
    x = np.zeros((n, 6))
    x[:, :3] = RNG.uniform(-8000, 8000, (n, 3)) + np.array([0.0, 0.0, 9000.0])
    x[:, 3:] = RNG.normal(size=(n, 3)) * 20.0
    P = spd(n, 6, 30.0)
    z = np.column_stack(
        [RNG.uniform(1000, 15000, 9), RNG.uniform(0, 2 * math.pi, 9), RNG.uniform(0, 0.5, 9)]
    )
    ti = np.repeat(np.arange(n), 9)
    di = np.tile(np.arange(9), n)
    d2, logdet = mahalanobis(model, x, P, z, ti, di)
    zhat, H = model.predict(x)
    for p in range(ti.shape[0]):
        k = ti[p]
        S = H[k] @ P[k] @ H[k].T + model.R
        yk = model.residual(z[di[p]], zhat[k])
        np.testing.assert_allclose(d2[p], yk @ np.linalg.solve(S, yk), rtol=1e-9)
        np.testing.assert_allclose(logdet[p], np.linalg.slogdet(S)[1], rtol=1e-9, atol=1e-12)
