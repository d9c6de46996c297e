"""The sinks' config slice: typed decode from YAML and the factory."""

from __future__ import annotations

import msgspec
import pytest
import yaml

from skywarden.sinks.asterix62 import Asterix62Sink
from skywarden.sinks.config import SinksConfig, build_sinks
from skywarden.sinks.cot import CotSink
from skywarden.sinks.sapient_out import SapientOutSink
from skywarden.sinks.webhook import WebhookSink

from .helpers import frame, zone

YAML = """
tak:
  - url: udp://239.2.3.1:6969
  - url: tls://tak.example.org:8089
    tls_client_cert: site.pem
    tls_client_key: site.key
    protocol: protobuf
sapient:
  - host: c2.example.org
    port: 12000
asterix62:
  - host: 127.0.0.1
    port: 8600
    sac: 25
    sic: 7
webhooks:
  - url: https://ops.example.org/hooks/skywarden
    secret_env: SKYWARDEN_TEST_HOOK_SECRET
"""


def test_build_sinks_from_yaml(monkeypatch):
    monkeypatch.setenv("SKYWARDEN_TEST_HOOK_SECRET", "s3cret")
    cfg = msgspec.convert(yaml.safe_load(YAML), SinksConfig)
    sinks = build_sinks(cfg, frame(), site_name="heathrow", zones=[zone()])
    kinds = [type(s) for s in sinks]
    assert kinds == [CotSink, CotSink, SapientOutSink, Asterix62Sink, WebhookSink]
    assert sinks[0].zones[0].id == "Z1"
    assert len({s.name for s in sinks}) == 5
    # The node id is derived from the site name, the same at every start.
    again = build_sinks(cfg, frame(), site_name="heathrow")
    assert sinks[2].encoder.node_id == again[2].encoder.node_id
    assert build_sinks(SinksConfig(), frame()) == []


def test_bad_config_names_the_path_and_missing_secret_is_an_error(monkeypatch):
    with pytest.raises(msgspec.ValidationError, match=r"\$\.asterix62\[0\]\.sac"):
        msgspec.convert(
            {"asterix62": [{"host": "h", "port": 1, "sac": 300, "sic": 1}]}, SinksConfig
        )
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"tak": [{"url": "tcp://h:1", "aim_at": "x"}]}, SinksConfig)
    monkeypatch.delenv("SKYWARDEN_TEST_HOOK_SECRET", raising=False)
    cfg = msgspec.convert(yaml.safe_load(YAML), SinksConfig)
    with pytest.raises(ValueError, match="SKYWARDEN_TEST_HOOK_SECRET"):
        build_sinks(cfg, frame())
