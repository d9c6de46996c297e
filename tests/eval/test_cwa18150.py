"""``skywarden export cwa18150``: a run as a COURAGEOUS format 0.4.1 document (CWA 18150 trials).

The published schema (COURAGEOUS-isf/format, ``courageous.schema.json``) carries
no licence, so it is not copied here; ``COURAGEOUS_0_4_1`` below states, in our
own words, the members and types that schema requires, and every exported
document is validated against it with ``jsonschema_rs``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywarden.cli import app
from skywarden.eval.cwa18150 import Cwa18150Export
from skywarden.scenario import ScenarioWriter
from skywarden.sim import load_spec, simulate_to_file
from skywarden.types import AlertLine, Detection, Sensor, Site, TrackLine

jsonschema_rs = pytest.importorskip("jsonschema_rs")

_NUM = {"type": "number"}
_POS3D = {
    "type": "object",
    "required": ["height_amsl", "lat", "lon"],
    "properties": {"height_amsl": _NUM, "lat": _NUM, "lon": _NUM},
}
_LOCATIONS = {
    "Arc": ["from", "to"],
    "Quad": ["quad"],
    "Bearing": ["bearing"],
    "Position2d": ["lat", "lon"],
    "Position3d": ["height_amsl", "lat", "lon"],
    "BearingElevation": ["bearing", "elevation"],
    "BearingElevationDistance": ["bearing", "distance", "elevation"],
}
_LOCATION = {
    "oneOf": [
        {
            "type": "object",
            "required": ["$type", *req],
            "properties": {"$type": {"enum": [name]}, **{k: {} for k in req}},
        }
        for name, req in _LOCATIONS.items()
    ]
}
_ALARM = {
    "type": "object",
    "required": ["active", "certainty"],
    "properties": {
        "active": {"type": "boolean"},
        "certainty": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


def _record(required: list[str]) -> dict:
    return {
        "type": "object",
        "required": required,
        "properties": {
            "record_number": {"type": "integer", "minimum": 0},
            "time": {"type": "integer", "minimum": 0},
            "classification": {"enum": ["Unknown", "UAV", "GCS", "Other"]},
            "identification": {"type": ["string", "null"]},
            "alarm": {"anyOf": [_ALARM, {"type": "null"}]},
            "location": {"anyOf": [_LOCATION, {"type": "null"}]},
            "cuas_location": {"anyOf": [_POS3D, {"type": "null"}]},
            "velocity": {
                "anyOf": [
                    {"type": "object", "required": ["east", "north", "up"]},
                    {"type": "null"},
                ]
            },
        },
    }


#: Members and types required by COURAGEOUS format 0.4.1 (draft-07), restated.
COURAGEOUS_0_4_1 = {
    "type": "object",
    "required": [
        "detection",
        "static_cuas_location",
        "system_name",
        "tracks",
        "vendor_name",
        "version",
    ],
    "properties": {
        "version": {"enum": ["0.4.1"]},
        "system_name": {"type": "string"},
        "vendor_name": {"type": "string"},
        "static_cuas_location": _POS3D,
        "detection": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["records"],
                "properties": {
                    "uas_id": {"type": ["integer", "null"], "minimum": 0},
                    "name": {"type": ["string", "null"]},
                    "records": {
                        "type": "array",
                        "items": _record(["classification", "record_number", "time"]),
                    },
                },
            },
        },
        "tracks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["records", "uas_id"],
                "properties": {
                    "uas_id": {"type": "integer", "minimum": 0},
                    "name": {"type": ["string", "null"]},
                    "records": {
                        "type": "array",
                        "items": _record(
                            ["alarm", "classification", "location", "record_number", "time"]
                        ),
                    },
                },
            },
        },
    },
}

SITE = Site(name="s", lat=50.0, lon=4.0, alt_m=100.0)
RADAR = Sensor(id="radar", kind="radar", lat=50.001, lon=4.0, alt_m=110.0)
RF = Sensor(id="rf", kind="rf", lat=50.0, lon=4.001, alt_m=100.0)
RID = Sensor(id="rid", kind="remoteid", lat=50.0, lon=4.0, alt_m=100.0)
T0 = 1_700_000_000.0
GEOID = 46.0


def _track(t: float, tid: str = "T1", identity=None, cls: str = "drone") -> TrackLine:
    return TrackLine(
        t=t,
        id=tid,
        lat=50.002,
        lon=4.003,
        alt_m=180.0,
        vel_enu_mps=(3.0, -4.0, 0.5),
        status="confirmed",
        class_=cls,
        class_p={cls: 0.8, "bird": 0.2} if cls != "bird" else {"bird": 0.9, "drone": 0.1},
        identity=identity,
    )


def _alert(t: float, state: str, level: str = "warning", aid: str = "A1") -> AlertLine:
    return AlertLine(t=t, id=aid, level=level, state=state, track="T1", zone="Z1", tta_s=30.0)


def _valid(doc: dict) -> None:
    errors = [e.message for e in jsonschema_rs.Draft7Validator(COURAGEOUS_0_4_1).iter_errors(doc)]
    assert not errors, errors[:5]


def test_tracks_alarms_and_heights():
    exp = Cwa18150Export(SITE, {}, geoid_m=GEOID)
    lines = [
        _track(T0),
        _alert(T0 + 1.0, "raised"),
        _track(T0 + 1.0),
        _alert(T0 + 2.0, "updated", level="info"),  # below the alarm level: not active
        _track(T0 + 2.0),
        _alert(T0 + 3.0, "cleared", level="info"),
        _track(T0 + 3.0),
        _track(T0 + 3.5, tid="T2", cls="bird"),
    ]
    doc = exp.document([], lines)
    _valid(doc)
    assert doc["static_cuas_location"] == {"height_amsl": 54.0, "lat": 50.0, "lon": 4.0}
    t1, t2 = doc["tracks"]
    assert [r["alarm"]["active"] for r in t1["records"]] == [False, True, False, False]
    assert [r["time"] for r in t1["records"]] == [1_700_000_000_000 + 1000 * i for i in range(4)]
    r = t1["records"][0]
    assert r["classification"] == "UAV" and r["alarm"]["certainty"] == 0.8
    assert r["location"] == {
        "$type": "Position3d",
        "height_amsl": 134.0,
        "lat": 50.002,
        "lon": 4.003,
    }
    assert r["velocity"] == {"east": 3.0, "north": -4.0, "up": 0.5}
    assert t2["records"][0]["classification"] == "Other"
    assert t1["uas_id"] != t2["uas_id"]
    numbers = [r["record_number"] for t in doc["tracks"] for r in t["records"]]
    assert len(set(numbers)) == len(numbers)


def test_detections_by_sensor_and_by_identity_with_operator_as_gcs():
    exp = Cwa18150Export(SITE, {s.id: s for s in (RADAR, RF, RID)}, geoid_m=GEOID)
    dets = [
        Detection(t=T0, sensor="radar", range_m=800.0, az_deg=45.0, el_deg=3.0),
        Detection(t=T0, sensor="rf", az_deg=100.0),
        Detection(
            t=T0 + 0.5,
            sensor="rid",
            lat=50.003,
            lon=4.004,
            alt_m=160.0,
            uas_id="dji:0K1",
            operator_lat=50.0005,
            operator_lon=4.0005,
            speed_mps=5.0,
            track_deg=90.0,
            vrate_mps=1.0,
        ),
    ]
    # The same UAS as a track: the same uas_id in its track and detection set.
    doc = exp.document(dets, [_track(T0 + 1.0, identity={"remoteid": "dji:0K1"})])
    _valid(doc)
    by_name = {d["name"]: d for d in doc["detection"]}
    radar = by_name["sensor radar"]
    assert radar["uas_id"] is None
    (rec,) = radar["records"]
    assert rec["location"] == {
        "$type": "BearingElevationDistance", "bearing": 45.0, "elevation": 3.0, "distance": 800.0,
    }  # fmt: skip
    assert rec["cuas_location"] == {"height_amsl": 64.0, "lat": 50.001, "lon": 4.0}
    assert by_name["sensor rf"]["records"][0]["location"] == {"$type": "Bearing", "bearing": 100.0}
    rid = by_name["remoteid dji:0K1"]
    uav, gcs = rid["records"]
    assert uav["classification"] == "UAV" and gcs["classification"] == "GCS"
    assert gcs["location"]["lat"] == 50.0005 and gcs["time"] == uav["time"]
    assert uav["velocity"]["east"] == pytest.approx(5.0) and uav["velocity"]["up"] == 1.0
    assert rid["uas_id"] == doc["tracks"][0]["uas_id"]


def test_cli_on_a_tracked_scenario(tmp_path: Path):
    scen, out, doc_path = tmp_path / "s.jsonl", tmp_path / "o.jsonl", tmp_path / "c.json"
    simulate_to_file(load_spec("single-drone"), scen, seed=1, duration_s=200)
    runner = CliRunner()
    assert runner.invoke(app, ["track", str(scen), "--out", str(out)]).exit_code == 0
    with out.open("a") as f:
        f.write('{"type": "track", "t": "not a time"}\n')  # a damaged line is counted, not fatal
    res = runner.invoke(
        app,
        ["export", "cwa18150", str(scen), str(out), "--out", str(doc_path), "--geoid-m", "47", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    doc = json.loads(doc_path.read_text())
    _valid(doc)
    assert summary["tracks"] == len(doc["tracks"]) > 0
    assert summary["active_alarm_records"] > 0  # the scenario's drone enters the zone
    assert summary["detection_records"] > 1000
    assert sum(summary["rejected_output_lines"].values()) == 1


def test_cli_refuses_a_missing_geoid():
    res = CliRunner().invoke(app, ["export", "cwa18150", "a", "b", "--out", "c"])
    assert res.exit_code != 0 and "--geoid-m" in res.output


def test_scenario_without_site_is_refused(tmp_path: Path):
    scen, out = tmp_path / "s.jsonl", tmp_path / "o.jsonl"
    with ScenarioWriter(scen) as w:
        w.write(RID)
    out.write_text("")
    res = CliRunner().invoke(
        app,
        [
            "export",
            "cwa18150",
            str(scen),
            str(out),
            "--out",
            str(tmp_path / "c.json"),
            "--geoid-m",
            "0",
        ],
    )
    assert res.exit_code == 2 and "no site" in res.output
