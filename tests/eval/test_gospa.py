"""GOSPA against hand-worked values and a brute-force evaluation of its definition."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.eval.gospa import gospa, gospa_from_distances


def brute_force(x: np.ndarray, y: np.ndarray, c: float, p: float) -> float:
    """min over partial assignments with d < c of sum d^p + c^p/2 (unassigned x + unassigned y)."""
    n, m = len(x), len(y)
    best = math.inf
    slots = list(range(m)) + [None] * n
    for perm in set(itertools.permutations(slots, n)):
        cost, used = 0.0, 0
        for i, j in enumerate(perm):
            if j is None:
                continue
            d = float(np.linalg.norm(x[i] - y[j]))
            if d >= c:
                cost = math.inf
                break
            cost += d**p
            used += 1
        if cost < math.inf:
            cost += c**p / 2 * (n - used) + c**p / 2 * (m - used)
        best = min(best, cost)
    if n == 0:
        best = c**p / 2 * m
    return best ** (1 / p)


def pts(*xs: float) -> np.ndarray:
    """Points on the east axis."""
    return np.array([[x, 0.0, 0.0] for x in xs]).reshape(-1, 3)


def test_empty_sets_are_zero():
    r = gospa(pts(), pts(), c_m=10.0, p=2.0)
    assert r.value_m == 0.0 and r.total_pp == 0.0 and r.n_assigned == 0


def test_all_missed():
    r = gospa(pts(0.0, 50.0, 100.0), pts(), c_m=10.0, p=2.0)
    # 3 missed * 10^2 / 2
    assert r.missed_pp == pytest.approx(150.0)
    assert r.false_pp == 0.0 and r.localisation_pp == 0.0
    assert r.value_m == pytest.approx(math.sqrt(150.0))
    assert r.n_missed == 3


def test_all_false():
    r = gospa(pts(), pts(1.0, 2.0), c_m=10.0, p=2.0)
    assert r.false_pp == pytest.approx(100.0)
    assert r.value_m == pytest.approx(10.0)
    assert r.n_false == 2


def test_one_pair_inside_cutoff():
    r = gospa(np.array([[0.0, 0.0, 0.0]]), np.array([[3.0, 4.0, 0.0]]), c_m=10.0, p=2.0)
    assert r.value_m == pytest.approx(5.0)
    assert r.localisation_pp == pytest.approx(25.0)
    assert r.n_assigned == 1 and r.n_missed == 0 and r.n_false == 0
    assert r.pair_dist_m[0] == pytest.approx(5.0)


def test_one_pair_outside_cutoff_is_missed_plus_false():
    r = gospa(pts(0.0), pts(12.0), c_m=10.0, p=2.0)
    assert r.n_assigned == 0 and r.n_missed == 1 and r.n_false == 1
    assert r.total_pp == pytest.approx(100.0)
    assert r.value_m == pytest.approx(10.0)


def test_pair_exactly_at_cutoff_is_not_assigned():
    r = gospa(pts(0.0), pts(10.0), c_m=10.0, p=1.0)
    assert r.n_assigned == 0
    assert r.value_m == pytest.approx(10.0)


def test_two_by_two_beats_greedy():
    # Truth at 0 and 3, estimates at 2 and 5. Greedy takes the closest pair (3,2)
    # first, leaving (0,5): 1^2 + 5^2 = 26. Optimal is (0,2),(3,5): 2^2 + 2^2 = 8.
    r = gospa(pts(0.0, 3.0), pts(2.0, 5.0), c_m=10.0, p=2.0)
    assert r.total_pp == pytest.approx(8.0)
    assert r.value_m == pytest.approx(math.sqrt(8.0))
    assert sorted(map(tuple, r.pairs.tolist())) == [(0, 0), (1, 1)]


def test_order_one_and_two():
    x, y = pts(0.0, 100.0), pts(3.0)
    r1 = gospa(x, y, c_m=10.0, p=1.0)
    r2 = gospa(x, y, c_m=10.0, p=2.0)
    # p=1: 3 + 10/2 ; p=2: 9 + 100/2
    assert r1.value_m == pytest.approx(8.0)
    assert r2.value_m == pytest.approx(math.sqrt(59.0))


def test_cutoff_prefers_missed_and_false_over_a_far_pair():
    # One truth at 0 with estimates at 9 and 30, c = 10, p = 2: assign the 9
    # (81) and one false (50) -> 131.
    r = gospa(pts(0.0), pts(9.0, 30.0), c_m=10.0, p=2.0)
    assert r.total_pp == pytest.approx(131.0)


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        gospa_from_distances(np.zeros((1, 1)), 0.0, 2.0)
    with pytest.raises(ValueError):
        gospa_from_distances(np.zeros((1, 1)), 10.0, 0.5)


coords = st.floats(-60.0, 60.0, allow_nan=False, allow_infinity=False)
point_sets = st.lists(st.tuples(coords, coords, coords), min_size=0, max_size=3).map(
    lambda v: np.array(v, dtype=float).reshape(-1, 3)
)
orders = st.sampled_from([1.0, 2.0, 3.0])
cutoffs = st.floats(1.0, 80.0)


@settings(max_examples=150, deadline=None)
@given(point_sets, point_sets, cutoffs, orders)
def test_matches_definition_by_brute_force(x, y, c, p):
    assert gospa(x, y, c, p).value_m == pytest.approx(brute_force(x, y, c, p), rel=1e-9, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(point_sets, point_sets, cutoffs, orders)
def test_decomposition_adds_up_and_is_symmetric(x, y, c, p):
    r = gospa(x, y, c, p)
    assert r.localisation_pp + r.missed_pp + r.false_pp == pytest.approx(r.total_pp)
    assert r.value_m**p == pytest.approx(r.total_pp, rel=1e-9, abs=1e-9)
    assert sum(r.contributions_m()) == pytest.approx(r.value_m, abs=1e-9)
    assert r.n_assigned + r.n_missed == len(x) and r.n_assigned + r.n_false == len(y)
    assert np.all(r.pair_dist_m < c)
    s = gospa(y, x, c, p)
    assert s.value_m == pytest.approx(r.value_m, rel=1e-9, abs=1e-9)
    assert (s.n_missed, s.n_false) == (r.n_false, r.n_missed)


@settings(max_examples=150, deadline=None)
@given(point_sets, point_sets, cutoffs, orders)
def test_cutoff_saturation(x, y, c, p):
    r = gospa(x, y, c, p)
    # Never worse than leaving everything unassigned ...
    bound = (c**p / 2 * (len(x) + len(y))) ** (1 / p)
    assert r.value_m <= bound + 1e-9
    # ... and exactly that once the estimates are moved beyond the cut-off.
    far = y + np.array([1000.0, 0.0, 0.0])
    assert gospa(x, far, c, p).value_m == pytest.approx(bound)


@settings(max_examples=100, deadline=None)
@given(point_sets, point_sets, point_sets, cutoffs, orders)
def test_triangle_inequality(x, y, z, c, p):
    xy, yz, xz = gospa(x, y, c, p).value_m, gospa(y, z, c, p).value_m, gospa(x, z, c, p).value_m
    assert xz <= xy + yz + 1e-9
