import io
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.scenario import ScenarioReader, ScenarioWriter, encode_line
from skywarden.types import Detection, FieldOfView, Sensor, Site, TruthPoint, Zone

DATA = Path(__file__).parent / "data"


def _sample_records():
    return [
        Site(name="port", lat=51.0, lon=1.0, alt_m=5.0),
        Sensor(
            id="r1",
            kind="radar",
            lat=51.0,
            lon=1.0,
            alt_m=12.0,
            pd=0.9,
            update_s=1.0,
            max_range_m=10_000.0,
            fov=FieldOfView(az_min_deg=300, az_max_deg=60, el_min_deg=0, el_max_deg=40),
            sigma_range_m=5.0,
            sigma_az_deg=0.3,
            sigma_el_deg=0.5,
            sigma_range_rate_mps=0.5,
        ),
        Sensor(id="rid", kind="remoteid", lat=51.0, lon=1.0, alt_m=5.0),
        Zone(
            id="z1",
            name="quay",
            polygon=[(1.0, 51.0), (1.01, 51.0), (1.01, 51.01), (1.0, 51.0)],
            floor_m=0.0,
            ceiling_m=500.0,
            priority=1,
        ),
        Detection(
            t=10.0, sensor="r1", range_m=1000.0, az_deg=12.5, el_deg=2.0, range_rate_mps=-3.0
        ),
        Detection(t=10.5, sensor="rid", uas_id="1581F-X", lat=51.001, lon=1.002, alt_m=80.0),
        TruthPoint(t=10.0, id="d1", class_="drone", lat=51.0, lon=1.0, alt_m=50.0, hostile=True),
    ]


def test_round_trip_file(tmp_path):
    recs = _sample_records()
    p = tmp_path / "s.jsonl"
    with ScenarioWriter(p) as w:
        w.write_all(recs)
    r = ScenarioReader(p)
    back = list(r)
    assert back == recs
    assert r.stats.n_rejected == 0
    assert r.stats.by_type["detection"] == 2
    assert r.stats.by_sensor == {"r1": 1, "rid": 1}


def test_truth_class_key_is_class_on_the_wire():
    line = encode_line(TruthPoint(t=1.0, id="b", class_="bird", lat=1, lon=2, alt_m=3))
    assert b'"class":"bird"' in line and b"class_" not in line


def test_each_broken_line_reported_with_its_reason_and_good_lines_kept():
    r = ScenarioReader(DATA / "broken.jsonl")
    recs = list(r)
    reasons = {rej.line: rej.reason for rej in r.stats.rejected}
    assert reasons == {
        4: "NaN or Infinity is not a number in JSON",
        5: "invalid JSON: unexpected end of data",
        6: "unknown sensor 'r9'",
        7: "radar detection is missing 'range_m'",
        8: "Expected 'float | null', got 'str' at 'range_m'",
        9: "Expected 'float' >= 0.0 at 'range_m'",
        11: "Expected 'float' <= 90.0 at 'lat'",
        13: "line is not a JSON object",
        14: "missing key 'type'",
    }
    dets = [x for x in recs if isinstance(x, Detection)]
    assert [d.t for d in dets] == [1.0, 2.0]
    assert dets[1].az_deg == pytest.approx(350.0)  # wrapped into [0, 360)
    assert r.stats.ignored == 1
    assert any("unknown key 'colour'" in w for w in r.stats.warnings)
    assert any("unknown line type 'weather'" in w for w in r.stats.warnings)


def test_unknown_key_warned_once_per_key(tmp_path):
    p = tmp_path / "s.jsonl"
    lines = ['{"type":"site","name":"s","lat":1,"lon":2,"alt_m":0}']
    lines += ['{"type":"sensor","id":"p","kind":"position","lat":1,"lon":2,"alt_m":0}']
    lines += [
        f'{{"type":"detection","t":{i},"sensor":"p","lat":1,"lon":2,"alt_m":3,"x":1}}'
        for i in range(5)
    ]
    p.write_text("\n".join(lines) + "\n")
    r = ScenarioReader(p)
    assert sum(isinstance(x, Detection) for x in r) == 5
    assert sum("unknown key 'x'" in w for w in r.stats.warnings) == 1


def test_sensor_declared_after_its_detections_in_a_file(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(
        '{"type":"detection","t":1,"sensor":"c","az_deg":10,"el_deg":5}\n'
        '{"type":"sensor","id":"c","kind":"camera","lat":1,"lon":2,"alt_m":0}\n'
    )
    r = ScenarioReader(p)
    assert sum(isinstance(x, Detection) for x in r) == 1
    assert r.stats.n_rejected == 0


def test_stream_requires_declaration_first():
    data = (
        b'{"type":"detection","t":1,"sensor":"c","az_deg":10,"el_deg":5}\n'
        b'{"type":"sensor","id":"c","kind":"camera","lat":1,"lon":2,"alt_m":0}\n'
        b'{"type":"detection","t":2,"sensor":"c","az_deg":10,"el_deg":5}\n'
    )
    r = ScenarioReader(io.BytesIO(data))
    assert [x.t for x in r if isinstance(x, Detection)] == [2.0]
    assert r.stats.rejected[0].reason == "unknown sensor 'c'"


def test_out_of_order_detections_are_counted_not_dropped(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(
        '{"type":"sensor","id":"c","kind":"rf","lat":1,"lon":2,"alt_m":0}\n'
        '{"type":"detection","t":5,"sensor":"c","az_deg":10}\n'
        '{"type":"detection","t":4,"sensor":"c","az_deg":11}\n'
    )
    r = ScenarioReader(p)
    assert len([x for x in r if isinstance(x, Detection)]) == 2
    assert r.stats.out_of_order == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_never_raise(raw):
    data = b'{"type":"sensor","id":"c","kind":"radar","lat":1,"lon":2,"alt_m":0}\n' + raw + b"\n"
    data += b'{"type":"detection","t":9,"sensor":"c","range_m":5,"az_deg":1,"el_deg":1}\n'
    r = ScenarioReader(io.BytesIO(data))
    recs = list(r)
    assert isinstance(recs[-1], Detection) and recs[-1].t == 9.0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0, 1e10),
    st.floats(0, 1e6),
    st.floats(0, 359.99),
    st.floats(-90, 90),
    st.one_of(st.none(), st.floats(-1000, 1000)),
)
def test_detection_round_trip_property(t, rng, az, el, rr):
    d = Detection(t=t, sensor="r", range_m=rng, az_deg=az, el_deg=el, range_rate_mps=rr)
    assert msgspec.json.decode(encode_line(d), type=Detection) == d


def test_adsb_emitter_category_is_checked_and_a_bad_one_rejected_alone(tmp_path):
    p = tmp_path / "s.jsonl"
    sensor = '{"type":"sensor","id":"a","kind":"adsb","lat":51.0,"lon":1.0,"alt_m":0.0}'
    det = '{"type":"detection","t":%s,"sensor":"a","icao24":"abc123","lat":51.0,"lon":1.0,"alt_m":300.0%s}'
    p.write_text(
        "\n".join(
            [
                sensor,
                det % (1.0, ',"emitter_cat":"A7"'),
                det % (2.0, ',"emitter_cat":"<b>A7</b>"'),
                det % (3.0, ',"emitter_cat":"A0"'),
                det % (4.0, ""),
            ]
        )
        + "\n"
    )
    r = ScenarioReader(p)
    dets = [x for x in r if isinstance(x, Detection)]
    assert [(d.t, d.emitter_cat) for d in dets] == [(1.0, "A7"), (4.0, None)]
    assert sorted(rej.line for rej in r.stats.rejected) == [3, 4]
    assert all("emitter_cat" in rej.reason for rej in r.stats.rejected)
