"""Lead time, missed warnings, false alerts and the classification confusion matrix."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from skywarden.eval import evaluate_files
from skywarden.types import AlertLine

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

T = T0 + np.arange(100.0)


@pytest.fixture
def warned(tmp_path):
    """Three hostile drones enter zones (one warned early, one never, one late) and one friendly."""
    paths = {
        # enters Z1 (e >= 0) between samples, first inside at t = 50 s
        "H1": line([-990.0, 100.0, 50.0], [20.0, 0.0, 0.0], T),
        # enters Z2 from the north (n <= 200) first inside at t = 46 s
        "H2": line([1_100.0, 1_110.0, 50.0], [0.0, -20.0, 0.0], T),
        # enters Z1 from the south (n >= 0) first inside at t = 51 s
        "H3": line([150.0, -1_010.0, 60.0], [0.0, 20.0, 0.0], T),
        "F": line([3_000.0, 3_000.0, 50.0], [0.0, 0.0, 0.0], T),
    }
    recs = []
    for oid, p in paths.items():
        recs += truth_lines(oid, "drone", T, p, hostile=oid != "F")
    s = sensor("pos", "position")
    zones = [zone("Z1", 0.0, 0.0, 200.0, 200.0), zone("Z2", 1_000.0, 0.0, 1_200.0, 200.0)]
    scen = write_scenario(tmp_path / "s.jsonl", [s], zones, recs)
    out = []
    for oid, p in paths.items():
        out += track_lines("T" + oid, T, p, cls="drone")
    out += [
        alert(T0 + 20.4, "A1", "TH1", "Z1"),  # between scans: still attributed
        alert(T0 + 25.0, "A1", "TH1", "Z1", state="updated"),
        alert(T0 + 30.0, "A2", "TH1", "Z2"),  # hostile, other zone: not false
        alert(T0 + 55.0, "A3", "TH3", "Z1"),  # after entry
        alert(T0 + 40.0, "A4", "TF", "Z1"),  # friendly: false
        alert(T0 + 41.0, "A5", "TX", "Z1"),  # no such track: false
        AlertLine(t=T0 + 42.0, id="S1", level="info", state="raised", kind="sensor", sensor="pos"),
    ]
    return evaluate_files(scen, write_output(tmp_path / "o.jsonl", out), c=50.0)


def test_lead_time_per_drone(warned):
    w = {d["id"]: d for d in warned.to_dict()["warning"]["drones"]}
    assert set(w) == {"H1", "H2", "H3"}
    assert w["H1"]["zone"] == "Z1" and w["H2"]["zone"] == "Z2" and w["H3"]["zone"] == "Z1"
    assert w["H1"]["entry_t_s"] == pytest.approx(T0 + 50.0)
    assert w["H1"]["lead_time_s"] == pytest.approx(50.0 - 20.4)
    assert w["H1"]["alert_id"] == "A1" and w["H1"]["warned"]
    assert w["H2"]["lead_time_s"] is None and not w["H2"]["warned"]
    assert w["H3"]["lead_time_s"] == pytest.approx(51.0 - 55.0) and not w["H3"]["warned"]


def test_missed_and_false_alerts(warned):
    d = warned.to_dict()["warning"]
    assert d["n_hostile"] == 3 and d["n_entered"] == 3
    assert d["missed_warnings"] == 2
    assert d["n_raised_alerts"] == 5
    # A5 (no such track) is false; A4 is on a drone that is not hostile: counted apart.
    assert d["false_alerts"] == 1 and d["false_by_class"] == {"clutter": 1}
    assert d["nonhostile_drone_alerts"] == {"identified": 0, "anonymous": 1}
    assert d["hostile_alerts"] == 3
    assert d["false_alerts_per_hour"] == pytest.approx(1 / (99.0 / 3600.0))
    leads = [50.0 - 20.4, 51.0 - 55.0]
    assert d["lead_time_min_s"] == pytest.approx(min(leads))
    assert d["lead_time_median_s"] == pytest.approx(float(np.median(leads)))


def test_alert_outside_the_matching_window_takes_the_object_matched_nearest_in_time(tmp_path):
    """An alert at a time the track was not matched goes to the object it was matched to
    nearest that time, not to the one it followed longest: this track warned of the drone
    while still off it, held it until it entered the zone and ended, and then followed a
    bird for longer."""
    p = line([-990.0, 100.0, 50.0], [20.0, 0.0, 0.0], T)
    alive = T <= T0 + 55.0
    bird = line([150.0, 100.0, 50.0], [-10.0, 0.0, 0.0], T)
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [sensor("pos", "position")],
        [zone("Z1", 0.0, 0.0, 200.0, 200.0)],
        truth_lines("H", "drone", T[alive], p[alive], hostile=True)
        + truth_lines("B", "bird", T, bird),
    )
    off = T < T0 + 30.0
    on_drone = ~off & alive
    on_bird = ~alive
    pos = np.where(
        off[:, None], p + np.array([0.0, 400.0, 0.0]), np.where(on_bird[:, None], bird, p)
    )
    assert on_bird.sum() > on_drone.sum()
    out = [*track_lines("T1", T, pos), alert(T0 + 10.0, "A", "T1", "Z1")]
    d = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out)).to_dict()["warning"]
    assert d["false_alerts"] == 0 and d["missed_warnings"] == 0 and d["hostile_alerts"] == 1


def test_alert_on_a_track_never_matched_is_false(tmp_path):
    p = line([-990.0, 100.0, 50.0], [20.0, 0.0, 0.0], T)
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [sensor("pos", "position")],
        [zone("Z1", 0.0, 0.0, 200.0, 200.0)],
        truth_lines("H", "drone", T, p, hostile=True),
    )
    ghost = p + np.array([0.0, 2_000.0, 0.0])
    out = [*track_lines("T9", T, ghost), alert(T0 + 10.0, "A", "T9", "Z1")]
    d = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out)).to_dict()["warning"]
    assert d["false_alerts"] == 1 and d["missed_warnings"] == 1


@pytest.mark.parametrize(
    ("pos_std_m", "whom", "false_alerts", "missed", "by_proximity"),
    [
        (80.0, "drone", 0, 0, 1),  # 150 m off, within three of its 80 m sigmas
        (20.0, "drone", 1, 1, 0),  # 150 m off with a 20 m sigma: another thing
        (None, "drone", 1, 1, 0),  # no sigma given: the cut-off alone
        (80.0, "bird", 1, 1, 1),  # near a bird: the bird's, and still false
    ],
)
def test_a_never_matched_track_is_the_object_within_its_own_error(
    tmp_path, pos_std_m, whom, false_alerts, missed, by_proximity
):
    """A poorly fixed first track of a drone, just beyond the matching cut-off, warned of
    that drone; a track that claims a small error there was of something else."""
    p = line([-990.0, 100.0, 50.0], [20.0, 0.0, 0.0], T)
    bird = line([-990.0, 100.0, 50.0], [20.0, 0.0, 0.0], T) + np.array([0.0, 0.0, 20.0])
    recs = truth_lines("H", "drone", T, p, hostile=True)
    if whom == "bird":
        recs = truth_lines("H", "drone", T, p + np.array([0.0, 3_000.0, 0.0]), hostile=True)
        recs += truth_lines("B", "bird", T, bird)
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [sensor("pos", "position")],
        [zone("Z1", 0.0, 0.0, 200.0, 4_000.0)],
        recs,
    )
    off = p + np.array([0.0, 150.0, 0.0])
    out = [
        *track_lines("T9", T[:20], off[:20], pos_std_m=pos_std_m),
        alert(T0 + 10.0, "A", "T9", "Z1"),
    ]
    d = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out)).to_dict()["warning"]
    assert d["false_alerts"] == false_alerts and d["missed_warnings"] == missed
    assert d["attributed_by_proximity"] == by_proximity
    if whom == "bird":
        assert d["false_by_class"] == {"bird": 1}


def test_confusion_matrix_and_settled_accuracy(tmp_path):
    t = T[:60]
    paths = {
        "A": ("drone", line([0.0, 0.0, 100.0], [5.0, 0.0, 0.0], t)),
        "B": ("bird", line([0.0, 1_000.0, 100.0], [5.0, 0.0, 0.0], t)),
        "C": ("aircraft", line([0.0, 2_000.0, 900.0], [60.0, 0.0, 0.0], t)),
    }
    recs = []
    for oid, (cls, p) in paths.items():
        recs += truth_lines(oid, cls, t, p)
    scen = write_scenario(tmp_path / "s.jsonl", [sensor("pos", "position")], [], recs)
    early = t < T0 + 20.0
    out = track_lines("TA", t, paths["A"][1], cls="drone")
    out += track_lines("TB", t, paths["B"][1], cls=np.where(early, "drone", "bird").tolist())
    out += track_lines(
        "TC",
        t,
        paths["C"][1],
        status=np.where(t < T0 + 10.0, "tentative", "confirmed").tolist(),
        cls="aircraft",
    )
    c = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out)).to_dict()["classification"]
    m = np.array(c["confusion"])
    ti, ki = c["truth_labels"].index, c["track_labels"].index
    assert m[ti("drone"), ki("drone")] == 60
    assert m[ti("bird"), ki("drone")] == 20
    assert m[ti("bird"), ki("bird")] == 40
    assert m[ti("aircraft"), ki("aircraft")] == 50
    assert m.sum() == 170 and c["n"] == 170
    assert c["accuracy"] == pytest.approx(150 / 170)
    # Settled: TA and TB from t = 30 s (30 scans each), TC from 10 + 30 s (20 scans), all right.
    assert c["n_settled"] == 80
    assert c["accuracy_settled"] == pytest.approx(1.0)
    assert not math.isnan(c["accuracy_settled"])


def test_alerts_sorted_by_whom_they_were_for(tmp_path):
    """Wrong-zone alerts with their open time after the turn, raises per (object, zone),
    and alerts on non-hostile drones split by whether the drone had given an identity
    when the alert was raised (one whose Remote ID is first heard later was anonymous)."""
    # H flies east past Z2 (north of it, closest at t = 30 s) and on into Z1.
    h = np.concatenate([line([-1_000.0, 500.0, 50.0], [20.0, 0.0, 0.0], T[:30]), np.zeros((70, 3))])
    h[30:] = line(h[29] + [20.0, 0.0, 0.0], [20.0, -8.0, 0.0], T[30:] - T[30] + T0)
    rid = line([2_000.0, 2_000.0, 50.0], [0.0, 0.0, 0.0], T)  # identified, not hostile
    anon = line([-2_000.0, 2_000.0, 50.0], [0.0, 0.0, 0.0], T)  # anonymous, not hostile
    late = line([2_000.0, -2_000.0, 50.0], [0.0, 0.0, 0.0], T)  # Remote ID heard from t = 60 s
    recs = truth_lines("H", "drone", T, h, hostile=True)
    recs += truth_lines("R", "drone", T, rid) + truth_lines("N", "drone", T, anon)
    recs += truth_lines("L", "drone", T, late)
    recs += [
        msgspec.structs.replace(d, uas_id="FRIEND-1")
        for d in position_detections("rid-1", T, rid, "R")
    ]
    recs += position_detections("pos", T[:60], late[:60], "L")
    recs += [
        msgspec.structs.replace(d, uas_id="FRIEND-2")
        for d in position_detections("rid-1", T[60:], late[60:], "L")
    ]
    recs += position_detections("pos", T, h, "H") + position_detections("pos", T, anon, "N")
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [sensor("pos", "position"), sensor("rid-1", "remoteid")],
        [zone("Z1", 0.0, -400.0, 1_000.0, 0.0), zone("Z2", -600.0, 0.0, -200.0, 400.0)],
        recs,
    )
    out = track_lines("TH", T, h, cls="drone") + track_lines("TR", T, rid, cls="drone")
    out += track_lines("TN", T, anon, cls="drone") + track_lines("TL", T, late, cls="drone")
    out += [
        alert(T0 + 10.0, "A1", "TH", "Z2"),  # wrong zone: H never enters Z2 ...
        alert(T0 + 45.0, "A1", "TH", "Z2", state="cleared"),  # ... cleared 5 s after passing
        alert(T0 + 12.0, "A2", "TH", "Z1"),
        alert(T0 + 50.0, "A3", "TH", "Z1"),  # a second raise for (H, Z1)
        alert(T0 + 20.0, "A4", "TR", "Z1"),
        alert(T0 + 21.0, "A5", "TN", "Z1"),
        alert(T0 + 22.0, "A6", "TL", "Z1"),  # before L's first Remote ID
    ]
    d = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out), c=50.0).to_dict()
    w = d["warning"]
    assert w["false_alerts"] == 0
    assert w["hostile_alerts"] == 3
    assert w["nonhostile_drone_alerts"] == {"identified": 1, "anonymous": 2}
    assert w["wrong_zone_alerts"] == 1 and w["wrong_zone_fraction"] == pytest.approx(1 / 3)
    assert [a["alert_id"] for a in w["wrong_zone"]] == ["A1"]
    # Closest approach to Z2 (east edge e = -200) is when H is at e = -200, t = 40 s.
    assert w["wrong_zone_clear_delay_max_s"] == pytest.approx(5.0, abs=1.0)
    assert w["max_raises_per_object_zone_per_hour"] == 2
    assert w["worst_object_zone"] == ["H", "Z1"]


def test_in_view_time_and_late_drones(warned):
    """In-view time is counted from the first covered truth sample; a drone in view for
    less than the lead time plus the settling time is short notice, not late."""
    w = {d.id: d for d in warned.warning.drones}
    # Every drone is covered from the first sample (t = 0): entry time is the notice.
    assert w["H1"].in_view_s == pytest.approx(50.0)
    assert w["H2"].in_view_s == pytest.approx(46.0)
    assert not w["H1"].short_notice(19.0) and w["H1"].short_notice(21.0)
    assert w["H1"].warning_lead_time_s == pytest.approx(50.0 - 20.4)
    # H1 was warned 29.6 s ahead; H2 never, H3 after its entry: both late for a 15 s
    # lead. For a 20 s lead H2 (46 s in view) is short notice; for 25 s every drone
    # (46-51 s in view) is, and none is late.
    assert {d.id for d in warned.warning.late(15.0)} == {"H2", "H3"}
    assert {d.id for d in warned.warning.late(20.0)} == {"H3"}
    assert warned.warning.late(25.0) == []


@pytest.mark.parametrize(
    ("events", "at_warning"),
    [
        ([("raised", "info")], {}),
        ([("raised", "info"), ("updated", "warning")], {"bird": 1}),
        ([("raised", "critical")], {"bird": 1}),
    ],
)
def test_false_alerts_at_warning_or_above_count_any_event_of_the_alert(
    tmp_path, events, at_warning
):
    """A bird must never reach warning: an alert on it raised at info and escalated later
    counts as one at warning, one that stayed info does not."""
    bird = line([-990.0, 100.0, 50.0], [10.0, 0.0, 0.0], T)
    scen = write_scenario(
        tmp_path / "s.jsonl",
        [sensor("pos", "position")],
        [zone("Z1", 0.0, 0.0, 200.0, 4_000.0)],
        truth_lines("B", "bird", T, bird),
    )
    out = [*track_lines("T1", T[:40], bird[:40])]
    out += [
        alert(T0 + 10.0 + 5.0 * k, "A1", "T1", "Z1", state=state, level=level)
        for k, (state, level) in enumerate(events)
    ]
    d = evaluate_files(scen, write_output(tmp_path / "o.jsonl", out)).to_dict()["warning"]
    assert d["false_by_class"] == {"bird": 1}
    assert d["false_warning_by_class"] == at_warning
