"""Site config validation: every numeric setting has a range, ids are unique, zones are checked once."""

from __future__ import annotations

from pathlib import Path

import msgspec
import orjson
import pytest
import yaml

from skywarden.config import _RANGES, ConfigError, load_config
from skywarden.threat.assess import ThreatConfig
from skywarden.threat.zones import ZoneError, feature_to_zone, feature_to_zones, load_geojson
from skywarden.tracking.config import TrackerConfig
from skywarden.types import Rejected

EXAMPLE = Path(__file__).parents[2] / "examples" / "site.yaml"


def with_changes(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    change(doc)
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def setter(path: str, value):
    def change(doc):
        *parents, key = path.split(".")
        node = doc
        for k in parents:
            node = node.setdefault(k, {})
        node[key] = value

    return change


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sources.queue_size", 0),
        ("sources.queue_size", -5),
        ("sources.replay_speed", 0.0),
        ("sources.jsonl_tcp_port", 70_000),
        ("sources.jsonl_tcp.max_connections", 0),
        ("sources.jsonl_udp.max_lines_per_s", -1.0),
        ("store.retention_s", -1.0),
        ("server.port", 0),
        ("threat.critical_horizon_s", -10.0),
        ("threat.critical_horizon_s", float("nan")),
        ("threat.warning_horizon_s", float("inf")),
        ("threat.drone_p", 1.5),
        ("tracker.reorder_window_s", 1e9),
        ("tracker.reorder_window_s", -0.1),
        ("tracker.gate_p", 1.0),
        ("tracker.sigma_a_mps2", [1.5, float("nan")]),
        ("engine.output_interval_s", 0.0),
        ("threat.loose_zone_margin_s", -1.0),
        ("threat.loiter_range_m", float("nan")),
        ("threat.handover_max_gate_m", -600.0),
        ("tracker.jpda_used_p", 2.0),
        ("tracker.rf_corroborate_window_s", -1.0),
        ("tracker.rf_corroborate_n_sigma", 0.0),
        ("tracker.rf_corroborate_n_sigma", float("nan")),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_key(tmp_path, key, value):
    p = with_changes(tmp_path, setter(key, value))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert key.split(".")[-1] in str(e.value)


def test_warning_horizon_below_critical_is_refused(tmp_path):
    p = with_changes(tmp_path, setter("threat.warning_horizon_s", 60.0))
    with pytest.raises(ConfigError, match="warning_horizon_s"):
        load_config(p)


def test_duplicate_sensor_and_zone_ids_are_refused(tmp_path):
    p = with_changes(tmp_path, lambda d: d["sensors"].append(dict(d["sensors"][0])))
    with pytest.raises(ConfigError, match="sensor 'radar-1' is declared twice"):
        load_config(p)
    p = with_changes(tmp_path, lambda d: d["zones"].append(dict(d["zones"][0])))
    with pytest.raises(ConfigError, match="zone 'Z1' is declared twice"):
        load_config(p)


@pytest.mark.parametrize(
    ("polygon", "limits", "reason"),
    [
        ([[1.848, 50.962], [1.862, 50.962]], {}, "3 distinct"),
        ([[1.848, 50.962], [1.862, 50.969], [1.862, 50.962], [1.848, 50.969]], {}, "self-inter"),
        ([[1.848, 50.962], [1.85, 50.962], [1.86, 50.962]], {}, "no area"),
        ([[179.9, 50.0], [-179.9, 50.0], [-179.9, 50.1]], {}, "antimeridian"),
        (None, {"floor_m": 500.0, "ceiling_m": 100.0}, "ceiling_m"),
    ],
)
def test_serve_refuses_bad_zones_inline_and_from_geojson(tmp_path, polygon, limits, reason):
    def change(doc):
        if polygon is not None:
            doc["zones"][0]["polygon"] = polygon
        doc["zones"][0].update(limits)

    with pytest.raises(ConfigError, match=reason):
        load_config(with_changes(tmp_path, change))
    # The same zone as a GeoJSON feature, through the one codec.
    z = yaml.safe_load(EXAMPLE.read_text())["zones"][0]
    change({"zones": [z]})
    ring = [*z["polygon"], z["polygon"][0]]
    feature = {
        "type": "Feature",
        "id": "Z9",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": "n", "floor_m": z["floor_m"], "ceiling_m": z["ceiling_m"]},
    }
    gj = tmp_path / "zones.geojson"
    gj.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(ZoneError, match=reason):
        load_geojson(gj)
    rejected = feature_to_zone(feature)
    assert isinstance(rejected, Rejected) and reason in rejected.reason
    p = with_changes(tmp_path, lambda d: d.update(zones_geojson=str(gj)))
    with pytest.raises(ConfigError, match=reason):
        load_config(p)


def test_one_codec_reads_polygon_and_multipolygon_features():
    ring = [[1.0, 51.0], [1.01, 51.0], [1.01, 51.01], [1.0, 51.0]]
    props = {"floor_m": 0.0, "ceiling_m": 100.0, "name": "n"}
    poly = {"type": "Feature", "id": "A", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": props}  # fmt: skip
    multi = {**poly, "geometry": {"type": "MultiPolygon", "coordinates": [[ring], [ring]]}}
    assert [z.id for z in feature_to_zones(poly)] == ["A"]
    assert [z.id for z in feature_to_zones(multi)] == ["A-1", "A-2"]
    one = feature_to_zone(poly)
    assert not isinstance(one, Rejected) and one.id == "A"
    assert isinstance(feature_to_zone(multi), Rejected)  # the API takes one zone per Feature
    for bad in (
        {**poly, "properties": {**props, "floor_m": float("nan")}},
        {**poly, "properties": {**props, "ceiling_m": "high"}},
        {**poly, "geometry": {"type": "Polygon", "coordinates": [[[1.0], [2.0], [3.0]]]}},
        {**poly, "geometry": {"type": "Polygon", "coordinates": [ring, ring]}},
        {**poly, "geometry": {"type": "Point", "coordinates": [1.0, 51.0]}},
        {**poly, "geometry": None},
        [1, 2],
    ):
        assert isinstance(feature_to_zone(bad), Rejected)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (setter("sources.jsonl_tcp.sensors", ["radar-9"]), "'radar-9' is not a declared sensor"),
        (setter("sources.jsonl_udp.secret_env", "X"), "UDP cannot check a secret"),
        (setter("sources.jsonl_tcp.secret_env", "SKYWARDEN_NO_SUCH_VAR"), "is not set"),
        (setter("sources.jsonl_tcp.tls_cert_file", "cert.pem"), "go together"),
        (setter("sources.jsonl_tcp.tls_client_ca_file", "ca.pem"), "needs tls_cert_file"),
        (setter("sources.jsonl_udp.tls_cert_file", "cert.pem"), "UDP cannot use TLS"),
        (
            lambda d: d["sources"].update(
                jsonl_tcp={"tls_cert_file": "/nonexistent.pem", "tls_key_file": "/nonexistent.key"}
            ),
            "cannot load the TLS files",
        ),
    ],
)
def test_listener_rules_are_checked(tmp_path, change, reason):
    with pytest.raises(ConfigError, match=reason):
        load_config(with_changes(tmp_path, change))


def test_a_listener_may_name_sensors_it_will_register(tmp_path):
    def change(doc):
        doc["sources"]["jsonl_tcp"] = {"sensors": ["radar-1", "rf-9"], "allow_register": True}

    cfg = load_config(with_changes(tmp_path, change))
    assert cfg.sources.jsonl_tcp.sensors == ["radar-1", "rf-9"]


def test_a_deeply_nested_or_binary_config_is_a_config_error(tmp_path):
    p = tmp_path / "site.yaml"
    p.write_text("site: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError):
        load_config(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError):
        load_config(p)


def test_every_numeric_threat_and_tracker_setting_has_a_range():
    """The README promises a range for every numeric setting of the site config."""
    for section, cls in (("threat", ThreatConfig), ("tracker", TrackerConfig)):
        for f in msgspec.structs.fields(cls):
            if f.type in (float, int):
                assert f"{section}.{f.name}" in _RANGES, f"{section}.{f.name} has no range"
