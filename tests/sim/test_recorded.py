"""Recorded flights as truth objects: relocation, rotation, time shift, interpolation, gaps, errors."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pymap3d
import pytest

from skywarden.sim import Simulation, SpecError, load_spec, spec_from_dict
from skywarden.sim.generate import recorded_flights
from skywarden.sim.recorded import TrackError, read_track
from skywarden.types import Detection, Sensor

from .helpers import SITE

RADAR = {"id": "r1", "kind": "radar", "pos_enu_m": [0, 0, 10], "max_range_m": 20000.0}
ZONE = {"id": "Z1", "name": "zone", "circle": {"radius_m": 300.0}, "floor_m": 20, "ceiling_m": 600}


def _write(path: Path, rows: list[tuple], header: str = "t_s,lat_deg,lon_deg,alt_m") -> Path:
    text = (
        header
        + "\n"
        + "".join(",".join("" if v is None else str(v) for v in r) + "\n" for r in rows)
    )
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _log(tmp_path: Path, name: str = "log.csv.gz") -> tuple[Path, np.ndarray]:
    """A 60 s log flown east then north from the site origin, 1 s fixes, climbing from 50 m."""
    t = np.arange(61.0)
    e = np.where(t < 30, 10.0 * t, 300.0)
    n = np.where(t < 30, 0.0, 8.0 * (t - 30))
    alt = 50.0 + 0.5 * t
    lat, lon, _ = pymap3d.enu2geodetic(e, n, 0.0, SITE["lat"], SITE["lon"], 0.0)
    rows = [
        (f"{a:.3f}", f"{b:.9f}", f"{c:.9f}", f"{d:.2f}")
        for a, b, c, d in zip(t, lat, lon, alt, strict=True)
    ]
    return _write(tmp_path / name, rows), np.column_stack([t, lat, lon, alt])


def _sim(obj: dict, duration_s: float = 120.0, zones: list | None = None, base=None) -> Simulation:
    spec = spec_from_dict(
        {
            "name": "rec",
            "duration_s": duration_s,
            "site": SITE,
            "zones": zones or [],
            "sensors": [RADAR],
            "objects": [{"kind": "recorded", "truth_class": "drone", **obj}],
        },
        base_dir=base,
    )
    return Simulation(spec, seed=1)


def _flat(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal ENU (T, 2) of the one object and its exists mask."""
    pop = sim.population
    return pop.pos_enu_m[0, :, :2], pop.exists[0]


def test_zero_rotation_reproduces_the_log_exactly(tmp_path):
    path, log = _log(tmp_path)
    sim = _sim({"track": str(path), "alt_mode": "ground", "log_ground_m": SITE["alt_m"]}, 60.0)
    pop = sim.population
    assert pop.exists[0].all()
    lat, lon, alt = sim.frame.to_geodetic(pop.pos_enu_m[0])
    # Same site as the log's origin: every grid point is the logged fix (to well below 1 mm).
    assert np.allclose(lat, log[:, 1], atol=1e-8)
    assert np.allclose(lon, log[:, 2], atol=1e-8)
    assert np.allclose(alt, log[:, 3], atol=1e-3)


def test_relocation_offset_and_rotation_preserve_distances(tmp_path):
    path, _ = _log(tmp_path)
    base, ok0 = _flat(_sim({"track": str(path)}, 60.0))
    moved, ok1 = _flat(
        _sim({"track": str(path), "east_m": 1000.0, "north_m": -2000.0, "rotate_deg": 73.0}, 60.0)
    )
    assert ok0.all() and ok1.all()
    # The anchor (first point) lands on the offset; rotation is about it.
    assert np.allclose(moved[0], [1000.0, -2000.0], atol=1e-6)
    d0 = np.linalg.norm(base[:, None] - base[None], axis=-1)
    d1 = np.linalg.norm(moved[:, None] - moved[None], axis=-1)
    assert np.allclose(d0, d1, atol=1e-6)
    # Clockwise: the first leg flew east (bearing 90 deg), now 163 deg.
    leg = moved[10] - moved[0]
    assert math.degrees(math.atan2(leg[0], leg[1])) % 360 == pytest.approx(163.0, abs=1e-4)


def test_time_shift_and_window(tmp_path):
    path, _ = _log(tmp_path)
    sim = _sim({"track": str(path), "launch_s": 100.0, "from_s": 10.0, "to_s": 40.0}, 200.0)
    xy, ok = _flat(sim)
    assert np.flatnonzero(ok).tolist() == list(range(100, 131))
    # Anchor "first" is the first point of the window (log t = 10 s): it sits at the offset (0, 0).
    assert np.allclose(xy[100], [0.0, 0.0], atol=1e-6)
    # Log t = 40 s is 10 s into the northward leg: 200 m east and 80 m north of t = 10 s.
    assert np.allclose(xy[130], [200.0, 80.0], atol=1e-6)
    # Negative launch: the window started before the scenario.
    _, ok2 = _flat(_sim({"track": str(path), "launch_s": -50.0}, 30.0))
    assert np.flatnonzero(ok2).tolist() == list(range(0, 11))


def test_interpolation_is_linear_and_velocity_is_the_forward_difference(tmp_path):
    rows = [(0.0, 51.0, 1.0, 100.0), (10.0, 51.0, 1.001, 120.0), (20.0, 51.001, 1.001, 120.0)]
    path = _write(tmp_path / "coarse.csv", rows)
    sim = _sim({"track": str(path), "max_gap_s": 15.0}, 20.0)
    pop = sim.population
    p, v = pop.pos_enu_m[0], pop.vel_enu_mps[0]
    e1 = pymap3d.geodetic2enu(51.0, 1.001, 0.0, 51.0, 1.0, 0.0)[0]
    assert p[5, 0] == pytest.approx(e1 / 2, abs=1e-6)
    assert v[3, 0] == pytest.approx(e1 / 10, abs=1e-6)
    assert v[3, 2] == pytest.approx(2.0, abs=1e-3)  # 20 m in 10 s
    assert np.allclose(v[:-1, :2], np.diff(p[:, :2], axis=0), atol=1e-9)
    # The last point keeps the velocity it arrived with.
    assert np.allclose(v[-1, :2], v[-2, :2])


def test_long_gaps_make_the_object_absent(tmp_path):
    rows = [(t, 51.0, 1.0 + 1e-5 * t, 100.0) for t in (0, 1, 2, 3, 63, 64, 65)]
    path = _write(tmp_path / "gap.csv", rows)
    _, ok = _flat(_sim({"track": str(path), "max_gap_s": 10.0}, 80.0))
    assert np.flatnonzero(ok).tolist() == [0, 1, 2, 3, 63, 64, 65]
    _, ok = _flat(_sim({"track": str(path), "max_gap_s": 120.0}, 80.0))
    assert np.flatnonzero(ok).tolist() == list(range(66))


def test_aim_zone_and_approach_bearing(tmp_path):
    path, _ = _log(tmp_path)
    zone = {**ZONE, "circle": {"east_m": 5000.0, "north_m": 1000.0, "radius_m": 300.0}}
    sim = _sim({"track": str(path), "aim_zone": "Z1", "approach_from_deg": 270.0}, 60.0, [zone])
    xy, ok = _flat(sim)
    assert ok.all()
    # Anchor "last" by default when aiming: the path ends at the zone centre.
    assert np.allclose(xy[60], [5000.0, 1000.0], atol=1e-6)
    start = xy[0] - xy[60]
    assert math.degrees(math.atan2(start[0], start[1])) % 360 == pytest.approx(270.0, abs=1e-6)


def test_altitude_models(tmp_path):
    path, _ = _log(tmp_path)
    lowest = _sim({"track": str(path), "agl_m": 30.0}, 60.0).population.pos_enu_m[0, :, 2]
    # ENU up is the height less the Earth's curvature drop d^2/2R (1 cm at 400 m).
    assert lowest[0] == pytest.approx(30.0, abs=0.02) and lowest[60] == pytest.approx(
        60.0, abs=0.02
    )
    const = _sim({"track": str(path), "alt_mode": "constant", "agl_m": 80.0}, 60.0)
    assert np.allclose(const.population.pos_enu_m[0, :, 2], 80.0, atol=0.02)


def test_identity_and_class_flags(tmp_path):
    path, _ = _log(tmp_path)
    sim = _sim(
        {
            "track": str(path),
            "truth_class": "helicopter",
            "adsb": True,
            "icao24": "3c6444",
            "callsign": "CHX12",
            "radio": False,
        },
        30.0,
    )
    pop = sim.population
    assert pop.ids == ["heli-001"] and pop.truth_class == ["helicopter"]
    assert pop.icao24 == ["3c6444"] and pop.callsign == ["CHX12"] and not pop.radio[0]


def test_radar_range_az_el_only(tmp_path):
    path, _ = _log(tmp_path)
    radar = {**RADAR, "report_range_rate": False, "report_rcs": False}
    spec = spec_from_dict(
        {
            "name": "r",
            "duration_s": 60.0,
            "site": SITE,
            "sensors": [{**radar, "clutter_per_scan": 2.0}],
            "objects": [
                {"kind": "recorded", "truth_class": "drone", "track": str(path), "agl_m": 50}
            ],
        }
    )
    sim = Simulation(spec, seed=2)
    recs = [r for chunk in sim.chunks() for r in chunk if isinstance(r, Detection)]
    assert any(r.truth for r in recs) and any(r.truth is None for r in recs)
    assert all(r.range_rate_mps is None and r.snr_db is None and r.rcs_dbsm is None for r in recs)
    assert all(r.range_m is not None and r.el_deg is not None for r in recs)
    (sensor,) = [r for r in sim.header() if isinstance(r, Sensor)]
    assert sensor.sigma_range_rate_mps is None


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([(0, 51, 1, 10), (0, 51, 1, 10)], None, ":3: t_s 0.0 does not increase"),
        ([(0, 51, 1, 10), (1, 95, 1, 10)], None, ":3: position out of range"),
        ([(0, 51, 1, 10), (1, "x", 1, 10)], None, ":3: lat_deg: not a number"),
        ([(0, 51, 1, 10), (1, 51, 1, "nan")], None, ":3: alt_m: not finite"),
        ([(0, 51, 1, 10)], None, "needs at least 2 samples"),
        ([(0, 51, 1, 10), (1, 51, 1, None)], None, "alt_m is given on some lines only"),
        (
            [(0, 51, 1, 10), (1, 51, 1, 10)],
            "t_s,lat_deg,lon_deg",
            ":1: header lacks column(s) alt_m",
        ),
    ],
)
def test_bad_track_files_name_file_and_line(tmp_path, rows, header, message):
    path = _write(tmp_path / "bad.csv", rows, header or "t_s,lat_deg,lon_deg,alt_m")
    with pytest.raises(TrackError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_track(path)


def test_spec_errors_name_the_field(tmp_path):
    path, _ = _log(tmp_path)
    two_d = _write(tmp_path / "flat.csv", [(0, 51, 1, None), (5, 51.001, 1, None)])
    cases = [
        ({"track": "nope.csv.gz"}, "cannot read track file.*objects\\[0\\].track"),
        ({"track": str(path), "from_s": 70.0}, "window from_s=70.0.*is empty"),
        ({"track": str(two_d)}, "has no altitude: use alt_mode: constant"),
        ({"track": str(path), "alt_mode": "ground"}, "log_ground_m: required"),
        ({"track": str(path), "aim_zone": "Z9"}, "aim_zone: no zone 'Z9'"),
        ({"track": str(path), "icao24": "3c6444"}, "only with adsb: true"),
        ({"track": str(path), "to_s": 5.0, "from_s": 6.0}, "to_s: must be after from_s"),
        ({"track": str(path), "rotate_deg": 5.0, "approach_from_deg": 10.0}, "not both"),
        ({"track": str(path), "speed": 3}, "unknown field `speed`"),
    ]
    for obj, message in cases:
        with pytest.raises(SpecError, match=message):
            _sim(obj, 10.0, base=tmp_path)
    with pytest.raises(SpecError, match="radar only"):
        spec_from_dict(
            {
                "name": "x",
                "site": SITE,
                "sensors": [
                    {
                        "id": "c",
                        "kind": "camera",
                        "pos_enu_m": [0, 0, 0],
                        "max_range_m": 1e3,
                        "report_rcs": False,
                    }
                ],
            }
        )


def test_relative_track_paths_resolve_against_the_spec_file(tmp_path):
    (tmp_path / "tracks").mkdir()
    _log(tmp_path / "tracks", "a.csv")
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(
        "name: s\nsite: {name: x, lat: 51.0, lon: 1.0, alt_m: 20.0}\n"
        "sensors: [{id: r, kind: radar, pos_enu_m: [0, 0, 0], max_range_m: 1000.0}]\n"
        "objects: [{kind: recorded, track: tracks/a.csv, truth_class: bird}]\n"
    )
    spec = load_spec(spec_file)
    assert spec.objects[0].track == str((tmp_path / "tracks" / "a.csv").resolve())


def test_smoothing_damps_jitter_within_each_stretch(tmp_path):
    # Northward at 10 m/s with +-5 m of east-west jitter, and a 30 s gap in the middle.
    t = np.concatenate([np.arange(0.0, 40.0), np.arange(70.0, 110.0)])
    e = np.where(np.arange(t.size) % 2 == 0, 5.0, -5.0)
    lat, lon, _ = pymap3d.enu2geodetic(e, 10.0 * t, 0.0, SITE["lat"], SITE["lon"], 0.0)
    rows = [
        (f"{a:.1f}", f"{b:.9f}", f"{c:.9f}", "100.0") for a, b, c in zip(t, lat, lon, strict=True)
    ]
    path = _write(tmp_path / "jitter.csv", rows)
    raw, ok_raw = _flat(_sim({"track": str(path)}, 110.0))
    smooth, ok = _flat(_sim({"track": str(path), "smooth_s": 2.0}, 110.0))
    assert np.array_equal(ok, ok_raw) and not ok[50]
    inner = ok & (np.abs(np.arange(ok.size) - 55) > 20)
    assert np.std(smooth[inner, 0]) < 0.2 * np.std(raw[inner, 0])
    # Along-track motion is kept: still about 10 m/s north.
    assert np.median(np.diff(smooth[:39, 1])) == pytest.approx(10.0, abs=0.1)


def test_a_steady_wind_adds_to_the_ground_velocity(tmp_path):
    # Northward at 10 m/s in calm air, flown in a 6 m/s wind from the west.
    t = np.arange(0.0, 60.0)
    lat, lon, _ = pymap3d.enu2geodetic(0.0, 10.0 * t, 0.0, SITE["lat"], SITE["lon"], 0.0)
    rows = [
        (f"{a:.1f}", f"{b:.9f}", f"{c:.9f}", "100.0") for a, b, c in zip(t, lat, lon, strict=True)
    ]
    path = _write(tmp_path / "north.csv", rows)
    calm, ok = _flat(_sim({"track": str(path)}, 60.0))
    windy_sim = _sim({"track": str(path), "wind_mps": [6.0, 0.0]}, 60.0)
    windy, ok_w = _flat(windy_sim)
    assert np.array_equal(ok, ok_w) and ok[:59].all()
    # Same start, then carried east 6 m a second; the northward track is unchanged.
    np.testing.assert_allclose(windy[0], calm[0], atol=1e-6)
    np.testing.assert_allclose(np.diff(windy[:59, 0]), 6.0, atol=1e-6)
    np.testing.assert_allclose(windy[:59, 1], calm[:59, 1], atol=1e-6)
    vel = windy_sim.population.vel_enu_mps[0, :58, :2]
    np.testing.assert_allclose(np.hypot(vel[:, 0], vel[:, 1]), math.hypot(6.0, 10.0), rtol=1e-3)
    # Anchored on its last point, the flight ends where it was put and starts upwind.
    last, _ = _flat(_sim({"track": str(path), "anchor": "last"}, 60.0))
    last_w, _ = _flat(_sim({"track": str(path), "anchor": "last", "wind_mps": [6.0, 0.0]}, 60.0))
    np.testing.assert_allclose(last_w[58], last[58] + [-6.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(last_w[0], last[0] + [-6.0 * 59.0, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="wind_mps"):
        _sim({"track": str(path), "wind_mps": [60.0, 0.0]})


def test_recorded_flights_name_each_recorded_objects_file(tmp_path):
    path, _ = _log(tmp_path, "gull.csv.gz")
    spec = spec_from_dict(
        {
            "name": "rec",
            "duration_s": 30.0,
            "site": SITE,
            "sensors": [RADAR],
            "objects": [
                {"kind": "bird", "count": 2, "area": {"radius_m": 1000.0}},
                {"kind": "recorded", "truth_class": "bird", "track": str(path)},
                {"kind": "recorded", "truth_class": "drone", "track": str(path)},
            ],
        }
    )
    ids = Simulation(spec, seed=1).population.ids
    assert recorded_flights(spec) == {
        ids[0]: None,
        ids[1]: None,
        ids[2]: "gull.csv.gz",
        ids[3]: "gull.csv.gz",
    }
    assert ids[2].startswith("bird") and ids[3].startswith("drone")
