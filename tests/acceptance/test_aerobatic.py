"""Acceptance: the tracker holds a recorded aerobatic flight as one track.

A powered light aircraft's recorded flight with aerobatics (HB-YLA, project OCAP,
eval split of the corpus: reversal turns at 2-3 g, pull-ups from -18 to +29 m/s
vertical, 1 fix/s) flown 6-18 km from one radar (range, azimuth, elevation at 1 Hz,
no cross-section). Scored as the share of the flight's covered scans carried by its
single longest-serving track; the match distance is 500 m because a radar's 0.5 deg
azimuth and 0.8 deg elevation noise alone are 100-200 m at that range (this measures
whether one track follows the aircraft, not how closely).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from skywarden.eval.match import match_tracks
from skywarden.eval.outputs import read_output
from skywarden.eval.truth import read_scenario
from skywarden.runner import run_file
from skywarden.sim import load_spec, simulate_to_file

pytestmark = pytest.mark.slow

SPEC = Path(__file__).resolve().parents[2] / "scenarios/real/aerobatic/aerobatic-01.yaml"
#: The issue's goal: one track for at least 95 % of the airborne time. Measured: 0.996,
#: 0.995, 0.996 (seeds 1-3). The track still breaks in a 2-3 g reversal (seed 2: a 90
#: degree turn at 90 m/s, 22-27 m/s^2) or a loop's pull-up; the track started on the far
#: side takes the lost one's id (``TrackerConfig.continue_accel_mps2``). Without that:
#: 0.79, 0.60, 0.52.
GOAL_SHARE = 0.95
SEEDS = (1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_aerobatic_flight_held_as_one_track(seed, tmp_path):
    scen_p, out_p = tmp_path / "s.jsonl", tmp_path / "o.jsonl"
    simulate_to_file(load_spec(SPEC), scen_p, seed=seed)
    run_file(scen_p, out_p)
    scen = read_scenario(scen_p)
    out = read_output(out_p, scen.frame)
    m = match_tracks(scen, out, 500.0, 2.0, False)
    rows = m.truth_row_match
    assert rows.shape[0] > 1000  # the flight is covered for 18 minutes
    assert (rows >= 0).mean() >= 0.99  # and tracked nearly all of it
    longest = Counter(int(out.track[r]) for r in rows if r >= 0).most_common(1)[0][1]
    share = longest / rows.shape[0]
    assert share >= GOAL_SHARE, share
