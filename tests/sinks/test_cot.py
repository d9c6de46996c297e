"""CoT / TAK sink: event content, rate limits, and delivery to real loopback receivers.

The receivers are plain asyncio TCP / UDP / TLS servers; every event is parsed
with takproto (XML -> TAK protocol v1 message, or the protobuf mesh framing),
independently of how the sink built it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import math
import ssl
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pytak warns that the optional aiohttp is missing
    import takproto
    from takproto.functions import xml2message

from skywarden.sinks.config import TakConfig
from skywarden.sinks.cot import CotEventBuilder, CotSink, cot_type, course_speed

from .helpers import SITE_LAT, SITE_LON, T0_S, alert, frame, make_track, scan, swarm, zone

FR = frame()


def _parse_xml_stream(buf: bytes) -> list:
    """Split a TCP byte stream into CoT events and parse each with takproto."""
    parts = buf.split(b"</event>")
    return [xml2message(p + b"</event>") for p in parts[:-1] if p.strip()]


def _by_uid(msgs) -> dict:
    return {m.cotEvent.uid: m.cotEvent for m in msgs}


def _picture(t_s: float):
    """Five tracks, one of each affiliation case, and one alert on the hostile drone."""
    tracks = [
        make_track(FR, 1, t_s, [800.0, 600.0, 120.0], [-10.0, -7.5, 0.0]),
        make_track(FR, 2, t_s, [-500.0, 200.0, 60.0], [3.0, 0.0, 1.0], cls="bird"),
        make_track(
            FR,
            3,
            t_s,
            [2000.0, -1500.0, 900.0],
            [0.0, 70.0, -3.0],
            cls="aircraft",
            identity={"icao24": "4ca7b5"},
        ),
        make_track(
            FR, 4, t_s, [100.0, 100.0, 40.0], [1.0, 1.0, 0.0], identity={"remoteid": "OWN-UAS-7"}
        ),
        make_track(FR, 5, t_s, [-1500.0, -1500.0, 300.0], [5.0, 5.0, 0.0], cls="unknown"),
    ]
    return tracks, [alert(t_s, "T1")]


def _config(url: str, **kw) -> TakConfig:
    return TakConfig(url=url, friendly_ids=["OWN-UAS-7"], zones_period_s=60.0, **kw)


def _check_picture(events: dict, tracks, t_s: float, stale_after_s: float) -> None:
    want_type = {
        "T1": "a-h-A-M-H-Q",  # drone with a critical alert: hostile rotary UAV
        "T2": "a-n-A",  # bird: generic air track, never hostile
        "T3": "a-n-A-C-F",  # cooperative civil fixed wing
        "T4": "a-f-A-M-H-Q",  # own drone on the friendly list
        "T5": "a-u-A",
    }
    want_how = {"T1": "m-r", "T2": "m-r", "T3": "m-g", "T4": "m-g", "T5": "m-r"}
    for tr in tracks:
        ev = events[f"skywarden.track.{tr.id}"]
        assert ev.type == want_type[tr.id]
        assert ev.how == want_how[tr.id]
        assert ev.lat == pytest.approx(tr.lat, abs=1e-6)
        assert ev.lon == pytest.approx(tr.lon, abs=1e-6)
        assert ev.hae == pytest.approx(tr.alt_m, abs=0.1)
        assert ev.sendTime == pytest.approx(t_s * 1000.0, abs=1.0)
        assert (ev.staleTime - ev.sendTime) / 1000.0 == pytest.approx(stale_after_s, abs=0.01)
        # Course/speed against the ground-truth velocity.
        ve, vn = tr.vel_enu_mps[0], tr.vel_enu_mps[1]
        assert ev.detail.track.speed == pytest.approx(math.hypot(ve, vn), abs=0.01)
        d = (ev.detail.track.course - math.degrees(math.atan2(ve, vn))) % 360.0
        assert min(d, 360.0 - d) < 0.1
    al = events["skywarden.alert.A-T1"]
    assert al.type == "b-a-g"
    remarks = al.detail.xmlDetail
    assert "critical" in remarks and "zone Z1" in remarks and "tta 42 s" in remarks
    assert (al.lat, al.lon) == pytest.approx((SITE_LAT + 0.004, SITE_LON), abs=1e-6)  # entry point
    zone_ev = events["skywarden.zone.Z1"]
    assert zone_ev.type == "u-d-f"
    assert zone_ev.detail.xmlDetail.count("<link ") == 5  # closed ring of a 4-vertex polygon


def test_cot_type_table():
    assert cot_type("drone", "h") == "a-h-A-M-H-Q"
    assert cot_type("drone", "u", "fixed") == "a-u-A-M-F-Q"
    assert cot_type("helicopter", "n") == "a-n-A-C-H"
    assert cot_type("aircraft", "f") == "a-f-A-C-F"
    assert cot_type("bird", "n") == "a-n-A"


def test_course_speed_against_known_headings():
    for course_deg in (0.0, 45.0, 90.0, 200.0, 359.0):
        ve, vn = (
            12.0 * math.sin(math.radians(course_deg)),
            12.0 * math.cos(math.radians(course_deg)),
        )
        c, s = course_speed((ve, vn, 3.0))
        assert s == pytest.approx(12.0)
        assert min(abs(c - course_deg), 360 - abs(c - course_deg)) < 1e-9


def test_stale_follows_update_period_and_deleted_is_stale():
    b = CotEventBuilder(_config("tcp://127.0.0.1:1", stale_factor=3.0, stale_min_s=5.0))
    assert b.stale_s(None) == 5.0
    assert b.stale_s(0.5) == 5.0
    assert b.stale_s(4.0) == 12.0
    tr = make_track(FR, 9, T0_S, [0, 0, 50], [1, 0, 0], status="deleted")
    ev = xml2message(b.track_event(tr, period_s=1.0, alert=None)).cotEvent
    assert ev.staleTime == ev.sendTime


def test_rate_limits_per_track_and_link_alerts_never_dropped():
    now = [0.0]
    cfg = _config("tcp://127.0.0.1:1", link_rate_eps=10.0, link_burst=20, min_interval_s=1.0)
    sink = CotSink(cfg, clock=lambda: now[0])
    rng = np.random.default_rng(7)
    tracks = swarm(FR, T0_S, 200, rng)
    alerts = [alert(T0_S, f"T{i}") for i in (150, 151, 152)]
    evs = [xml2message(e).cotEvent for e in sink.events_for(scan(T0_S, tracks, alerts))]
    kinds = [e.uid.split(".")[1] for e in evs]
    assert kinds.count("alert") == 3
    # Burst of 20 tokens, 3 spent on alerts: 17 tracks, and the threats go first.
    assert kinds.count("track") == 17
    sent = [e.uid.rsplit(".", 1)[1] for e in evs if ".track." in e.uid]
    assert {"T150", "T151", "T152"} <= set(sent[:3])
    assert sink.rate_limited == 200 - 17
    # Half a second later: within the per-track interval for those sent, and the
    # bucket has earned 5 tokens for the others.
    now[0] = 0.5
    evs2 = sink.events_for(scan(T0_S + 0.5, tracks))
    uids2 = {xml2message(e).cotEvent.uid for e in evs2}
    assert len(evs2) == 5
    assert not uids2 & {f"skywarden.track.{t}" for t in sent}
    # An alert still goes out with an empty bucket.
    now[0] = 0.5
    evs3 = sink.events_for(scan(T0_S + 0.6, [], [alert(T0_S + 0.6, "T7", state="updated")]))
    assert len(evs3) == 1


async def _serve_tcp(ssl_ctx=None):
    buf = bytearray()
    got = asyncio.Event()
    peers: list = []

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peercert"))
        while data := await reader.read(65536):
            buf.extend(data)
            got.set()
        writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0, ssl=ssl_ctx)
    port = server.sockets[0].getsockname()[1]
    return server, port, buf, got, peers


async def _wait_for(pred, got: asyncio.Event, timeout_s: float = 5.0) -> None:
    async def loop():
        while not pred():
            got.clear()
            await got.wait()

    await asyncio.wait_for(loop(), timeout_s)


def test_tcp_receiver_gets_tracks_alerts_zones_with_right_types_positions_stale():
    async def main():
        server, port, buf, got, _ = await _serve_tcp()
        sink = CotSink(_config(f"tcp://127.0.0.1:{port}"), zones=[zone()])
        tracks0, alerts0 = _picture(T0_S)
        tracks1, _ = _picture(T0_S + 2.0)
        await sink.handle(scan(T0_S, tracks0, alerts0))
        await sink.handle(scan(T0_S + 2.0, tracks1))
        await _wait_for(lambda: buf.count(b"</event>") >= 1 + 1 + 5 + 5, got)
        await sink.aclose()
        server.close()
        await server.wait_closed()
        return _parse_xml_stream(bytes(buf))

    msgs = asyncio.run(main())
    last = _by_uid(msgs)  # later events overwrite earlier ones of the same uid
    tracks1, _ = _picture(T0_S + 2.0)
    # Second scan: update period 2 s -> stale after max(5, 3 * 2) = 6 s.
    _check_picture(last, tracks1, T0_S + 2.0, 6.0)
    first_t1 = next(m.cotEvent for m in msgs if m.cotEvent.uid == "skywarden.track.T1")
    assert (first_t1.staleTime - first_t1.sendTime) / 1000.0 == pytest.approx(5.0)
    assert "ALERT critical" in first_t1.detail.xmlDetail  # the alert is in the track's remarks


def test_udp_receiver_xml_and_protobuf_mesh():
    async def main(protocol: str):
        loop = asyncio.get_running_loop()
        grams: list[bytes] = []
        got = asyncio.Event()

        class Rx(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                grams.append(data)
                got.set()

        transport, _ = await loop.create_datagram_endpoint(Rx, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        sink = CotSink(_config(f"udp://127.0.0.1:{port}", protocol=protocol), zones=[zone()])
        tracks, alerts = _picture(T0_S)
        await sink.handle(scan(T0_S, tracks, alerts))
        await _wait_for(lambda: len(grams) >= 7, got)
        await sink.aclose()
        transport.close()
        return grams

    for protocol in ("xml", "protobuf"):
        grams = asyncio.run(main(protocol))
        if protocol == "protobuf":
            assert all(g[:3] == b"\xbf\x01\xbf" for g in grams)  # TAK protocol v1 mesh header
        msgs = [takproto.parse_proto(bytearray(g)) for g in grams]
        assert all(m is not None for m in msgs)
        tracks, _ = _picture(T0_S)
        _check_picture(_by_uid(msgs), tracks, T0_S, 5.0)


def test_multicast_url_is_write_only_udp():
    # Sending to a multicast group needs no receiver; this checks the client builds.
    sink = CotSink(_config("udp://239.2.3.1:6969"))
    assert ipaddress.ip_address("239.2.3.1").is_multicast
    assert sink._pytak_config()["COT_URL"].startswith("udp+wo://")


def _make_pki(d: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("skywarden test CA"))
        .issuer_name(name("skywarden test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, server: bool):
        k = key()
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            b = b.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return k, b.sign(ca_key, hashes.SHA256())

    out = {}
    pem = serialization.Encoding.PEM
    for label, (k, c) in {
        "server": leaf("tak.test", True),
        "client": leaf("skywarden-site", False),
    }.items():
        out[f"{label}_cert"] = d / f"{label}.pem"
        out[f"{label}_cert"].write_bytes(c.public_bytes(pem))
        out[f"{label}_key"] = d / f"{label}.key"
        out[f"{label}_key"].write_bytes(
            k.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    out["ca"] = d / "ca.pem"
    out["ca"].write_bytes(ca.public_bytes(pem))
    return out


def test_tls_with_client_certificate(tmp_path: Path):
    pki = _make_pki(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    server_ctx.load_verify_locations(pki["ca"])
    server_ctx.verify_mode = ssl.CERT_REQUIRED  # like a TAK server's TLS port

    async def main():
        server, port, buf, got, peers = await _serve_tcp(server_ctx)
        cfg = _config(
            f"tls://127.0.0.1:{port}",
            tls_client_cert=str(pki["client_cert"]),
            tls_client_key=str(pki["client_key"]),
            tls_ca_file=str(pki["ca"]),
        )
        sink = CotSink(cfg)
        tracks, alerts = _picture(T0_S)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await sink.handle(scan(T0_S, tracks, alerts))
        await _wait_for(lambda: buf.count(b"</event>") >= 6, got)
        await sink.aclose()
        server.close()
        await server.wait_closed()
        return _parse_xml_stream(bytes(buf)), peers

    msgs, peers = asyncio.run(main())
    subject = dict(x[0] for x in peers[0]["subject"])
    assert subject["commonName"] == "skywarden-site"  # the server saw our client certificate
    events = _by_uid(msgs)
    assert events["skywarden.track.T1"].type == "a-h-A-M-H-Q"
    assert events["skywarden.alert.A-T1"].type == "b-a-g"


def test_dead_tak_server_does_not_raise_and_backs_off():
    now = [0.0]

    async def main():
        # A port nobody listens on: connection refused at once.
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        sink = CotSink(_config(f"tcp://127.0.0.1:{port}"), clock=lambda: now[0])
        tracks, alerts = _picture(T0_S)
        await sink.handle(scan(T0_S, tracks, alerts))
        first_retry = sink._next_connect_s
        await sink.handle(scan(T0_S + 1, tracks))  # within backoff: no connect attempt
        assert sink._next_connect_s == first_retry
        now[0] = first_retry + 0.01
        await sink.handle(scan(T0_S + 2, tracks))
        return sink, first_retry

    sink, first_retry = asyncio.run(main())
    assert first_retry == pytest.approx(1.0)
    assert sink._next_connect_s == pytest.approx(first_retry + 0.01 + 2.0)  # doubled
    assert sink.sent_events == 0 and sink.dropped_events > 0
