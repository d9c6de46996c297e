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


def test_gate_finds_exactly_the_pairs_a_full_search_finds() -> None:
    """The position pre-filter of the gate drops no pair the 6-D gate would keep."""
    from skywarden.geodesy import LocalFrame
    from skywarden.region.picture import Picture, RegionalTrack

    rng = np.random.default_rng(7)
    pic = Picture(LocalFrame(51.0, -1.0, 0.0))

    def states(n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.column_stack([rng.uniform(-spread, spread, (n, 3)), rng.normal(0, 10, (n, 3))])
        A = rng.normal(size=(n, 6, 6)) * rng.uniform(1, 60, (n, 1, 1))
        return x, A @ A.transpose(0, 2, 1) + np.eye(6)

    kx, kP = states(150, 2000.0)
    cx, cP = states(400, 2000.0)
    cands = [RegionalTrack(rid=i, t=0.0, x=cx[i], P=cP[i], last_seen=0.0) for i in range(400)]
    got = pic._gate(kx, kP, cands)
    want = {}
    for i in range(150):
        for j in range(400):
            d = kx[i] - cx[j]
            d2 = float(d @ np.linalg.solve(kP[i] + cP[j], d))
            if d2 < pic.gate_chi2:
                want[(i, j)] = d2
    assert want, "the random picture should have pairs inside the gate"
    assert got.keys() == want.keys()
    assert np.allclose([got[k] for k in want], list(want.values()))
