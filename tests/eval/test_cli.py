"""``skywarden eval``: the JSON document parses and has the documented keys; tables render."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from skywarden.cli.evaluate import evaluate

from .build import (
    T0,
    alert,
    line,
    position_detections,
    sensor,
    track_lines,
    truth_lines,
    write_output,
    write_scenario,
    zone,
)

DOCUMENTED = {
    "params": {"c_m", "p", "all_truth", "coverage"},
    "scenario": {
        "duration_s",
        "n_truth_objects",
        "n_hostile",
        "n_track_lines",
        "n_alert_lines",
        "n_raw_detections",
        "rejected_scenario_lines",
        "rejected_output_lines",
        "output_lines_class_p_ignored",
    },
    "gospa": {
        "n_scans",
        "mean_m",
        "median_m",
        "mean_localisation_m",
        "mean_missed_m",
        "mean_false_m",
        "mean_total_pp",
        "mean_localisation_pp",
        "mean_missed_pp",
        "mean_false_pp",
        "mean_n_truth",
        "mean_n_estimates",
        "mean_n_missed",
        "mean_n_false",
    },
    "tracking": {
        "identity_switches",
        "fragmentations",
        "n_objects_counted",
        "never_tracked",
        "latency_mean_s",
        "latency_median_s",
        "latency_max_s",
        "objects",
    },
    "warning": {
        "n_hostile",
        "n_entered",
        "missed_warnings",
        "lead_time_min_s",
        "lead_time_median_s",
        "n_raised_alerts",
        "false_alerts",
        "false_alerts_per_hour",
        "false_by_class",
        "false_warning_by_class",
        "hostile_alerts",
        "attributed_by_proximity",
        "nonhostile_drone_alerts",
        "wrong_zone_alerts",
        "wrong_zone_fraction",
        "wrong_zone_clear_delay_max_s",
        "wrong_zone",
        "max_raises_per_object_zone_per_hour",
        "worst_object_zone",
        "warning_lead_time_min_s",
        "warning_lead_time_median_s",
        "drones",
    },
    "classification": {
        "truth_labels",
        "track_labels",
        "confusion",
        "n",
        "accuracy",
        "n_settled",
        "accuracy_settled",
        "confusion_settled",
        "accuracy_settled_by_class",
        "hostile_drones_as_aircraft",
        "per_object_settled",
        "calibration_settled",
    },
}


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:
        """Test app."""

    a.command("eval")(evaluate)
    return a


@pytest.fixture
def files(tmp_path):
    t = T0 + np.arange(80.0)
    h = line([-990.0, 100.0, 50.0], [20.0, 0.0, 0.0], t)
    b = line([500.0, -500.0, 30.0], [0.0, 3.0, 0.0], t)
    rng = np.random.default_rng(3)
    recs = truth_lines("H", "drone", t, h, hostile=True) + truth_lines("B", "bird", t, b)
    recs += position_detections("pos", t, h + rng.normal(0, 5.0, h.shape), "H")
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [sensor("pos", "position", max_range_m=5_000.0)],
        [zone("Z1", 0.0, 0.0, 200.0, 200.0)],
        recs,
    )
    out = track_lines("T1", t[3:], h[3:] + rng.normal(0, 3.0, h[3:].shape), cls="drone")
    out += [alert(T0 + 20.0, "A1", "T1", "Z1")]
    return scen, write_output(tmp_path / "o.jsonl", out)


def test_json_has_documented_keys(app, files):
    res = CliRunner().invoke(app, ["eval", str(files[0]), str(files[1]), "--json", "--c", "50"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) == set(DOCUMENTED) | {"raw_gospa"}
    for section, keys in DOCUMENTED.items():
        assert set(doc[section]) == keys, section
    assert set(doc["raw_gospa"]) == DOCUMENTED["gospa"] | {"by_sensor"}
    assert doc["params"]["c_m"] == 50.0 and doc["params"]["coverage"] in (
        "in_coverage",
        "max_range",
        "in_coverage+seen",
        "max_range+seen",
    )
    assert doc["warning"]["drones"][0]["warned"] is True
    assert doc["tracking"]["objects"][0].keys() >= {"id", "switches", "fragmentations", "latency_s"}
    # The bird is never detected, so it does not count; the drone is missed only
    # in the 3 scans before its track starts.
    assert doc["gospa"]["mean_n_missed"] == pytest.approx(3 / 80)
    # Track positions (3 m noise per axis) localise the drone better than its raw
    # detections (5 m per axis); both miss the bird.
    assert doc["gospa"]["mean_localisation_pp"] < doc["raw_gospa"]["mean_localisation_pp"]


def test_human_output_renders_tables(app, files):
    res = CliRunner().invoke(app, ["eval", str(files[0]), str(files[1]), "--all-truth"])
    assert res.exit_code == 0, res.output
    for title in ("GOSPA", "Track continuity", "Warnings", "Classification", "log loss"):
        assert title in res.stdout


def test_missing_file_fails_cleanly(app, tmp_path):
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "nope.jsonl"), str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "no such file" in res.output
