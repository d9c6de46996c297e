"""The listening inputs come from one table over the ``sources`` config."""

from __future__ import annotations

import time

from skywarden.config import SourcesConfig
from skywarden.scenario import Header
from skywarden.sources.base import RejectionCounter
from skywarden.sources.listeners import SourceContext, listeners
from skywarden.sources.live import AsterixInput, RemoteIdInput
from skywarden.types import Sensor, Site


def _ctx() -> SourceContext:
    radar = Sensor(id="psr", kind="radar", lat=51.0, lon=1.0, alt_m=20.0)
    header = Header(site=Site(name="s", lat=51.0, lon=1.0, alt_m=0.0), sensors={"psr": radar})
    return SourceContext(
        header=header, on_record=lambda r: None, rejections=RejectionCounter(),
        clock=time.time, config_sensors=frozenset({"psr"}), add_sensor=lambda s: None,
        on_status=lambda s: None, site_name="s",
    )  # fmt: skip


def test_every_configured_input_is_one_listener_with_its_own_key():
    src = SourcesConfig(
        jsonl_tcp_port=0, jsonl_udp_port=0, sapient_port=0,
        asterix48=[AsterixInput(sensor="psr", port=0)],
        remoteid=[RemoteIdInput(sensor="rid-a", port=0), RemoteIdInput(sensor="rid-b", port=0)],
    )  # fmt: skip
    got = listeners(src, _ctx())
    assert [lst.key for lst in got] == [
        "jsonl_tcp", "jsonl_udp", "sapient", "asterix48:psr", "remoteid:rid-a", "remoteid:rid-b",
    ]  # fmt: skip
    # Set-aside and anonymous counts are the inputs' own counters (read by /metrics).
    assert got[3].ignored is got[3].endpoint.ignored
    assert got[4].anonymous is not None and got[4].anonymous is not got[5].anonymous


def test_inputs_left_out_of_the_config_are_not_built():
    src = SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None)
    assert listeners(src, _ctx()) == []
