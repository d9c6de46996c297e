"""Scenario specs: built-ins, the documented example, user files and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from skywarden.cli.simulate import simulate
from skywarden.scenario import ScenarioReader
from skywarden.sim import SpecError, builtin_names, load_spec
from skywarden.sim.builtin import builtin_data
from skywarden.types import Detection

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario-spec.md"


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)
    return app


def _doc_example() -> dict:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"## A full example\s+```yaml\n(.*?)```", text, re.S)
    assert block is not None
    return yaml.safe_load(block.group(1))


@pytest.mark.parametrize("name", builtin_names())
def test_builtins_load_and_round_trip_through_yaml(name, tmp_path):
    spec = load_spec(name)
    assert spec.name == name
    assert 1 <= len(spec.zones) <= 3
    # A built-in written out as a user file loads to the same spec.
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(builtin_data(name)), encoding="utf-8")
    assert load_spec(path) == spec


def test_documented_example_drives_the_simulator(tmp_path):
    spec_path = tmp_path / "harbour-demo.yaml"
    spec_path.write_text(yaml.safe_dump(_doc_example()), encoding="utf-8")
    out = tmp_path / "harbour.jsonl"
    res = CliRunner().invoke(
        _app(), [str(spec_path), "--seed", "3", "--duration", "300", "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    reader = ScenarioReader(out, quiet=True)
    dets = [r for r in reader if isinstance(r, Detection)]
    assert reader.stats.n_rejected == 0 and reader.stats.warnings == []
    assert set(reader.header.sensors) == {"radar-1", "cam-1", "rf-1", "rid-1"}
    assert {z.id for z in reader.header.zones} == {"Z1", "Z2"}
    by_sensor = {d.sensor for d in dets}
    assert {"radar-1", "rid-1", "rf-1"} <= by_sensor
    rid = [d for d in dets if d.sensor == "rid-1"]
    assert all(d.uas_id and d.operator_lat is not None for d in rid)
    # The radar dropout (200-230 s) silences it, clutter included.
    t_radar = [d.t - 1767225600.0 for d in dets if d.sensor == "radar-1"]
    assert not any(200.0 <= t < 230.0 for t in t_radar)
    # rf with sigma_el_deg reports elevation.
    assert all(d.el_deg is not None for d in dets if d.sensor == "rf-1")


@pytest.mark.parametrize(
    ("patch", "path_in_error"),
    [
        (lambda d: d["sensors"][1].update({"pd": 1.5}), "$.sensors[1].pd"),
        (lambda d: d["sensors"][0].update({"pdd": 0.5}), "$.sensors[0]"),
        (lambda d: d["zones"][0].update({"polygon": [[0, 0], [1, 0], [1, 1]]}), "$.zones[0]"),
        (lambda d: d["objects"][0].update({"speed_mps": [60, 30]}), "$.objects[0]"),
        (lambda d: d["objects"][2].update({"kind": "dragon"}), "$.objects[2].kind"),
        (lambda d: d["site"].pop("lat"), "$.site"),
    ],
)
def test_bad_spec_names_the_field(tmp_path, patch, path_in_error):
    data = _doc_example()
    patch(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert str(path) in str(e.value)
    assert path_in_error in str(e.value)
    res = CliRunner().invoke(_app(), [str(path), "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code != 0
    assert path_in_error in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_bad_reference_and_bad_yaml(tmp_path):
    data = _doc_example()
    data["objects"][0]["zone"] = "Z9"
    path = tmp_path / "ref.json"
    import json

    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"objects\[0\]\.zone: no zone 'Z9'"):
        load_spec(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(broken)
