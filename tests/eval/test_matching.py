"""Truth-to-track matching over time: switches, fragmentations, latency, coverage, raw GOSPA."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skywarden.eval import evaluate_files

from .build import (
    T0,
    line,
    position_detections,
    radar_detections,
    sensor,
    track_lines,
    truth_lines,
    write_output,
    write_scenario,
)

T = T0 + np.arange(60.0)  # 1 Hz truth and scans, 60 s


def _ids(report) -> dict[str, dict]:
    return {o["id"]: o for o in report.to_dict()["tracking"]["objects"]}


def test_crossing_objects_with_swapped_track_ids(tmp_path):
    """Two objects cross; T1 follows A then B, T2 follows B then A: one switch each."""
    a = line([-300.0, 0.0, 100.0], [10.0, 0.0, 0.0], T)
    b = line([300.0, 40.0, 100.0], [-10.0, 0.0, 0.0], T)
    s = sensor("pos", "position", max_range_m=20_000.0)
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [s],
        [],
        truth_lines("A", "drone", T, a) + truth_lines("B", "drone", T, b),
    )
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 2.0, size=(2, T.shape[0], 3))
    k = T < T0 + 30.0
    t1 = np.where(k[:, None], a, b) + noise[0]
    t2 = np.where(k[:, None], b, a) + noise[1]
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T, t1) + track_lines("T2", T, t2))
    rep = evaluate_files(scen, out, c=50.0, p=2.0)
    objs = _ids(rep)
    for oid in ("A", "B"):
        assert objs[oid]["switches"] == 1
        assert objs[oid]["fragmentations"] == 0
        assert objs[oid]["n_scans"] == 60 and objs[oid]["n_matched"] == 60
    d = rep.to_dict()
    assert d["tracking"]["identity_switches"] == 2
    # Every scan is fully matched, so GOSPA is the localisation error only.
    expected = np.sqrt(np.sum(noise**2, axis=(0, 2)))
    assert d["gospa"]["n_scans"] == 60
    assert d["gospa"]["mean_m"] == pytest.approx(expected.mean(), rel=1e-6)
    assert d["gospa"]["mean_missed_m"] == 0.0 and d["gospa"]["mean_false_m"] == 0.0


def test_fragmentation_and_resume_with_new_id(tmp_path):
    """C is lost for 10 s and picked up again by the same track; D is picked up by a new one."""
    c = line([0.0, 0.0, 100.0], [5.0, 0.0, 0.0], T)
    d = line([0.0, 2_000.0, 100.0], [5.0, 0.0, 0.0], T)
    s = sensor("pos", "position")
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [s],
        [],
        truth_lines("C", "bird", T, c) + truth_lines("D", "bird", T, d),
    )
    lost = (T >= T0 + 20.0) & (T < T0 + 30.0)
    before, after = T < T0 + 20.0, T >= T0 + 30.0
    recs = track_lines("T3", T[~lost], c[~lost])
    recs += track_lines("T4", T[before], d[before]) + track_lines("T5", T[after], d[after])
    out = write_output(tmp_path / "o.jsonl", recs)
    objs = _ids(evaluate_files(scen, out, c=50.0))
    assert (objs["C"]["fragmentations"], objs["C"]["switches"]) == (1, 0)
    assert (objs["D"]["fragmentations"], objs["D"]["switches"]) == (1, 1)
    assert objs["C"]["n_matched"] == int((~lost).sum())


def test_silent_scans_are_filled_and_count_as_missed(tmp_path):
    """No track lines at all for 10 s: those scans still count, with the object missed."""
    c = line([0.0, 0.0, 100.0], [5.0, 0.0, 0.0], T)
    s = sensor("pos", "position")
    scen = write_scenario(tmp_path / "s.jsonl", [s], [], truth_lines("C", "drone", T, c))
    lost = (T >= T0 + 20.0) & (T < T0 + 30.0)
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T[~lost], c[~lost]))
    rep = evaluate_files(scen, out, c=40.0, p=2.0)
    g = rep.to_dict()["gospa"]
    assert g["n_scans"] == 60
    assert g["mean_n_missed"] == pytest.approx(10 / 60)
    # Each missed scan costs sqrt(c^2 / 2); matched scans cost 0.
    assert g["mean_m"] == pytest.approx(10 / 60 * math.sqrt(40.0**2 / 2))


def test_latency_from_first_detection_to_first_confirmed_match(tmp_path):
    e = line([0.0, 0.0, 100.0], [5.0, 0.0, 0.0], T)
    s = sensor("pos", "position")
    first_det = 5
    dets = position_detections("pos", T[first_det:], e[first_det:], truth="E")
    scen = write_scenario(tmp_path / "s.jsonl", [s], [], truth_lines("E", "drone", T, e) + dets)
    # Tentative from scan 8, confirmed from scan 12: tentative lines must not count.
    status = ["tentative"] * 4 + ["confirmed"] * (60 - 12)
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T[8:], e[8:], status=status))
    obj = _ids(evaluate_files(scen, out))["E"]
    assert obj["first_detection_t_s"] == pytest.approx(T[first_det])
    assert obj["latency_s"] == pytest.approx(T[12] - T[first_det])


def test_latency_without_truth_keys_starts_when_in_coverage(tmp_path):
    """Without truth keys latency starts at the first covered scan; coverage is max range."""
    # Inbound from 3.01 km at 50 m/s; the sensor sees 2 km: in coverage from t = 21 s.
    e = line([3_010.0, 0.0, 0.0], [-50.0, 0.0, 0.0], T)
    s = sensor("pos", "position", enu_m=(0.0, 0.0, 0.0), max_range_m=2_000.0)
    scen = write_scenario(tmp_path / "s.jsonl", [s], [], truth_lines("E", "drone", T, e))
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T[25:], e[25:]))
    rep = evaluate_files(scen, out)
    obj = _ids(rep)["E"]
    in_cov = np.linalg.norm(e - rep.scenario.geometries["pos"].pos_enu_m, axis=1) <= 2_000.0
    t_cov = T[np.argmax(in_cov)]
    assert obj["latency_s"] == pytest.approx(T[25] - t_cov)
    assert obj["n_scans"] == int(in_cov.sum())
    # With --all-truth the uncovered scans count too (as missed).
    rep_all = evaluate_files(scen, out, all_truth=True)
    assert _ids(rep_all)["E"]["n_scans"] == 60
    assert rep_all.to_dict()["gospa"]["mean_n_missed"] == pytest.approx(25 / 60)


def test_raw_detection_gospa_position_and_radar(tmp_path):
    """Position detections offset by (3, 4, 0) m give 5 m per object; radar through AER gives ~0."""
    a = line([500.0, 0.0, 100.0], [5.0, 1.0, 0.0], T)
    b = line([-800.0, 300.0, 150.0], [0.0, -4.0, 0.5], T)
    pos = sensor("pos", "position")
    rad = sensor("rad", "radar", enu_m=(100.0, -50.0, 5.0), max_range_m=10_000.0)
    off = np.array([3.0, 4.0, 0.0])
    recs = truth_lines("A", "drone", T, a) + truth_lines("B", "bird", T, b)
    recs += position_detections("pos", T, a + off, "A") + position_detections(
        "pos", T, b + off, "B"
    )
    recs += radar_detections(rad, T + 0.5, line([500.0, 0.0, 100.0], [5.0, 1.0, 0.0], T + 0.5), "A")
    scen = write_scenario(tmp_path / "s.jsonl", [pos, rad], [], recs)
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T, a))
    d = evaluate_files(scen, out, c=100.0, p=2.0).to_dict()
    raw = d["raw_gospa"]
    assert raw["by_sensor"]["pos"] == pytest.approx(math.sqrt(50.0), rel=1e-6)
    # The radar sees only A (B is covered too, so it counts as missed each scan).
    assert raw["by_sensor"]["rad"] == pytest.approx(math.sqrt(100.0**2 / 2), rel=1e-6)
    assert raw["n_scans"] == 120
    # Radar detections lie on A's truth at their own time (t + 0.5 s): no localisation
    # error; each position scan has 2 * 5^2.
    assert raw["mean_localisation_pp"] == pytest.approx((60 * 50.0 + 60 * 0.0) / 120, abs=1e-3)


def test_bad_output_lines_are_counted_not_raised(tmp_path):
    """Garbage and malformed track lines are rejected and counted; unknown types ignored."""
    c = line([0.0, 0.0, 100.0], [5.0, 0.0, 0.0], T)
    scen = write_scenario(
        tmp_path / "s.jsonl", [sensor("pos", "position")], [], truth_lines("C", "drone", T, c)
    )
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T, c))
    with open(out, "ab") as f:
        f.write(b"not json\n")
        f.write(b'{"type": "track", "t": 1.0, "id": "T9"}\n')
        f.write(b'{"type": "plot", "t": 1.0}\n\n')
    d = evaluate_files(scen, out).to_dict()
    assert d["scenario"]["rejected_output_lines"] == 2
    assert d["scenario"]["n_track_lines"] == 60
    assert d["gospa"]["mean_m"] == pytest.approx(0.0, abs=1e-6)


def test_scenario_without_truth_gives_only_false_tracks(tmp_path):
    scen = write_scenario(tmp_path / "s.jsonl", [sensor("pos", "position")], [], [])
    out = write_output(tmp_path / "o.jsonl", track_lines("T1", T[:10], np.zeros((10, 3))))
    d = evaluate_files(scen, out, c=20.0, p=1.0).to_dict()
    assert d["gospa"]["n_scans"] == 10
    assert d["gospa"]["mean_m"] == pytest.approx(10.0)  # one false track: c^p / 2
    assert d["tracking"]["objects"] == [] and d["warning"]["drones"] == []
    assert d["classification"]["n"] == 0 and d["classification"]["accuracy"] is None
