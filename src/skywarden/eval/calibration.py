"""How far a track's class probabilities can be taken at their word.

For each class, every scored track-scan is a forecast "this is a <class> with
probability p"; the reliability table bins those forecasts by p and gives, per
bin, how many there were, their mean p and the fraction that were that class in
truth. A calibrated classifier's fraction matches its mean p in every bin. The
expected calibration error (ECE) is the count-weighted mean gap. The log loss is
the mean of -ln p(true class), with p floored at ``P_FLOOR`` because track lines
round probabilities to four decimals.

Counts, not ratios, are kept, so that tables of several runs add up
(:meth:`Calibration.merged`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..types import CLASSES

#: Reliability bins: ten of 0.1 in p (the last one includes 1).
N_BINS = 10
#: The least probability a true class counts with in the log loss: track lines give
#: four decimals, so a written 0 is below 5e-5.
P_FLOOR = 1e-4


@dataclass(frozen=True, slots=True)
class Calibration:
    """Reliability counts per class (rows in ``CLASSES`` order, columns the ``N_BINS``
    bins of p) and the log-loss sum over ``n`` forecasts."""

    n: int
    count: np.ndarray
    sum_p: np.ndarray
    hits: np.ndarray
    neg_log_sum: float

    @property
    def log_loss(self) -> float:
        """Mean -ln p(true class), nats; NaN with no forecast."""
        return self.neg_log_sum / self.n if self.n else math.nan

    def ece(self, cls: str) -> float:
        """Expected calibration error of ``cls``'s probabilities."""
        k = CLASSES.index(cls)
        c = self.count[k]
        if not c.sum():
            return math.nan
        gap = np.abs(self.sum_p[k] - self.hits[k])
        return float(gap.sum() / c.sum())

    def table(self, cls: str) -> list[tuple[float, float, int, float, float]]:
        """``(lo, hi, forecasts, mean p, fraction true)`` per non-empty bin of ``cls``."""
        k = CLASSES.index(cls)
        rows: list[tuple[float, float, int, float, float]] = []
        for b in np.flatnonzero(self.count[k]):
            c = int(self.count[k, b])
            rows.append(
                (
                    float(b / N_BINS),
                    float((b + 1) / N_BINS),
                    c,
                    float(self.sum_p[k, b] / c),
                    float(self.hits[k, b] / c),
                )
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``n``, ``log_loss``, and per class its ``ece`` and ``bins``
        (``[lo, hi, forecasts, mean p, fraction true]`` per non-empty bin)."""
        return {
            "n": self.n,
            "log_loss": None if not self.n else self.log_loss,
            "by_class": {
                c: {
                    "ece": None if math.isnan(e := self.ece(c)) else e,
                    "bins": [list(r) for r in self.table(c)],
                }
                for c in CLASSES
            },
        }

    @staticmethod
    def merged(parts: Iterable[Calibration]) -> Calibration:
        """The counts of several runs added up."""
        out = empty()
        for p in parts:
            out = Calibration(
                out.n + p.n,
                out.count + p.count,
                out.sum_p + p.sum_p,
                out.hits + p.hits,
                out.neg_log_sum + p.neg_log_sum,
            )
        return out


def empty() -> Calibration:
    """No forecasts."""
    z = np.zeros((len(CLASSES), N_BINS))
    return Calibration(0, z.astype(np.int64), z.copy(), z.copy(), 0.0)


def calibration(truth: np.ndarray, p: np.ndarray) -> Calibration:
    """Reliability counts and log loss of probability rows ``p`` (m, len(CLASSES)) against
    ``truth`` (m,) class indices into ``CLASSES``. Rows with a non-finite entry are
    skipped (a track line without ``class_p``)."""
    ok = np.isfinite(p).all(axis=1)
    truth, p = truth[ok], p[ok]
    m = truth.shape[0]
    if m == 0:
        return empty()
    b = np.minimum((p * N_BINS).astype(np.int64), N_BINS - 1)
    is_true = np.zeros_like(p)
    is_true[np.arange(m), truth] = 1.0
    count = np.zeros((len(CLASSES), N_BINS), np.int64)
    sum_p = np.zeros((len(CLASSES), N_BINS))
    hits = np.zeros((len(CLASSES), N_BINS))
    for k in range(len(CLASSES)):
        count[k] = np.bincount(b[:, k], minlength=N_BINS)
        sum_p[k] = np.bincount(b[:, k], weights=p[:, k], minlength=N_BINS)
        hits[k] = np.bincount(b[:, k], weights=is_true[:, k], minlength=N_BINS)
    p_true = np.maximum(p[np.arange(m), truth], P_FLOOR)
    return Calibration(m, count, sum_p, hits, float(-np.log(p_true).sum()))
