"""The real tracker's output, scored: parsing its lines and beating the raw detections."""

from __future__ import annotations

import numpy as np
import orjson

from skywarden.eval import evaluate_files
from skywarden.runner import run_file
from skywarden.sim.generate import simulate_to_file
from skywarden.sim.spec import load_spec
from skywarden.types import Detection

from .build import FRAME, T0, line, sensor, truth_lines, write_scenario


def test_tracker_output_beats_raw_detections(tmp_path):
    rng = np.random.default_rng(11)
    t = T0 + np.arange(90.0)
    paths = {
        "A": line([-1_500.0, 400.0, 120.0], [15.0, 0.0, 0.0], t),
        "B": line([1_000.0, -1_200.0, 200.0], [0.0, 12.0, 1.0], t),
    }
    s = sensor("pos", "position", max_range_m=10_000.0, sigma_pos_m=15.0, pd=0.9)
    recs = []
    for oid, p in paths.items():
        recs += truth_lines(oid, "drone", t, p)
        seen = rng.random(t.shape[0]) < 0.9
        noisy = p[seen] + rng.normal(0.0, 15.0, p[seen].shape)
        lat, lon, alt = FRAME.to_geodetic(noisy)
        recs += [
            Detection(
                t=float(tk), sensor="pos", lat=float(a), lon=float(b), alt_m=float(c), truth=oid
            )
            for tk, a, b, c in zip(t[seen], lat, lon, alt, strict=True)
        ]
    # Clutter: one false detection per scan somewhere in a 6 km box.
    cl = np.column_stack(
        [
            rng.uniform(-3e3, 3e3, t.shape[0]),
            rng.uniform(-3e3, 3e3, t.shape[0]),
            rng.uniform(50, 300, t.shape[0]),
        ]
    )
    lat, lon, alt = FRAME.to_geodetic(cl)
    recs += [
        Detection(t=float(tk), sensor="pos", lat=float(a), lon=float(b), alt_m=float(c))
        for tk, a, b, c in zip(t, lat, lon, alt, strict=True)
    ]
    scen = write_scenario(tmp_path / "s.jsonl", [s], [], recs)
    out = tmp_path / "o.jsonl"
    run_file(scen, out)
    d = evaluate_files(scen, out, c=100.0, p=2.0).to_dict()
    assert d["scenario"]["n_track_lines"] > 0 and d["scenario"]["rejected_output_lines"] == 0
    assert d["tracking"]["never_tracked"] == 0
    assert d["tracking"]["identity_switches"] == 0
    assert d["gospa"]["mean_m"] < d["raw_gospa"]["mean_m"]
    assert 0.0 < d["tracking"]["latency_max_s"] < 15.0


def test_simulated_scenario_end_to_end(tmp_path):
    """Simulator -> tracker -> eval on the built-in single-drone scenario (2 minutes)."""
    scen, out = tmp_path / "s.jsonl", tmp_path / "o.jsonl"
    simulate_to_file(load_spec("single-drone"), scen, seed=1, duration_s=120.0)
    run_file(scen, out)
    rep = evaluate_files(scen, out)
    d = rep.to_dict()
    truth_ids, hostile, n_pos = set(), set(), 0
    kinds = {}
    with open(scen, "rb") as f:
        for raw in f:
            r = orjson.loads(raw)
            if r["type"] == "sensor":
                kinds[r["id"]] = r["kind"]
            elif r["type"] == "truth":
                truth_ids.add(r["id"])
                if r.get("hostile"):
                    hostile.add(r["id"])
            elif r["type"] == "detection":
                n_pos += kinds[r["sensor"]] in ("radar", "position", "remoteid", "adsb")
    assert d["scenario"]["n_truth_objects"] == len(truth_ids)
    assert d["scenario"]["n_hostile"] == len(hostile) >= 1
    assert d["scenario"]["n_raw_detections"] == n_pos
    assert d["gospa"]["n_scans"] >= 100
    objs = {o["id"]: o for o in d["tracking"]["objects"]}
    assert all(objs[h]["n_scans"] > 0 for h in hostile)
    # The point of a tracker: a better air picture than its raw detections.
    assert d["gospa"]["mean_m"] < d["raw_gospa"]["mean_m"]
