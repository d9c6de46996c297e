"""The committed real-flight corpus and its scenarios: integrity, splits, simulation."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import sys
import time
import zipfile
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
BUILD_CORPUS = Path(__file__).parents[2] / "scripts" / "build_corpus.py"
PIGEON = "Columba livia (homing pigeon)"


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


def _build_corpus():
    spec = importlib.util.spec_from_file_location("build_corpus", BUILD_CORPUS)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_corpus"] = mod
    spec.loader.exec_module(mod)
    return mod


#: A made-up i-gotU log starts at this time (UTC) and lies on this parallel.
_T0 = dt.datetime(2011, 5, 24, 14, 0, 0, tzinfo=dt.UTC)
_LAT = 51.8
_M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(_LAT))


def _igotu_text(legs: list[tuple[int, float]], extra: dict[int, float] | None = None) -> str:
    """An i-gotU CSV (CR line ends) of a bird on a parallel, one fix a second: ``legs`` are
    (seconds, m/s) in turn, 0 m/s sitting, a negative duration a gap without fixes;
    ``extra`` adds, after the fix of second s, another fix stamped s, that many metres on."""
    rows = ["Date, Time, Latitude, Longitude, Altitude, Speed, Course, Type, Distance, Essential"]

    def row(s: int, x_m: float) -> str:
        when = _T0 + dt.timedelta(seconds=s)
        lon = -1.3 + x_m / _M_PER_DEG_LON
        return (
            f"{when:%Y/%m/%d}, {when:%H:%M:%S}, {_LAT:.6f}, {lon:.6f}, 80.00,  0.00, 90, 0, 0.00, "
        )

    s, x = 0, 0.0
    for dur, v in legs:
        if dur < 0:
            s -= dur
            x += v * -dur
            continue
        for _ in range(dur):
            rows.append(row(s, x))
            if extra and s in extra:
                rows.append(row(s, x + extra[s]))
            s += 1
            x += v
    return "\r".join(rows) + "\r"


def _read_igotu(tmp_path: Path, text: str) -> list:
    path = tmp_path / "log.csv"
    path.write_bytes(text.encode("latin-1"))
    return list(_build_corpus().read_igotu(path))


@pytest.fixture
def local_time_not_utc(monkeypatch):
    """The process's local time zone 5 h behind UTC (a reader must not depend on it)."""
    monkeypatch.setenv("TZ", "EST+5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_igotu_reader_drops_repeated_seconds_and_keeps_the_longest_flying_run(
    tmp_path, local_time_not_utc
):
    """Sitting, 100 s of flight, sitting, 440 s of flight with a second fix stamped like the
    one before it (500 m on, dropped), sitting: one flight, the 440 s, in UTC seconds."""
    text = _igotu_text([(60, 0.0), (100, 15.0), (60, 0.0), (440, 15.0), (60, 0.0)], {400: 500.0})
    assert "\n" not in text
    flights = _read_igotu(tmp_path, text)
    assert len(flights) == 1
    suffix, t, lat, lon, alt = flights[0]
    assert suffix == "flight"
    assert np.all(np.diff(t) > 0) and np.isnan(alt).all()
    start = _T0.timestamp() + 220.0
    assert abs(t[0] - start) <= 8.0 and abs(t[-1] - (start + 440.0)) <= 8.0
    x = (lon + 1.3) * _M_PER_DEG_LON
    assert np.all(np.abs(np.diff(x) / np.diff(t) - 15.0) < 0.5)  # the stray fix is gone
    assert np.allclose(lat, _LAT)


def test_igotu_reader_splits_runs_at_gaps_and_skips_short_flights(tmp_path):
    """A gap over 10 s ends a flying run; a run under 300 s is not a flight."""
    gap = [(30, 0.0), (280, 16.0), (-12, 16.0), (330, 16.0), (30, 0.0)]
    ((_, t, *_),) = _read_igotu(tmp_path, _igotu_text(gap))
    assert abs(t[0] - (_T0.timestamp() + 30.0 + 280.0 + 12.0)) <= 8.0
    assert abs(t[-1] - t[0] - 330.0) <= 8.0
    assert np.diff(t).max() <= 1.0
    assert _read_igotu(tmp_path, _igotu_text([(30, 0.0), (280, 16.0), (30, 0.0)])) == []


def _birds(path: Path) -> list[Recorded]:
    return [
        g for g in load_spec(path).objects if isinstance(g, Recorded) and g.truth_class == "bird"
    ]


def test_pigeons_fly_smoothed_in_one_scenario_per_split_and_nowhere_else():
    """The 1 Hz pigeon logs (whole-second stamps) fly in one scenario of each split, only
    pigeons of that split, smoothed over 2 s with gaps of up to 10 s bridged; every other
    scenario has no pigeon (and flies its birds unsmoothed)."""
    rows = {r["file"]: r for r in _manifest()}
    for split in ("train", "eval"):
        pool = {f for f, r in rows.items() if r["type"] == PIGEON and r["split"] == split}
        with_pigeons = []
        for path in real_scenarios(split):
            birds = _birds(path)
            pigeons = [g for g in birds if rows[Path(g.track).name]["type"] == PIGEON]
            if not pigeons:
                assert all(g.smooth_s == 0.0 for g in birds), path.stem
                continue
            with_pigeons.append(path.stem)
            assert len(pigeons) == len(birds) == min(12, len(pool))
            assert {Path(g.track).name for g in pigeons} <= pool
            assert all(g.smooth_s == 2.0 and g.max_gap_s == 10.0 for g in pigeons)
        assert with_pigeons == [{"train": "real-train-09", "eval": "real-eval-06"}[split]]


#: A made-up Technosmart logger log (Rocamadour) starts at this time (UTC) and lies on
#: this parallel.
_ROCA_T0 = dt.datetime(2018, 6, 25, 11, 0, 0, tzinfo=dt.UTC)
_ROCA_LAT = 44.8
_ROCA_M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(_ROCA_LAT))
_ROCA_HEADER = (
    "TagID,Date,Time,CENT,Acc-X,Acc-Y,Acc-Z,Activity,Pressure,Temperature,Latitude,Longitude,"
    "height-above-msl,ground-speed_km_h,satellite-count,hdop,maximum-signal-strength,"
    "Sensor Raw,behaviour"
)


def _roca_text(legs: list[tuple[int, float]], hz: int, junk_alt: dict[float, str]) -> str:
    """A Technosmart GPS logger's CSV of a bird on a parallel, ``hz`` rows a second:
    ``legs`` are (seconds, m/s) in turn (0 m/s sitting, at 300 m; flying, climbing 1 m/s).
    ``junk_alt`` writes that altitude at those seconds from the start instead of the real
    one. Around them: an accelerometer row without a position, a row of the logger's
    made-up date, and a row whose clock steps 20 s back."""
    rows = [_ROCA_HEADER]

    def row(s: float, x_m: float, alt: str) -> str:
        when = _ROCA_T0 + dt.timedelta(seconds=s)
        lon = 1.6 + x_m / _ROCA_M_PER_DEG_LON
        stamp = f"{when:%H:%M:%S}.{when.microsecond // 10_000:02d}"
        return f"T,{when:%d/%m/%Y},{stamp},,,,,,,,{_ROCA_LAT:.6f},{lon:.6f},{alt},0.0,,,,,"

    s, x, z = 0.0, 0.0, 300.0
    for dur, v in legs:
        for _ in range(dur * hz):
            rows.append(row(s, x, junk_alt.get(round(s, 2), f"{z:.1f}")))
            s, x = s + 1.0 / hz, x + v / hz
            z += (1.0 if v else 0.0) / hz
    rows.insert(40, "T,25/06/2018,11:00:09.10,,0.1,0.2,0.9,,,,,,,,,,,,")
    rows.insert(50, "T,00/00/2000,00:00:27.40,,,,,,,,44.801000,1.611000,190,0,,,,,")
    rows.insert(60, row(-5.0, 0.0, "300.0"))
    return "\n".join(rows) + "\n"


#: Sitting, a 1500 s flight (two windows), sitting, a 200 s hop (too short), sitting, a
#: 400 s flight (one window), sitting.
_ROCA_LEGS = [(60, 0.0), (1500, 12.0), (60, 0.0), (200, 12.0), (60, 0.0), (400, 12.0), (30, 0.0)]


def _read_roca(tmp_path: Path, text: str, zipped: bool) -> list:
    path = tmp_path / ("log.zip" if zipped else "log.csv")
    if zipped:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("RawData/2018-06-25/log.csv", text)
    else:
        path.write_text(text, encoding="latin-1")
    return list(_build_corpus().read_roca(path, individual="kuzco"))


def _has(t: np.ndarray, when: float) -> bool:
    return bool(np.abs(t - when).min() < 1e-3)


@pytest.mark.parametrize("hz", [4, 5])
def test_roca_reader_keeps_flying_windows_at_1_hz_with_altitude(tmp_path, hz, local_time_not_utc):
    """A raptor's logger at 4 or 5 Hz, zipped or not: the two flights long enough come out
    as windows of at most 20 min (the 1500 s one cut in two), one fix a second, in UTC
    seconds, with the logged altitude; junk altitudes (65535, then a negative one where the
    thinning, moved on by the first, would take it), rows without a position, with the
    logger's made-up date or stepping back in time are dropped."""
    t0 = _ROCA_T0.timestamp()
    junk = {500.0: "65535", round(900.0 + 1.0 / hz, 2): "-1229.4"}
    text = _roca_text(_ROCA_LEGS, hz, junk)
    flights = _read_roca(tmp_path, text, zipped=True)
    assert [f[0] for f in flights] == ["kuzco-01", "kuzco-02", "kuzco-03"]
    spans = [f[1][-1] - f[1][0] for f in flights]
    assert all(abs(a - b) <= 10.0 for a, b in zip(spans, [750.0, 750.0, 400.0], strict=True))
    assert abs(flights[0][1][0] - (t0 + 60.0)) <= 8.0
    assert abs(flights[1][1][-1] - (t0 + 1560.0)) <= 8.0
    assert abs(flights[2][1][0] - (t0 + 1880.0)) <= 8.0
    for _, t, lat, lon, alt in flights:
        steps = np.diff(t)
        assert steps.min() >= 1.0 and np.median(steps) == 1.0 and steps.max() <= 1.25
        assert np.allclose(lat, _ROCA_LAT)
        assert np.all((alt >= 300.0) & (alt <= 2400.0))  # no 65535, no -1229.4
        # Inside the flight (its ends may hold a few seconds of sitting): 12 m/s, climbing 1 m/s.
        x = (lon - 1.6) * _ROCA_M_PER_DEG_LON
        assert np.all(np.abs(np.diff(x)[8:-8] / steps[8:-8] - 12.0) < 0.5)
        assert np.all(np.abs(np.diff(alt)[8:-8] / steps[8:-8] - 1.0) < 0.2)
    first = np.concatenate([flights[0][1], flights[1][1]])
    for s in junk:
        assert not _has(first, t0 + s) and _has(first, t0 + s + 1.0 / hz)
    plain = _read_roca(tmp_path, text, zipped=False)
    assert len(plain) == len(flights)
    for a, b in zip(plain, flights, strict=True):
        assert a[0] == b[0] and all(np.array_equal(u, v) for u, v in zip(a[1:], b[1:], strict=True))


def test_roca_reader_skips_logs_without_a_long_enough_flight(tmp_path):
    assert _read_roca(tmp_path, _roca_text([(60, 0.0), (290, 12.0), (60, 0.0)], 4, {}), True) == []


def _is_raptor(row: dict[str, str]) -> bool:
    return row["source"].startswith("roca-")


def test_raptor_flights_are_1_hz_windows_of_5_to_20_minutes_with_altitude():
    raptors = [r for r in _manifest() if _is_raptor(r)]
    assert len(raptors) >= 60 and {r["split"] for r in raptors} == {"train", "eval"}
    for r in raptors:
        assert r["class"] == "bird" and r["has_alt"] == "yes" and r["licence"] == "MIT"
        assert r["median_dt_s"] == "1.0" and 300 <= int(r["duration_s"]) <= 1200, r["flight_id"]


def test_raptors_fly_with_their_logged_heights_in_one_scenario_per_split_and_nowhere_else():
    """The Rocamadour raptors fly in one scenario of each split, only raptors of that split,
    their logs' heights kept (the lowest fix 10-60 m above the ground), with two gliders;
    every other scenario has no raptor (and so stays as it was)."""
    rows = {r["file"]: r for r in _manifest()}
    for split in ("train", "eval"):
        pool = {f for f, r in rows.items() if _is_raptor(r) and r["split"] == split}
        with_raptors = []
        for path in real_scenarios(split):
            birds = _birds(path)
            raptors = [g for g in birds if _is_raptor(rows[Path(g.track).name])]
            if not raptors:
                continue
            with_raptors.append(path.stem)
            assert len(raptors) == len(birds) == min(12, len(pool))
            assert {Path(g.track).name for g in raptors} <= pool
            for g in raptors:
                assert g.alt_mode == "lowest" and 10.0 <= g.agl_m <= 60.0
                assert g.max_gap_s == 10.0 and g.smooth_s == 0.0
            objects = load_spec(path).objects
            gliders = [
                g for g in objects if isinstance(g, Recorded) and g.truth_class == "aircraft"
            ]
            assert len(gliders) == 2
        assert with_raptors == [{"train": "real-train-10", "eval": "real-eval-07"}[split]]
