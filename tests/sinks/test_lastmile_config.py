"""The README's CAP, MQTT and escalation config examples decode, and a service wires them."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from skywarden.config import SiteConfig
from skywarden.service import Service
from skywarden.sinks.cap import CapFeed, CapReceiverSink
from skywarden.sinks.config import SinksConfig, build_sinks
from skywarden.sinks.escalation import Escalator
from skywarden.sinks.mqtt import MqttSink
from skywarden.sinks.webhook import WebhookSink
from skywarden.types import Site

from .helpers import SITE_ALT_M, SITE_LAT, SITE_LON, T0_S, alert, frame, zone
from .test_cap_sign import KEYS, write_pair

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_blocks() -> dict[str, dict]:
    """The YAML block under each of the three README subsections, by subsection key."""
    text = README.read_text(encoding="utf-8")
    out = {}
    for key in ("sinks.cap", "sinks.mqtt", "sinks.escalation"):
        section = text[text.index(f"(`{key}`)") :]
        block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
        out[key] = yaml.safe_load(block)["sinks"]
    return out


def test_readme_examples_decode_and_build(monkeypatch, tmp_path):
    monkeypatch.setenv("CAP_TOKEN", "t")
    monkeypatch.setenv("MQTT_PASSWORD", "p")
    monkeypatch.setenv("CAP_KEY_PASSWORD", "k")
    merged: dict = {}
    for part in _readme_blocks().values():
        merged.update(part)
    # The example's signing files, made here: an encrypted key, as its key_password_env says.
    sign, _ = write_pair(tmp_path, KEYS["ecdsa"](), password=b"k")
    for where in (merged["cap"]["feed_sign"], merged["cap"]["receivers"][0]["sign"]):
        where.update(key_file=sign.key_file, cert_file=sign.cert_file)
    merged["cap"]["feed_sign"]["key_password_env"] = "CAP_KEY_PASSWORD"
    cfg = msgspec.convert(merged, SinksConfig)
    assert cfg.cap.receivers[0].min_level == "warning" and cfg.mqtt[0].qos == 1
    assert cfg.escalation.after_s == {"critical": 60.0, "warning": 300.0}
    sinks = build_sinks(
        msgspec.structs.replace(cfg, mqtt=[msgspec.structs.replace(cfg.mqtt[0], tls=False)]),
        frame(), site_name="port", zones=[zone()], rng=np.random.default_rng(0),
    )  # fmt: skip
    assert [type(s) for s in sinks] == [CapFeed, CapReceiverSink, MqttSink]
    feed = sinks[0]
    assert isinstance(feed, CapFeed) and feed.signer is not None
    m = feed.apply(alert(T0_S, "T1"))
    assert m is not None and b"<ds:Signature" in m.xml


def test_bad_values_are_refused_with_a_reason():
    with pytest.raises(msgspec.ValidationError, match="sender"):
        msgspec.convert({"cap": {"sender": "a, b"}}, SinksConfig)
    with pytest.raises(msgspec.ValidationError, match="qos"):
        msgspec.convert({"mqtt": [{"host": "h", "qos": 3}]}, SinksConfig)
    with pytest.raises(msgspec.ValidationError, match="after_s"):
        msgspec.convert({"escalation": {"after_s": {"critical": -1}}}, SinksConfig)


def test_service_serves_the_feed_and_escalates(tmp_path):
    cfg = msgspec.convert(
        {
            "site": msgspec.to_builtins(
                Site(name="t5", lat=SITE_LAT, lon=SITE_LON, alt_m=SITE_ALT_M)
            ),
            "store": {"path": str(tmp_path / "s.db")},
            "sinks": {
                "cap": {"feed": True},
                "escalation": {
                    "after_s": {"critical": 30},
                    "webhooks": [{"url": "http://127.0.0.1:9/duty", "secret": "s"}],
                },
            },
        },
        SiteConfig,
    )
    now = [1_800_000_000.0]
    svc = Service(cfg, clock=lambda: now[0])
    try:
        (esc,) = [s for s in svc.sinks if isinstance(s, Escalator)]
        assert [type(c) for c in esc.channels] == [WebhookSink]
        token = svc.store.create_token("viewer", "vera")
        svc.dispatch_alerts([alert(T0_S, "T1")])
        c = TestClient(svc.app)
        assert c.get("/cap/feed.atom").status_code == 401
        r = c.get("/cap/feed.atom", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and b"A-T1" in r.content
        now[0] += 31.0
        assert [e.alert_id for e in esc.check(now[0])] == ["A-T1"]
        (a,) = c.get("/api/alerts?open=true", headers={"Authorization": f"Bearer {token}"}).json()[
            "alerts"
        ]
        assert a["escalated"]["to"] == "webhook:http://127.0.0.1:9/duty"
    finally:
        svc.store.close()


def test_mqtt_topic_prefix_cannot_hold_wildcards():
    with pytest.raises(msgspec.ValidationError, match="topic_prefix"):
        msgspec.convert({"mqtt": [{"host": "h", "topic_prefix": "a/#"}]}, SinksConfig)
