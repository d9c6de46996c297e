from pathlib import Path

import pytest

from skywarden.config import ConfigError, load_config
from skywarden.threat.zones import ZoneError

EXAMPLE = Path(__file__).parent.parent / "examples" / "site.yaml"


def test_example_site_config_is_valid():
    cfg = load_config(EXAMPLE)
    assert cfg.site.name == "harbour"
    assert {s.kind for s in cfg.sensors} == {"radar", "rf", "camera", "remoteid", "adsb"}
    assert cfg.zones[0].priority == 1
    assert cfg.sources.sapient_port == 5020
    assert cfg.sinks.webhooks[0].levels == ["warning", "critical"]


def test_bad_field_is_named_with_its_path(tmp_path):
    p = tmp_path / "site.yaml"
    p.write_text(EXAMPLE.read_text().replace("kind: camera", "kind: periscope"))
    with pytest.raises(ConfigError, match=r"\$\.sensors\[2\]\.kind"):
        load_config(p)


def test_engine_worker_is_thread_or_process(tmp_path):
    assert load_config(EXAMPLE).engine.worker == "process"
    p = tmp_path / "site.yaml"
    p.write_text(EXAMPLE.read_text().replace("worker: process", "worker: subprocess; rm -rf /"))
    with pytest.raises(ConfigError, match=r"\$\.engine\.worker"):
        load_config(p)


def test_unknown_section_is_refused(tmp_path):
    p = tmp_path / "site.yaml"
    p.write_text(EXAMPLE.read_text() + "\nweapons: {}\n")
    with pytest.raises(ConfigError, match="weapons"):
        load_config(p)


def test_unreadable_yaml_is_a_config_error(tmp_path):
    p = tmp_path / "site.yaml"
    p.write_text("site: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(p)


def test_live_zone_edit_that_crosses_the_antimeridian_is_refused(tmp_path):
    from skywarden.runner import build_engine
    from skywarden.scenario import Header
    from skywarden.types import Zone

    cfg = load_config(EXAMPLE)
    eng = build_engine(
        Header(site=cfg.site, sensors={s.id: s for s in cfg.sensors}, zones=cfg.zones)
    )
    bad = Zone(
        id="Zx",
        name="x",
        polygon=[(179.0, 0.0), (-179.0, 0.0), (-179.0, 1.0)],
        floor_m=0,
        ceiling_m=10,
    )
    with pytest.raises(ZoneError):
        eng.set_zones([bad])


def test_interface_input_must_name_a_sensor_of_its_kind(tmp_path):
    p = tmp_path / "site.yaml"
    p.write_text(
        EXAMPLE.read_text().replace(
            "  sapient_port: 5020",
            "  sapient_port: 5020\n  asterix48: [{sensor: cam-1, port: 8600}]",
        )
    )
    with pytest.raises(ConfigError, match=r"\$\.sources\.asterix48\[0\]\.sensor"):
        load_config(p)
