"""Reliability table, expected calibration error and log loss of class probabilities."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from skywarden.eval import evaluate_files
from skywarden.eval.calibration import P_FLOOR, Calibration, calibration
from skywarden.types import CLASSES

from .build import T0, line, sensor, track_lines, truth_lines, write_output, write_scenario

D, B = CLASSES.index("drone"), CLASSES.index("bird")


def _rows(*drone_p: float) -> np.ndarray:
    """Probability rows giving ``drone`` each p and ``bird`` the rest."""
    p = np.zeros((len(drone_p), len(CLASSES)))
    p[:, D] = drone_p
    p[:, B] = 1.0 - np.asarray(drone_p)
    return p


def test_reliability_bins_ece_and_log_loss_by_hand():
    # Four forecasts of p(drone) = 0.85 of which three are drones; two of 0.15, both birds.
    p = _rows(0.85, 0.85, 0.85, 0.85, 0.15, 0.15)
    truth = np.array([D, D, D, B, B, B])
    c = calibration(truth, p)
    assert c.n == 6
    lo, hi, n, mean_p, frac = c.table("drone")[1]
    assert (lo, hi, n) == pytest.approx((0.8, 0.9, 4))
    assert (mean_p, frac) == pytest.approx((0.85, 0.75))
    assert c.table("drone")[0][2:] == pytest.approx((2, 0.15, 0.0))
    # ECE: (4 |0.85 - 0.75| + 2 |0.15 - 0|) / 6
    assert c.ece("drone") == pytest.approx((4 * 0.10 + 2 * 0.15) / 6)
    # Log loss: three drones at 0.85, one bird at 0.15, two birds at 0.85.
    want = -(5 * math.log(0.85) + math.log(0.15)) / 6
    assert c.log_loss == pytest.approx(want)
    # Helicopter: forecast at 0 and never true, which is calibrated.
    assert c.table("helicopter") == [(0.0, 0.1, 6, 0.0, 0.0)]
    assert c.ece("helicopter") == 0.0
    assert math.isnan(calibration(np.zeros(0, np.int64), p[:0]).ece("drone"))


def test_a_certain_wrong_forecast_costs_the_floor_and_rows_without_p_are_skipped():
    p = np.vstack([_rows(1.0), np.full((1, len(CLASSES)), np.nan)])
    c = calibration(np.array([B, D]), p)
    assert c.n == 1
    assert c.log_loss == pytest.approx(-math.log(P_FLOOR))
    assert c.table("drone") == [(0.9, 1.0, 1, 1.0, 0.0)]


def test_runs_add_up():
    rng = np.random.default_rng(3)
    q = rng.dirichlet(np.ones(len(CLASSES)), size=40)
    truth = rng.integers(0, len(CLASSES), size=40)
    whole = calibration(truth, q)
    parts = Calibration.merged([calibration(truth[:15], q[:15]), calibration(truth[15:], q[15:])])
    assert parts.n == whole.n
    assert parts.log_loss == pytest.approx(whole.log_loss)
    np.testing.assert_array_equal(parts.count, whole.count)
    np.testing.assert_allclose(parts.hits, whole.hits)
    for cls in CLASSES:
        assert parts.ece(cls) == pytest.approx(whole.ece(cls))


def test_eval_scores_the_settled_lines_class_p_and_keeps_a_line_with_a_bad_one(tmp_path):
    t = T0 + np.arange(60.0)
    path = line([0.0, 0.0, 100.0], [5.0, 0.0, 0.0], t)
    scen = write_scenario(
        tmp_path / "s.jsonl", [sensor("pos", "position")], [], truth_lines("A", "drone", t, path)
    )
    out = [
        msgspec.structs.replace(tl, class_p={"drone": 0.8, "bird": 0.2})
        for tl in track_lines("TA", t, path, cls="drone")
    ]
    out[45] = msgspec.structs.replace(out[45], class_p={"drone": 1.5})
    d = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out)).to_dict()
    c = d["classification"]
    assert d["scenario"]["output_lines_class_p_ignored"] == 1
    assert d["scenario"]["rejected_output_lines"] == 0
    assert c["n_settled"] == 30  # the line with the bad class_p still counts here ...
    cal = c["calibration_settled"]
    assert cal["n"] == 29  # ... but not in the calibration
    assert cal["log_loss"] == pytest.approx(-math.log(0.8))
    assert cal["by_class"]["drone"]["bins"] == [pytest.approx([0.8, 0.9, 29, 0.8, 1.0])]
    assert cal["by_class"]["drone"]["ece"] == pytest.approx(0.2)
