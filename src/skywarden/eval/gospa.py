"""GOSPA: the generalised optimal sub-pattern assignment metric, alpha = 2.

Rahmathullah, García-Fernández & Svensson, "Generalized optimal sub-pattern
assignment metric", FUSION 2017 (arXiv:1601.05585). For truth set X (n points)
and estimate set Y (m points), cut-off ``c`` and order ``p``, with alpha = 2:

    d_p^(c,2)(X, Y)^p = min over assignments γ of
        sum_{(i,j) in γ} d(x_i, y_j)^p  +  c^p/2 * (n - |γ|)  +  c^p/2 * (m - |γ|)

where only pairs with d < c may be assigned. This equals the optimal
assignment on the cost ``min(d, c)^p`` (a pair at d >= c costs c^p, the same
as one missed plus one false point), so ``scipy.optimize.linear_sum_assignment``
on that matrix gives it; pairs at d >= c are then read back as missed + false.

Hand-written rather than imported: Stone Soup's ``GOSPAMetric`` works on its
own State/Track objects and is too heavy a runtime dependency, and gospapy is
not packaged; the whole metric is a distance matrix and one scipy call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True, slots=True)
class GospaResult:
    """GOSPA of one scan.

    ``total_pp`` = ``localisation_pp + missed_pp + false_pp`` (units m^p);
    ``value_m`` = ``total_pp ** (1/p)``. ``pairs`` (k, 2) int rows
    ``[truth_index, estimate_index]`` of the assigned pairs (d < c), and
    ``pair_dist_m`` (k,) their distances.
    """

    value_m: float
    total_pp: float
    localisation_pp: float
    missed_pp: float
    false_pp: float
    n_missed: int
    n_false: int
    pairs: np.ndarray
    pair_dist_m: np.ndarray

    @property
    def n_assigned(self) -> int:
        return int(self.pairs.shape[0])

    def contributions_m(self) -> tuple[float, float, float]:
        """(localisation, missed, false) shares of ``value_m``, metres; they sum to ``value_m``."""
        if self.total_pp <= 0.0:
            return 0.0, 0.0, 0.0
        k = self.value_m / self.total_pp
        return self.localisation_pp * k, self.missed_pp * k, self.false_pp * k


def distance_matrix(a_m: np.ndarray, b_m: np.ndarray) -> np.ndarray:
    """Euclidean distances (n, m) between point sets a (n, d) and b (m, d)."""
    diff = np.asarray(a_m, dtype=float)[:, None, :] - np.asarray(b_m, dtype=float)[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def gospa_from_distances(dist_m: np.ndarray, c_m: float, p: float) -> GospaResult:
    """GOSPA (alpha = 2) from a truth x estimate distance matrix (n, m), metres.

    ``c_m`` > 0 the cut-off, ``p`` >= 1 the order.
    """
    if c_m <= 0.0 or p < 1.0:
        raise ValueError(f"GOSPA needs c > 0 and p >= 1, got c={c_m}, p={p}")
    dist_m = np.asarray(dist_m, dtype=float)
    n, m = dist_m.shape
    half_cp = 0.5 * c_m**p
    if n == 0 or m == 0:
        missed_pp, false_pp = half_cp * n, half_cp * m
        total = missed_pp + false_pp
        return GospaResult(
            value_m=total ** (1.0 / p),
            total_pp=total,
            localisation_pp=0.0,
            missed_pp=missed_pp,
            false_pp=false_pp,
            n_missed=n,
            n_false=m,
            pairs=np.empty((0, 2), dtype=np.int64),
            pair_dist_m=np.empty(0),
        )
    cost = np.minimum(dist_m, c_m) ** p
    rows, cols = linear_sum_assignment(cost)
    d = dist_m[rows, cols]
    keep = d < c_m
    rows, cols, d = rows[keep], cols[keep], d[keep]
    k = rows.shape[0]
    loc_pp = float(np.sum(d**p))
    missed_pp, false_pp = half_cp * (n - k), half_cp * (m - k)
    total = loc_pp + missed_pp + false_pp
    return GospaResult(
        value_m=total ** (1.0 / p),
        total_pp=total,
        localisation_pp=loc_pp,
        missed_pp=missed_pp,
        false_pp=false_pp,
        n_missed=n - k,
        n_false=m - k,
        pairs=np.stack([rows, cols], axis=1).astype(np.int64),
        pair_dist_m=d,
    )


def gospa(
    truth_m: np.ndarray, est_m: np.ndarray, c_m: float = 100.0, p: float = 2.0
) -> GospaResult:
    """GOSPA (alpha = 2) between truth points (n, 3) and estimates (m, 3), metres.

    Distances are Euclidean; ``c_m`` the cut-off, ``p`` the order.
    """
    truth_m = np.asarray(truth_m, dtype=float).reshape(-1, 3)
    est_m = np.asarray(est_m, dtype=float).reshape(-1, 3)
    return gospa_from_distances(distance_matrix(truth_m, est_m), c_m, p)
