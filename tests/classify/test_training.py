"""The trainer's pieces: rows kept by truth object, and mixing recorded flights in."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from skywarden.classify.classifier import ClassifierParams
from skywarden.classify.features import FEATURES
from skywarden.classify.training import (
    Samples,
    TruthVotes,
    collect,
    fit,
    mix,
    truth_classes,
    with_multirotor,
)
from skywarden.eval.scans import pseudo_scans
from skywarden.sim.synthetic import synthetic_scenario
from skywarden.types import CLASSES

BIRD = CLASSES.index("bird")


def _speeds(values: list[float], cls: str) -> Samples:
    feats = np.full((len(values), len(FEATURES)), np.nan)
    feats[:, FEATURES.index("speed_mps")] = values
    return Samples(feats, np.full(len(values), CLASSES.index(cls)), np.arange(len(values)))


def test_mix_moves_only_the_weighted_class_and_feature():
    params = ClassifierParams.load()
    mixed = mix(params, _speeds([23.0] * 100, "bird"), {"bird": 0.5}, ["speed_mps"])
    edges = params.edges["speed_mps"]
    k, nb = int(np.searchsorted(edges, 23.0, side="right")), len(edges) + 1
    q = 0.98 * (100 + 1) / (100 + nb) + 0.02 / nb
    before = np.exp(params.log_lik["speed_mps"][k][BIRD])
    assert mixed.log_lik["speed_mps"][k][BIRD] == pytest.approx(
        math.log(0.5 * before + 0.5 * q), abs=1e-3
    )
    new, old = np.asarray(mixed.log_lik["speed_mps"]), np.asarray(params.log_lik["speed_mps"])
    assert np.exp(new[:, BIRD]).sum() == pytest.approx(1.0, abs=1e-3)
    others = [c for c in range(len(CLASSES)) if c != BIRD]
    np.testing.assert_array_equal(new[:, others], old[:, others])
    assert mixed.log_lik["height_m"] == params.log_lik["height_m"]


def test_mix_weight_zero_keeps_the_class_and_one_gives_the_recorded_fit():
    params = ClassifierParams.load()
    rows = _speeds([5.0, 12.0, 12.5, 23.0, 30.0], "bird")
    old = np.asarray(params.log_lik["speed_mps"])
    none = np.asarray(mix(params, rows, {"bird": 0.0}, ["speed_mps"]).log_lik["speed_mps"])
    np.testing.assert_allclose(none, old, atol=1e-4)
    only = np.asarray(mix(params, rows, {"bird": 1.0}, ["speed_mps"]).log_lik["speed_mps"])
    fitted = np.asarray(fit(rows).log_lik["speed_mps"])
    np.testing.assert_allclose(only[:, BIRD], fitted[:, BIRD], atol=1e-4)


def test_mix_leaves_a_class_without_rows_and_refuses_weights_outside_0_1():
    params = ClassifierParams.load()
    rows = _speeds([12.0] * 10, "bird")
    drone = CLASSES.index("drone")
    mixed = mix(params, rows, {"drone": 0.5}, ["speed_mps"])
    assert [r[drone] for r in mixed.log_lik["speed_mps"]] == [
        r[drone] for r in params.log_lik["speed_mps"]
    ]
    with pytest.raises(ValueError, match="bird"):
        mix(params, rows, {"bird": 1.5}, ["speed_mps"])


def test_with_multirotor_learns_a_drone_subclass_and_leaves_the_drone_class():
    params = msgspec.structs.replace(ClassifierParams.load(), multirotor_log_lik={})
    drone = CLASSES.index("drone")
    rows = _speeds([5.0, 6.0, 6.5, 8.0], "drone")
    sub = with_multirotor(params, rows, 1.0, ["speed_mps"], llr=-0.5)
    assert sub.log_lik == params.log_lik and sub.multirotor_llr == -0.5
    fitted = np.asarray(fit(rows).log_lik["speed_mps"])[:, drone]
    np.testing.assert_allclose(sub.multirotor_log_lik["speed_mps"], fitted, atol=1e-4)
    # Every other feature: the drone class's histogram.
    assert sub.multirotor_log_lik["height_m"] == [r[drone] for r in params.log_lik["height_m"]]
    # Weight 0 gives the drone class's histogram; a second call mixes into the subclass.
    none = with_multirotor(params, rows, 0.0, ["speed_mps"]).multirotor_log_lik["speed_mps"]
    np.testing.assert_allclose(none, [r[drone] for r in params.log_lik["speed_mps"]], atol=1e-4)
    again = with_multirotor(sub, _speeds([30.0] * 4, "drone"), 0.5, ["speed_mps"])
    edges = params.edges["speed_mps"]
    k, nb = int(np.searchsorted(edges, 6.0, side="right")), len(edges) + 1
    q = 0.98 * 1 / (4 + nb) + 0.02 / nb  # the 30 m/s rows' smoothed share of 6 m/s's bin
    assert again.multirotor_log_lik["speed_mps"][k] == pytest.approx(
        math.log(0.5 * math.exp(sub.multirotor_log_lik["speed_mps"][k]) + 0.5 * q), abs=1e-3
    )
    with pytest.raises(ValueError, match="multirotor"):
        with_multirotor(params, rows, -0.1, ["speed_mps"])


def test_collect_keeps_only_the_rows_of_the_listed_truth_objects():
    header, records = synthetic_scenario(np.random.default_rng(3), 2, 60.0)
    cls, _ = truth_classes(records)
    scans = list(pseudo_scans(header, records, np.random.default_rng(4)))
    every = collect(scans, cls)
    votes = TruthVotes(cls)
    for _, assoc in scans:
        votes.add(assoc)
    one = votes.truth_of(int(every.track[0]))
    assert one is not None
    kept = collect(scans, cls, keep={one})
    assert 0 < len(kept.y) < len(every.y)
    assert set(kept.y.tolist()) == {CLASSES.index(cls[one])}
    assert {votes.truth_of(int(t)) for t in kept.track} == {one}


def test_samples_concat_keeps_every_row_in_order():
    a, b = _speeds([1.0, 2.0], "bird"), _speeds([3.0], "drone")
    both = Samples.concat([a, b])
    np.testing.assert_array_equal(both.feats[:, FEATURES.index("speed_mps")], [1.0, 2.0, 3.0])
    assert both.y.tolist() == [BIRD, BIRD, CLASSES.index("drone")]
    assert both.track.tolist() == [0, 1, 0]
