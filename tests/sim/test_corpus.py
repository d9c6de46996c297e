"""The committed real-flight corpus and its scenarios: integrity, splits, simulation."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from skywarden.scenario import ScenarioReader
from skywarden.sim import load_spec, simulate_to_file
from skywarden.sim.recorded import corpus_dir, read_track, real_scenarios
from skywarden.sim.spec import Recorded

CLASSES = {
    "drone-multirotor",
    "drone-fixedwing",
    "bird",
    "aircraft",
    "glider",
    "helicopter",
    "airliner",
}
OPEN_LICENCES = {"CC0-1.0", "CC-BY-4.0", "MIT", "BSD-3-Clause", "Apache-2.0", "ODbL-1.0"}


def _manifest() -> list[dict[str, str]]:
    with (corpus_dir() / "manifest.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_manifest_lists_every_file_with_its_sha256():
    rows = _manifest()
    assert len({r["flight_id"] for r in rows}) == len(rows)
    files = {p.name for p in corpus_dir().glob("*.csv.gz")}
    assert files == {r["file"] for r in rows}
    for r in rows:
        data = (corpus_dir() / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"], r["file"]
        assert r["class"] in CLASSES and r["licence"] in OPEN_LICENCES
        assert r["split"] in ("train", "eval")


def test_every_flight_reads_as_a_track():
    for r in _manifest():
        track = read_track(corpus_dir() / r["file"])
        assert track.t_s.size == int(r["n_points"])
        assert track.has_altitude == (r["has_alt"] == "yes")


def _flights_of(spec_path: Path) -> set[str]:
    spec = load_spec(spec_path)
    return {Path(g.track).name for g in spec.objects if isinstance(g, Recorded)}


def test_scenarios_use_only_flights_of_their_split():
    split_of = {r["file"]: r["split"] for r in _manifest()}
    used: dict[str, set[str]] = {}
    for split in ("train", "eval"):
        paths = real_scenarios(split)
        assert paths, f"no {split} scenarios"
        used[split] = set().union(*(_flights_of(p) for p in paths))
        assert {split_of[f] for f in used[split]} == {split}
    assert not used["train"] & used["eval"]
    with pytest.raises(ValueError):
        real_scenarios("test")


@pytest.mark.parametrize("path", real_scenarios("eval"), ids=lambda p: p.stem)
def test_eval_scenarios_simulate_to_valid_files(path, tmp_path):
    spec = load_spec(path)
    assert 600.0 <= spec.duration_s <= 1800.0
    out = tmp_path / "s.jsonl"
    summary = simulate_to_file(spec, out, seed=3)
    reader = ScenarioReader(out, quiet=True)
    for _ in reader:
        pass
    assert reader.stats.n_rejected == 0
    assert summary.objects == sum(g.count for g in spec.objects)
    assert summary.hostile >= 1
    assert sum(summary.detections_by_sensor.values()) > summary.clutter_by_sensor["radar-1"]


def _on_grid(track_path: Path, step_deg: float) -> bool:
    tr = read_track(track_path)
    q = np.concatenate([tr.lat_deg, tr.lon_deg]) / step_deg
    return bool(np.abs(q - np.round(q)).max() < 1e-3)


def test_drone_logs_rounded_to_an_11_m_grid_are_flown_smoothed_and_no_others():
    """A log rounded to 4 decimals stops and jumps 11 m at 1 Hz, which no drone does.

    Seven of the corpus's drone logs are; every scenario flies them smoothed (and
    flies every finer log as logged), as ``scripts/build_corpus.py --scenarios`` writes.
    """
    seen = {True: 0, False: 0}
    for split in ("train", "eval"):
        for path in real_scenarios(split):
            for g in load_spec(path).objects:
                if not isinstance(g, Recorded) or g.truth_class != "drone":
                    continue
                coarse = _on_grid(path.parent / g.track, 1e-4)
                seen[coarse] += 1
                assert (g.smooth_s == 2.0) if coarse else (g.smooth_s == 0.0), (path.stem, g.track)
    assert seen[True] >= 2 and seen[False] >= 2
