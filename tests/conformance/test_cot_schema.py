"""Every CoT event the TAK sink emits for a scenario passes the CoT 2.0 schema and TAK protocol v1.

Two independent checks on every event (tracks, alerts and zones of simulated
scenarios run through the real tracker and the real ``CotSink``):

- XML: validated by ``xmlschema`` and by ``lxml`` (libxml2) against
  ``cot_event_2_0.xsd``, the CoT 2.0 base-event constraints written out from
  MITRE's documentation (MITRE's own XSD is in no package registry; the
  schema's header says what it enforces and why), plus the ordering rule XSD
  1.0 cannot state: time <= stale.
- TAK protocol v1: the event is converted by takproto, whose message classes are
  compiled from ATAK-CIV's ``.proto`` files, framed as a mesh (UDP) message,
  parsed back, and every field the protobuf schema carries must equal the XML.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

lxml_etree = pytest.importorskip("lxml.etree")
xmlschema = pytest.importorskip("xmlschema")
takproto = pytest.importorskip("takproto")

from skywarden.runner import run_file  # noqa: E402
from skywarden.scenario import ScenarioReader  # noqa: E402
from skywarden.sim import load_spec, simulate_to_file  # noqa: E402
from skywarden.sinks.config import TakConfig  # noqa: E402
from skywarden.sinks.cot import CotSink  # noqa: E402
from skywarden.types import ScanOutput  # noqa: E402

XSD = Path(__file__).with_name("cot_event_2_0.xsd")


def _ms(text: str) -> int:
    return round(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _events(tmp_path: Path, name: str, duration_s: float) -> list[bytes]:
    spec = load_spec(name)
    scen = tmp_path / f"{name}.jsonl"
    simulate_to_file(spec, scen, seed=3, duration_s=duration_s)
    outputs: list[ScanOutput] = []
    run_file(scen, None, on_output=outputs.append)
    zones = list(ScenarioReader(scen).header.zones)
    sink = CotSink(TakConfig(url="tcp://127.0.0.1:9"), zones=zones)
    events = sink.zone_events(outputs[0].t_s)
    for o in outputs:
        events += sink.events_for(o)
    return events


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> list[bytes]:
    tmp = tmp_path_factory.mktemp("cot")
    return _events(tmp, "single-drone", 240) + _events(tmp, "airport", 90)


def test_every_event_validates_against_the_cot_schema(events):
    xs = xmlschema.XMLSchema10(XSD)
    lx = lxml_etree.XMLSchema(lxml_etree.parse(str(XSD)))
    kinds: Counter[str] = Counter()
    for xml in events:
        doc = lxml_etree.fromstring(xml)
        assert lx.validate(doc), (lx.error_log.last_error, xml)
        xs.validate(xml.decode())
        assert _ms(doc.get("time")) <= _ms(doc.get("stale"))
        assert _ms(doc.get("start")) <= _ms(doc.get("stale"))
        kinds[doc.get("uid").split(".")[1]] += 1
    # The scenarios exercise every kind of event the sink sends.
    assert kinds["track"] > 100 and kinds["alert"] >= 1 and kinds["zone"] >= 1, kinds


def test_schema_rejects_what_cot_forbids(events):
    lx = lxml_etree.XMLSchema(lxml_etree.parse(str(XSD)))
    good = events[0].decode()
    for bad in (
        good.replace('version="2.0"', 'version="1.0"'),
        good.replace('lat="', 'lat="9', 1),  # latitude beyond 90
        good.replace('Z"', '"', 1),  # time without the UTC designator
        good.replace('how="', 'how="-', 1),
        good.replace("<point", "<pointx", 1).replace("</point>", "</pointx>"),
    ):
        assert not lx.validate(lxml_etree.fromstring(bad.encode())), bad


def test_every_event_survives_tak_protocol_v1(events):
    for xml in events:
        doc = lxml_etree.fromstring(xml)
        mesh = bytes(takproto.xml2proto(xml.decode(), takproto.TAKProtoVer.MESH))
        assert mesh[:3] == b"\xbf\x01\xbf"  # TAK protocol v1 mesh header
        ev = takproto.parse_proto(bytearray(mesh)).cotEvent
        assert (ev.uid, ev.type, ev.how) == (doc.get("uid"), doc.get("type"), doc.get("how"))
        assert ev.sendTime == _ms(doc.get("time"))
        assert ev.startTime == _ms(doc.get("start"))
        assert ev.staleTime == _ms(doc.get("stale"))
        pt = doc.find("point")
        for f in ("lat", "lon", "hae", "ce", "le"):
            assert getattr(ev, f) == float(pt.get(f)), f
        contact = doc.find("detail/contact")
        if contact is not None:
            assert ev.detail.contact.callsign == contact.get("callsign")
        track = doc.find("detail/track")
        if track is not None:
            assert ev.detail.track.speed == float(track.get("speed"))
            assert ev.detail.track.course == float(track.get("course"))
