"""The fusion arithmetic against hand-written formulas."""

from __future__ import annotations

import numpy as np

from skywarden.region.picture import covariance_intersection, predict_many


def test_predict_many_is_the_constant_velocity_model() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6))
    A = rng.normal(size=(4, 6, 6))
    P = A @ A.transpose(0, 2, 1)
    dt = np.array([0.0, 0.5, 1.0, 3.0])
    xs, Ps = predict_many(x, P, dt, q=4.0)
    for i, d in enumerate(dt):
        F = np.block([[np.eye(3), d * np.eye(3)], [np.zeros((3, 3)), np.eye(3)]])
        Q = 4.0 * np.block([[d**3 / 3 * np.eye(3), d**2 / 2 * np.eye(3)],
                            [d**2 / 2 * np.eye(3), d * np.eye(3)]])  # fmt: skip
        assert np.allclose(xs[i], F @ x[i])
        assert np.allclose(Ps[i], F @ P[i] @ F.T + Q)


def test_covariance_intersection_of_correlated_and_complementary_estimates() -> None:
    P1 = np.diag([100.0, 100, 100, 4, 4, 4])
    x = np.arange(6.0)
    # The same estimate twice (fully correlated): CI returns it unchanged, where a
    # Kalman-style product would halve the covariance.
    xf, Pf = covariance_intersection([x, x], [P1, P1])
    assert np.allclose(xf, x) and np.allclose(Pf, P1)
    # Two complementary estimates: the fused one lies between, its covariance no
    # larger in trace than the better input's.
    P2 = np.diag([25.0, 400, 100, 4, 4, 4])
    xf, Pf = covariance_intersection([x, x + 10.0], [P1, P2])
    assert np.all((xf >= x - 1e-9) & (xf <= x + 10.0 + 1e-9))
    assert np.trace(Pf) <= min(np.trace(P1), np.trace(P2)) + 1e-9
    assert np.all(np.linalg.eigvalsh(Pf) > 0)
