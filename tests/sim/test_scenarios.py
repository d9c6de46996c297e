"""Built-in scenarios: determinism, format, truth realism, hostile routes, CLI."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
import pytest
import typer
from shapely.geometry import Point
from typer.testing import CliRunner

from skywarden.cli.simulate import simulate
from skywarden.geodesy import LocalFrame
from skywarden.scenario import ScenarioReader
from skywarden.sim import EPOCH_S, Simulation, builtin_names, generate, load_spec, simulate_to_file
from skywarden.sim.spec import kind_of
from skywarden.threat.zones import ZoneSet
from skywarden.types import SENSOR_KINDS, Detection, TruthPoint


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)
    return app


def _read(path: Path):
    reader = ScenarioReader(path, quiet=True)
    records = list(reader)
    return reader, records


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    spec = load_spec("single-drone")
    paths = [tmp_path / f"{i}.jsonl" for i in range(3)]
    for p, seed in zip(paths, (1, 1, 2), strict=True):
        simulate_to_file(spec, p, seed=seed, duration_s=60)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_cli_swarm_reads_back_clean(tmp_path):
    out = tmp_path / "swarm.jsonl"
    res = CliRunner().invoke(_app(), ["swarm", "--seed", "1", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = orjson.loads(res.stdout)
    reader, records = _read(out)
    assert reader.stats.n_rejected == 0
    assert reader.stats.warnings == []
    assert reader.stats.out_of_order == 0
    assert summary["lines"] == reader.stats.lines == len(records)
    assert summary["hostile"] >= 10
    # Header first, then the stream; times start at the fixed epoch.
    kinds = [r.__struct_config__.tag for r in records]
    first_stream = kinds.index("truth")
    assert set(kinds[:first_stream]) == {"site", "sensor", "zone"}
    assert set(kinds[first_stream:]) <= {"truth", "detection"}
    t = [r.t for r in records[first_stream:]]
    assert t[0] == EPOCH_S and all(a <= b for a, b in itertools.pairwise(t))
    assert summary["detections_by_sensor"] == dict(reader.stats.by_sensor)


def test_cli_table_output_and_bad_name(tmp_path):
    out = tmp_path / "b.jsonl"
    res = CliRunner().invoke(_app(), ["bench", "--targets", "7", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "pos-1" in res.stdout
    _reader, records = _read(out)
    assert len({r.id for r in records if isinstance(r, TruthPoint)}) == 7
    res = CliRunner().invoke(_app(), ["no-such-scenario", "--out", str(out)])
    assert res.exit_code != 0
    assert "no-such-scenario" in res.output
    res = CliRunner().invoke(_app(), ["swarm", "--targets", "3", "--out", str(out)])
    assert res.exit_code != 0 and "target" in res.output


def test_every_sensor_kind_in_some_builtin():
    kinds = {s.kind for n in builtin_names() for s in load_spec(n).sensors}
    assert kinds == set(SENSOR_KINDS)


def test_generate_is_lazy_and_sorted():
    sim_records = generate(load_spec("mass-raid"), seed=1, chunk_s=10.0)
    head = [next(sim_records) for _ in range(9)]
    assert [r.__struct_config__.tag for r in head] == ["site"] + ["sensor"] * 5 + ["zone"] * 3
    t = [next(sim_records).t for _ in range(2000)]
    assert t == sorted(t)
    # Only the first chunk was made: everything so far lies in its first 10 s.
    assert t[-1] < EPOCH_S + 10.0


_SPEED_MPS = {
    # truth class -> (min, max) over the scenarios below, with a little slack for climb.
    "bird": (7.5, 21.0),
    "aircraft": (19.0, 255.0),
    "helicopter": (29.5, 71.0),
}


@pytest.mark.parametrize("name", ["birds", "airport", "coastal", "swarm"])
def test_truth_speed_and_height_ranges(name, tmp_path):
    out = tmp_path / "s.jsonl"
    simulate_to_file(load_spec(name), out, seed=5)
    reader, records = _read(out)
    ground = reader.header.site.alt_m
    by_obj: dict[str, list[TruthPoint]] = defaultdict(list)
    for r in records:
        if isinstance(r, TruthPoint):
            by_obj[r.id].append(r)
    assert by_obj
    for oid, pts in by_obj.items():
        speed = np.array([math.hypot(*p.vel_enu_mps) for p in pts])
        agl = np.array([p.alt_m - ground for p in pts])
        cls = pts[0].class_
        t = np.array([p.t for p in pts])
        assert np.all(np.diff(t) == 1.0), oid
        if cls == "drone" and pts[0].hostile:
            assert np.all((speed > 29.9) & (speed < 60.1)), oid
            assert agl.max() < 1_500.5 and agl.min() > -1.0, oid
        elif cls == "drone":
            assert not pts[0].hostile
            assert speed.max() < 16.5 and agl.max() < 121.0, oid
        else:
            lo, hi = _SPEED_MPS[cls]
            assert speed.min() > lo and speed.max() < hi, (oid, speed.min(), speed.max())
        if cls == "bird":
            assert agl.max() < 300.5 and agl.min() > 9.0, oid
        if cls == "helicopter":
            assert agl.max() < 501.0, oid


@pytest.mark.parametrize("name", ["single-drone", "swarm", "coastal", "airport"])
def test_hostile_drones_end_in_zone_after_a_warnable_approach(name, tmp_path):
    out = tmp_path / "h.jsonl"
    simulate_to_file(load_spec(name), out, seed=2)
    reader, records = _read(out)
    frame = LocalFrame.from_site(reader.header.site)
    zones = ZoneSet(reader.header.zones, frame)
    paths: dict[str, list[TruthPoint]] = defaultdict(list)
    first_radar: dict[str, float] = {}
    radars = {s for s, v in reader.header.sensors.items() if v.kind == "radar"}
    for r in records:
        if isinstance(r, TruthPoint) and r.hostile:
            paths[r.id].append(r)
        elif isinstance(r, Detection) and r.sensor in radars and r.truth is not None:
            first_radar.setdefault(r.truth, r.t)
    assert paths
    for oid, pts in paths.items():
        enu = frame.to_enu(
            np.array([p.lat for p in pts]),
            np.array([p.lon for p in pts]),
            np.array([p.alt_m for p in pts]),
        )
        inside = zones.contains(enu).any(axis=1)
        assert inside[-1], f"{oid} does not end inside a zone"
        assert pts[-1].t < EPOCH_S + load_spec(name).duration_s, oid
        entry_t = pts[int(np.argmax(inside))].t
        dist_start = min(z.polygon_enu.distance(Point(enu[0, :2])) for z in zones)
        assert dist_start >= 15_000.0, oid
        # Radar sees it early enough for a warning at least 60 s before entry.
        assert entry_t - first_radar[oid] >= 60.0, oid
        # The final dive is steep.
        d = enu[-1] - enu[-3]
        assert 25.0 < math.degrees(math.atan2(-d[2], math.hypot(d[0], d[1]))) < 65.0, oid


def test_mass_raid_population():
    sim = Simulation(load_spec("mass-raid"), seed=1)
    pop = sim.population
    assert len(pop) >= 200
    assert sum(c == "drone" for c in pop.truth_class) >= 50
    assert int(pop.hostile.sum()) >= 50
    assert sum(s.kind == "radar" for s in sim.spec.sensors) >= 2
    # Every hostile drone reaches its zone within the scenario.
    last = np.array([np.flatnonzero(pop.exists[i])[-1] for i in np.flatnonzero(pop.hostile)])
    assert np.all(last < pop.n_times - 1)
    inside = sim.zone_set.contains(pop.pos_enu_m[np.flatnonzero(pop.hostile), last])
    assert np.all(inside.any(axis=1))


@pytest.mark.parametrize("n", [0, 7, 400, 2000])
def test_mass_raid_targets_sizes_the_raid(n):
    spec = load_spec("mass-raid", targets=n)
    sim = Simulation(spec, seed=3)
    pop = sim.population
    assert len(pop) == n
    kinds = np.array(pop.group)
    hostile = pop.hostile
    # A quarter hostile: attack drones and decoys (hostile_drone) and loitering multirotors.
    assert int(hostile.sum()) == round(0.25 * n)
    assert set(kinds[hostile]) <= {"hostile_drone", "quadcopter"}
    assert not (kinds[~hostile] == "hostile_drone").any()
    n_air = sum(c in ("aircraft", "helicopter") for c in pop.truth_class)
    assert n_air == round(0.05 * n)
    assert sum(c == "bird" for c in pop.truth_class) == n - int(hostile.sum()) - n_air
    if n < 400:
        return
    # Waves from four directions, all launched within five minutes, each ending in a zone.
    attack = np.flatnonzero(kinds == "hostile_drone")
    first = np.array([np.flatnonzero(pop.exists[i])[0] for i in attack])
    last = np.array([np.flatnonzero(pop.exists[i])[-1] for i in attack])
    assert first.max() <= 302
    assert sim.zone_set.contains(pop.pos_enu_m[attack, last]).any(axis=1).all()
    start = pop.pos_enu_m[attack, first, :2]
    bearing = np.degrees(np.arctan2(start[:, 0], start[:, 1])) % 360
    assert len(np.unique(bearing // 90)) == 4
    # Loiterers stay near the zones they threaten.
    loiter = np.flatnonzero(hostile & (kinds == "quadcopter"))
    assert loiter.shape[0] > 0
    assert np.hypot(*pop.pos_enu_m[loiter][..., :2].transpose(2, 0, 1)).max() < 6_000.0


def test_mass_raid_without_targets_is_unchanged_and_other_builtins_refuse_to_scale():
    assert load_spec("mass-raid") == load_spec("mass-raid", targets=None)
    raid = load_spec("mass-raid").objects
    assert sum(g.count for g in raid if kind_of(g) == "hostile_drone") == 60
    with pytest.raises(ValueError, match="target"):
        load_spec("swarm", targets=10)
    assert len(Simulation(load_spec("bench", targets=9), seed=1).population) == 9
