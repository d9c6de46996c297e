"""The classifier's trainer: scenarios' tracks -> labelled features -> histogram likelihoods.

Scenarios come from :mod:`skywarden.sim` (``skywarden simulate`` output, or
:func:`~skywarden.sim.synthetic.synthetic_scenario`); their tracks from
:mod:`skywarden.eval.scans` (pseudo-tracks from truth, or the real tracker).
Each track's true class is the majority vote of the ``truth`` keys of the
detections that updated it, exactly as evaluation would match them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from ..types import (
    CLASSES,
    CONFIRMED,
    DELETED,
    Association,
    Record,
    TrackTable,
    TruthPoint,
)
from .classifier import Classifier, ClassifierParams
from .features import EXTRA_DEPTH, FEATURES, HISTOGRAM_FEATURES, TrackHistory, scan_inputs

#: Interior bin edges of each feature's histogram (chosen by hand on physical
#: scales: speeds log-spaced from hover to airliner, heights from mast to cruise).
EDGES: dict[str, list[float]] = {
    "speed_mps": [1, 2, 4, 6, 8, 10, 12, 15, 18, 22, 27, 33, 40, 50, 65, 80, 100, 130, 170, 220],
    "height_m": [10, 25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 5000],
    "climb_mps": [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12],
    "speed_std_mps": [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 10],
    "turn_rate_dps": [0.5, 1, 2, 3, 5, 8, 12, 18, 25],
    "straightness": [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99],
    "hover_frac": [0.01, 0.2, 0.5, 0.8],
    # 2.5 dB steps where attack drones (-10..3 dBsm), gliders and helicopters meet.
    "rcs_dbsm": [-30, -25, -20, -15, -12.5, -10, -7.5, -5, -2.5, 0, 2.5, 5, 7.5, 10, 15, 20, 25],
    "rcs_std_db": [1, 2, 3, 4, 5, 6, 8],
    "rf_frac": [0.01, 0.1, 0.3, 0.6],
}
#: Prior class probabilities: a new track with no evidence reads "unknown".
PRIOR = (0.2, 0.2, 0.2, 0.15, 0.25)
#: Fixed log-likelihoods of a believed cooperative identity (not learnt: a
#: simulator says nothing about how often real transponders are mis-associated).
IDENTITY_LOG_LIK = {"remoteid": [8.0, 0.0, 0.0, 0.0, 0.0], "icao24": [-1.0, -4.0, 4.0, 3.0, 0.0]}


class TruthVotes:
    """Each track's true object: the majority of its detections' ``truth`` keys."""

    def __init__(self, classes_by_truth: dict[str, str]) -> None:
        self.classes_by_truth = classes_by_truth
        self._votes: dict[int, Counter] = defaultdict(Counter)

    def add(self, assoc: Association) -> None:
        for tid, d in zip(assoc.track_id, assoc.detections, strict=True):
            if d.truth is not None:
                self._votes[int(tid)][d.truth] += 1

    def truth_of(self, track_id: int) -> str | None:
        c = self._votes.get(int(track_id))
        return c.most_common(1)[0][0] if c else None


def truth_classes(records: Iterable[Record]) -> tuple[dict[str, str], dict[str, float]]:
    """Class and mean speed (m/s) of every truth object of a scenario."""
    cls: dict[str, str] = {}
    spd: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if isinstance(r, TruthPoint):
            cls[r.id] = r.class_
            if r.vel_enu_mps is not None:
                spd[r.id].append(math.hypot(r.vel_enu_mps[0], r.vel_enu_mps[1]))
    return cls, {k: float(np.mean(v)) for k, v in spd.items()}


@dataclass
class Samples:
    """Labelled feature rows: ``feats`` (N, F), ``y`` (N,) class index, ``track`` (N,) ids."""

    feats: np.ndarray
    y: np.ndarray
    track: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence[Samples]) -> Samples:
        """The rows of ``parts``, one after another."""
        return cls(
            np.concatenate([s.feats for s in parts]),
            np.concatenate([s.y for s in parts]),
            np.concatenate([s.track for s in parts]),
        )


def collect(
    scans: Iterable[tuple[TrackTable, Association]],
    classes_by_truth: dict[str, str],
    window_s: float = 20.0,
    settle_s: float = 5.0,
    keep: Container[str] | None = None,
) -> Samples:
    """Feature rows of every confirmed track at every scan, labelled by truth vote;
    with ``keep``, only of tracks whose truth object is in it."""
    hist = TrackHistory(depth=max(8, math.ceil(window_s) + EXTRA_DEPTH))
    votes = TruthVotes(classes_by_truth)
    feats, ys, tracks = [], [], []
    for table, assoc in scans:
        votes.add(assoc)
        rcs, rf, _, _ = scan_inputs(table, assoc)
        slots = hist.slots(table.id)
        hist.push(slots, table.t_s, table.x, rcs, rf)
        t_start = table.t_first_s + settle_s
        f = hist.features(slots, table.t_s, window_s, t_start)
        for i in np.flatnonzero((table.status == CONFIRMED) & (table.t_s >= t_start)):
            truth = votes.truth_of(int(table.id[i]))
            c = None if truth is None else classes_by_truth.get(truth)
            if c is None or (keep is not None and truth not in keep):
                continue
            feats.append(f[i])
            ys.append(CLASSES.index(c))
            tracks.append(int(table.id[i]))
        hist.forget(table.id[table.status == DELETED])
    return Samples(
        np.array(feats).reshape(-1, len(FEATURES)), np.array(ys, np.int64), np.array(tracks)
    )


def _smoothed(v: np.ndarray, edges: np.ndarray, alpha: float, floor: float) -> np.ndarray:
    """Bin probabilities of values ``v``: Laplace smoothing plus a uniform floor."""
    nb = len(edges) + 1
    v = v[np.isfinite(v)]
    cnt = np.bincount(np.searchsorted(edges, v, side="right"), minlength=nb)
    p = (cnt + alpha) / (cnt.sum() + alpha * nb)
    return (1 - floor) * p + floor / nb


def _check_weight(name: str, w: float) -> None:
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"weight of {name} must be within 0..1, not {w}")


def _mixed(
    p: np.ndarray, v: np.ndarray, edges: np.ndarray, w: float, alpha: float, floor: float
) -> np.ndarray:
    """Bin probabilities ``p`` mixed with those of values ``v`` (smoothed as in
    :func:`fit`): (1 - w) p + w q; ``p`` itself when ``v`` holds no finite value."""
    if not np.isfinite(v).any():
        return p
    return (1.0 - w) * p + w * _smoothed(v, edges, alpha, floor)


def fit(
    samples: Samples,
    *,
    alpha: float = 1.0,
    floor: float = 0.02,
    evidence_weight: float = 1.0,
    tau_s: float = 10.0,
    window_s: float = 20.0,
) -> ClassifierParams:
    """Histogram likelihoods from labelled samples.

    p(bin | c) = (1 - floor) (count + alpha) / (n_c + alpha B) + floor / B: Laplace
    smoothing plus a uniform floor, so that no single feature value can rule a
    class out (the simulator is not the world).
    """
    log_lik: dict[str, list[list[float]]] = {}
    for f in HISTOGRAM_FEATURES:
        j = FEATURES.index(f)
        edges = np.asarray(EDGES[f], float)
        nb = len(edges) + 1
        table = np.zeros((nb, len(CLASSES)))
        for c in range(len(CLASSES)):
            table[:, c] = _smoothed(samples.feats[samples.y == c, j], edges, alpha, floor)
        log_lik[f] = np.round(np.log(table), 4).tolist()
    return ClassifierParams(
        edges={f: [float(e) for e in EDGES[f]] for f in HISTOGRAM_FEATURES},
        log_lik=log_lik,
        log_prior=np.round(np.log(np.asarray(PRIOR)), 4).tolist(),
        evidence_weight=evidence_weight,
        tau_s=tau_s,
        window_s=window_s,
        identity_log_lik=IDENTITY_LOG_LIK,
    )


def mix(
    params: ClassifierParams,
    samples: Samples,
    weights: Mapping[str, float],
    features: Sequence[str],
    *,
    alpha: float = 1.0,
    floor: float = 0.02,
) -> ClassifierParams:
    """``params`` with the likelihoods of ``features`` for the classes in ``weights``
    mixed with those of ``samples``: p(bin | c) <- (1 - w_c) p(bin | c) + w_c q(bin | c),
    q smoothed as in :func:`fit`. A mixture rather than pooled counts, so that a few
    thousand rows of real flight weigh as set, not by their number against the
    simulator's hundreds of thousands. A class with no sample rows is left as it was.
    """
    for name, w in weights.items():
        _check_weight(name, w)
    log_lik = {f: [list(row) for row in t] for f, t in params.log_lik.items()}
    for f in features:
        j = FEATURES.index(f)
        edges = np.asarray(params.edges[f], float)
        table = np.exp(np.asarray(log_lik[f], float))
        for name, w in weights.items():
            c = CLASSES.index(name)
            table[:, c] = _mixed(
                table[:, c], samples.feats[samples.y == c, j], edges, w, alpha, floor
            )
        log_lik[f] = np.round(np.log(table), 4).tolist()
    return msgspec.structs.replace(params, log_lik=log_lik)


def with_multirotor(
    params: ClassifierParams,
    samples: Samples,
    weight: float,
    features: Sequence[str],
    *,
    llr: float = 0.0,
    alpha: float = 1.0,
    floor: float = 0.02,
) -> ClassifierParams:
    """``params`` with a multirotor subclass of the drone class (its
    ``multirotor_log_lik``, weighed ``llr`` below the drone class): for ``features``
    the subclass's histogram (the drone class's, if ``params`` has no subclass yet) mixed
    with that of the drone rows of ``samples`` as in :func:`mix` (weight ``weight``), for
    every other feature that histogram itself. The drone class's own histograms are
    left as they were."""
    _check_weight("multirotor", weight)
    drone = CLASSES.index("drone")
    rows = samples.feats[samples.y == drone]
    columns: dict[str, list[float]] = {}
    for f in params.features:
        col = np.exp(
            np.asarray(params.multirotor_log_lik[f], float)
            if params.multirotor_log_lik
            else np.asarray(params.log_lik[f], float)[:, drone]
        )
        if f in features:
            edges = np.asarray(params.edges[f], float)
            col = _mixed(col, rows[:, FEATURES.index(f)], edges, weight, alpha, floor)
        columns[f] = np.round(np.log(col), 4).tolist()
    return msgspec.structs.replace(params, multirotor_log_lik=columns, multirotor_llr=llr)


@dataclass
class Evaluation:
    """Measured classifier behaviour over a scenario.

    ``accuracy`` over confirmed tracks at scans at least ``settle_s`` after
    confirmation; ``per_class`` the same per true class; ``max_drone_p_bird`` and
    ``max_drone_p_slow_aircraft`` the highest drone probability ever given to a
    bird or to an aircraft slower than 45 m/s (gliders); ``log_loss`` the mean
    negative log probability of the true class (settled scans).
    """

    accuracy: float
    per_class: dict[str, float]
    n_scored: int
    max_drone_p_bird: float
    max_drone_p_slow_aircraft: float
    log_loss: float
    confusion: list[list[int]]


def evaluate(
    classifier: Classifier,
    scans: Iterable[tuple[TrackTable, Association]],
    classes_by_truth: dict[str, str],
    mean_speed_by_truth: dict[str, float],
    settle_s: float = 30.0,
) -> Evaluation:
    """Run ``classifier`` over ``scans`` and score it against truth."""
    votes = TruthVotes(classes_by_truth)
    confirmed_at: dict[int, float] = {}
    conf = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    logp: list[float] = []
    max_bird = max_slow = 0.0
    for table, assoc in scans:
        votes.add(assoc)
        res = classifier.update(table, assoc)
        for i in np.flatnonzero(table.status == CONFIRMED):
            tid = int(table.id[i])
            confirmed_at.setdefault(tid, table.t_s)
            truth = votes.truth_of(tid)
            if truth is None:
                continue
            c = CLASSES.index(classes_by_truth[truth])
            pd_ = float(res.p[i, 0])
            if c == 1:
                max_bird = max(max_bird, pd_)
            if c == 2 and mean_speed_by_truth.get(truth, 1e9) < 45.0:
                max_slow = max(max_slow, pd_)
            if table.t_s - confirmed_at[tid] >= settle_s:
                conf[c, CLASSES.index(str(res.label[i]))] += 1
                logp.append(math.log(max(float(res.p[i, c]), 1e-12)))
    n = int(conf.sum())
    per = {c: float(conf[k, k] / max(conf[k].sum(), 1)) for k, c in enumerate(CLASSES)}
    return Evaluation(
        accuracy=float(np.trace(conf) / max(n, 1)),
        per_class=per,
        n_scored=n,
        max_drone_p_bird=max_bird,
        max_drone_p_slow_aircraft=max_slow,
        log_loss=float(-np.mean(logp)) if logp else math.nan,
        confusion=conf.tolist(),
    )
