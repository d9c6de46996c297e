"""Who may speak on the live JSON Lines ports, and how much: the in-process service, real sockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from skywarden.config import SiteConfig, SourcesConfig, StoreConfig
from skywarden.scenario import encode_line
from skywarden.service import Service
from skywarden.sources.jsonl import ListenerConfig
from skywarden.types import Detection, Sensor, Site

SITE = Site(name="test-site", lat=51.0, lon=1.0, alt_m=20.0)
RADAR = Sensor(
    id="radar-1", kind="radar", lat=51.0, lon=1.0, alt_m=30.0, update_s=1.0,
    max_range_m=20_000.0, sigma_range_m=10.0, sigma_az_deg=0.3, sigma_el_deg=0.3,
)  # fmt: skip
RF = Sensor(id="rf-1", kind="rf", lat=51.01, lon=1.0, alt_m=30.0, sigma_az_deg=2.0)
#: The issue's payload: the site's radar redeclared as an RF sensor at 0, 0.
REDECLARE = (
    b'{"type":"sensor","id":"radar-1","kind":"rf","lat":0,"lon":0,"alt_m":0,"sigma_az_deg":1}\n'
)
DEEP = b'{"a":' * 1200 + b"1" + b"}" * 1200


def det(sensor: str = "radar-1", t: float | None = None) -> bytes:
    t = time.time() if t is None else t
    if sensor.startswith("rf"):
        return encode_line(Detection(t=t, sensor=sensor, az_deg=10.0)) + b"\n"
    return (
        encode_line(Detection(t=t, sensor=sensor, range_m=900.0, az_deg=10.0, el_deg=2.0)) + b"\n"
    )


def config(tmp_path: Path, tcp: ListenerConfig | None = None, udp: ListenerConfig | None = None):
    return SiteConfig(
        site=SITE,
        sensors=[RADAR, RF],
        sources=SourcesConfig(
            jsonl_tcp_port=0,
            jsonl_udp_port=0,
            jsonl_tcp=tcp or ListenerConfig(),
            jsonl_udp=udp or ListenerConfig(),
        ),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )


async def closed_by_server(r: asyncio.StreamReader) -> bool:
    """The server closed the connection (an end of stream, or a reset if data was unread)."""
    try:
        return await asyncio.wait_for(r.read(), 10) == b""
    except ConnectionResetError:
        return True


async def until(cond, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.01)


def run(tmp_path: Path, body, **cfg):
    async def main():
        service = Service(config(tmp_path, **cfg))
        await service.start()
        try:
            return await body(service)
        finally:
            await service.stop()

    return asyncio.run(main())


async def tcp_send(service: Service, data: bytes, *, close: bool = True):
    r, w = await asyncio.open_connection("127.0.0.1", service.ports["jsonl_tcp"])
    w.write(data)
    await w.drain()
    if close:
        w.close()
    return r, w


async def udp_send(service: Service, *datagrams: bytes) -> None:
    loop = asyncio.get_running_loop()
    tr, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", service.ports["jsonl_udp"])
    )
    for d in datagrams:
        tr.sendto(d)
    tr.close()


def test_a_configured_sensor_cannot_be_redeclared_from_the_network(tmp_path):
    async def body(s: Service):
        await tcp_send(s, REDECLARE)
        await udp_send(s, REDECLARE)
        await until(lambda: s.jsonl_tcp.stats.n_rejected and s.jsonl_udp.stats.n_rejected)
        return s

    s = run(tmp_path, body)
    assert s.header.sensors["radar-1"] == RADAR
    assert s.engine.tracker.sensors["radar-1"].kind == "radar"  # type: ignore[attr-defined]
    assert "not accepted" in s.jsonl_tcp.stats.rejected[0].reason
    counts = s.rejections.by_source()
    assert counts["jsonl-tcp"] == 1 and counts["jsonl-udp"] == 1


def test_even_with_live_registration_a_config_sensor_is_never_replaced(tmp_path):
    new = Sensor(id="rf-9", kind="rf", lat=51.02, lon=1.0, alt_m=5.0, sigma_az_deg=3.0)

    async def body(s: Service):
        await tcp_send(s, REDECLARE + encode_line(new) + b"\n" + det("rf-9"))
        await until(lambda: s.metrics.detections_received == 1)
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(allow_register=True))
    assert s.header.sensors["radar-1"] == RADAR and s.header.sensors["rf-9"] == new
    assert [r.reason for r in s.jsonl_tcp.stats.rejected] == [
        "sensor 'radar-1' is declared in the site config and cannot be redeclared"
    ]


def test_a_sapient_style_registration_cannot_replace_a_config_sensor(tmp_path):
    async def body(s: Service):
        s.add_sensor(Sensor(id="radar-1", kind="rf", lat=0.0, lon=0.0, alt_m=0.0))
        return s

    s = run(tmp_path, body)
    assert s.header.sensors["radar-1"] == RADAR
    assert s.rejections.by_source() == {"sensor registration": 1}


def test_a_listener_takes_detections_only_for_its_own_sensors(tmp_path):
    async def body(s: Service):
        await tcp_send(s, det("rf-1") + det("radar-1"))
        await udp_send(s, det("radar-1") + det("rf-1"))
        await until(lambda: s.metrics.detections_received == 2)
        await until(lambda: s.jsonl_tcp.stats.n_rejected + s.jsonl_udp.stats.n_rejected == 2)
        return s

    s = run(
        tmp_path, body,
        tcp=ListenerConfig(sensors=["radar-1"]), udp=ListenerConfig(sensors=["rf-1"]),
    )  # fmt: skip
    assert [r.reason for r in s.jsonl_tcp.stats.rejected] == [
        "sensor 'rf-1' may not send on this listener"
    ]
    assert [r.reason for r in s.jsonl_udp.stats.rejected] == [
        "sensor 'radar-1' may not send on this listener"
    ]


def test_a_tcp_secret_must_come_first(tmp_path, monkeypatch):
    monkeypatch.setenv("JSONL_SECRET", "correct horse")
    good = b'{"type":"auth","secret":"correct horse"}\n'

    async def body(s: Service):
        for first in (b'{"type":"auth","secret":"wrong"}\n', det(), b"hello\n"):
            r, _ = await tcp_send(s, first + det(), close=False)
            assert await closed_by_server(r)
        await tcp_send(s, good + det() + det())
        await until(lambda: s.metrics.detections_received == 2)
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(secret_env="JSONL_SECRET"))
    assert [r.reason for r in s.jsonl_tcp.stats.rejected] == [
        "wrong secret; closed",
        "first line is not the secret line; closed",
        "first line is not the secret line; closed",
    ]


def test_a_silent_peer_is_closed_after_the_handshake_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("JSONL_SECRET", "s")

    async def body(s: Service):
        r, w = await tcp_send(s, b"", close=False)
        assert await closed_by_server(r)
        w.close()
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(secret_env="JSONL_SECRET", handshake_timeout_s=0.2))
    assert s.jsonl_tcp.stats.rejected[0].reason == "no secret line in time; closed"


def test_connections_beyond_the_cap_are_closed_and_readers_go_with_their_connection(tmp_path):
    async def body(s: Service):
        held = [await tcp_send(s, det(), close=False) for _ in range(2)]
        await until(lambda: s.jsonl_tcp.open_connections == 2)
        r, _ = await tcp_send(s, det(), close=False)
        assert await closed_by_server(r)
        for _, w in held:
            w.close()
        await until(lambda: s.jsonl_tcp.open_connections == 0)
        await tcp_send(s, det())  # a slot is free again
        await until(lambda: s.metrics.detections_received == 3)
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(max_connections=2))
    assert s.jsonl_tcp.connections == 3
    assert [r.reason for r in s.jsonl_tcp.stats.rejected] == ["more than 2 connections; closed"]


def test_more_connections_than_the_cap_at_once_are_all_refused(tmp_path):
    async def body(s: Service):
        held = [await tcp_send(s, det(), close=False) for _ in range(3)]
        await until(lambda: s.jsonl_tcp.open_connections == 3)
        extra = [await tcp_send(s, det(), close=False) for _ in range(20)]
        for r, w in extra:
            assert await closed_by_server(r)
            w.close()
        assert s.jsonl_tcp.open_connections == 3
        for _, w in held:
            w.close()
        await until(lambda: s.metrics.detections_received == 3)
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(max_connections=3))
    assert s.jsonl_tcp.refused == 20 and s.jsonl_tcp.connections == 3
    assert s.rejections.counts[("jsonl-tcp", "refused")] == 20


def test_an_idle_connection_is_closed_and_a_blank_line_keeps_one_open(tmp_path):
    async def body(s: Service):
        idle_r, idle_w = await tcp_send(s, b"", close=False)
        _, busy_w = await tcp_send(s, det(), close=False)
        # A partial line is not enough either: nothing more arrives, so it is idle.
        part_r, part_w = await tcp_send(s, det()[:20], close=False)
        for _ in range(8):
            await asyncio.sleep(0.1)
            busy_w.write(b"\n")  # a quiet sensor's keep-alive
            await busy_w.drain()
        assert await closed_by_server(idle_r) and await closed_by_server(part_r)
        assert s.jsonl_tcp.open_connections == 1
        busy_w.write(det())
        await until(lambda: s.metrics.detections_received == 2)
        for w in (idle_w, busy_w, part_w):
            w.close()
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(idle_timeout_s=0.4))
    assert s.jsonl_tcp.idle_closed == 2
    assert [r.reason for r in s.jsonl_tcp.stats.rejected] == [
        "nothing received for 0.4 s; closed"
    ] * 2


def test_lines_over_the_rate_are_counted_not_taken(tmp_path):
    async def body(s: Service):
        await tcp_send(s, b"".join(det() for _ in range(50)))
        await until(lambda: s.jsonl_tcp.stats.n_rejected + s.metrics.detections_received == 50)
        return s

    s = run(tmp_path, body, tcp=ListenerConfig(max_lines_per_s=10.0))
    # One second of burst passes (a little more as time runs); the rest is refused.
    assert 10 <= s.metrics.detections_received < 20
    assert set(s.jsonl_tcp.stats.by_reason) == {"over the rate limit of 10 lines/s"}


def test_overlong_and_deeply_nested_lines_cost_one_line_over_tcp_and_udp(tmp_path):
    long_line = b'{"type":"detection","pad":"' + b"x" * 70_000 + b'"}\n'

    async def body(s: Service):
        await tcp_send(s, det() + long_line + det() + DEEP + b"\n" + det())
        await udp_send(s, det() + DEEP + b"\n" + det() + b"[" * 40_000 + b"\n" + det())
        await until(lambda: s.metrics.detections_received == 6)
        return s

    s = run(tmp_path, body)
    assert [r.reason for r in s.jsonl_tcp.stats.rejected] == [
        "line longer than 65536 bytes",
        "nested more than 16 levels deep",
    ]
    assert [r.reason for r in s.jsonl_udp.stats.rejected] == ["nested more than 16 levels deep"] * 2


def test_zone_lines_from_the_network_change_nothing_and_are_counted(tmp_path):
    zone = (
        b'{"type":"zone","id":"Z","name":"z","floor_m":0,"ceiling_m":100,'
        b'"polygon":[[1,51],[1.01,51],[1.01,51.01]]}\n'
    )

    async def body(s: Service):
        await udp_send(s, zone * 20)
        await until(lambda: s.jsonl_udp.stats.n_rejected == 20)
        return s

    s = run(tmp_path, body)
    assert s.header.zones == [] and s.jsonl_udp.reader.header.zones == []


@pytest.mark.parametrize("listener", ["jsonl_tcp", "jsonl_udp"])
def test_a_bug_in_handling_one_line_costs_that_line_only(tmp_path, listener):
    calls = []

    async def body(s: Service):
        original = s._on_record

        def flaky(rec):
            calls.append(rec)
            if len(calls) == 1:
                raise RuntimeError("boom")
            original(rec)

        getattr(s, listener).on_record = flaky
        payload = det() + det()
        if listener == "jsonl_tcp":
            await tcp_send(s, payload)
        else:
            await udp_send(s, payload)
        await until(lambda: s.metrics.detections_received == 1)
        return s

    s = run(tmp_path, body)
    stats = getattr(s, listener).stats
    assert [r.reason for r in stats.rejected] == ["internal error on this line: RuntimeError"]


def test_mutual_tls_takes_only_clients_with_a_certificate_of_the_site_ca(tmp_path):
    import ssl

    import tests.sinks.test_cot as cot  # its throwaway PKI (module import: no tests collected)

    pki = cot._make_pki(tmp_path)
    tls = ListenerConfig(
        tls_cert_file=str(pki["server_cert"]), tls_key_file=str(pki["server_key"]),
        tls_client_ca_file=str(pki["ca"]), handshake_timeout_s=2.0,
    )  # fmt: skip
    with_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    with_cert.load_cert_chain(pki["client_cert"], pki["client_key"])
    without_cert = ssl.create_default_context(cafile=str(pki["ca"]))

    async def body(s: Service):
        port = s.ports["jsonl_tcp"]
        _, w = await asyncio.open_connection("127.0.0.1", port, ssl=with_cert)
        w.write(det() + det())
        await w.drain()
        await until(lambda: s.metrics.detections_received == 2)
        w.close()
        for attempt in (without_cert, None):  # no client certificate; plain TCP
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port, ssl=attempt)
                w.write(det())
                await w.drain()
                assert await closed_by_server(r)
            except (ssl.SSLError, ConnectionError):
                pass
        await asyncio.sleep(0.3)
        return s

    s = run(tmp_path, body, tcp=tls)
    assert s.metrics.detections_received == 2


def test_live_registrations_are_bounded(tmp_path, monkeypatch):
    import skywarden.service as service_module

    monkeypatch.setattr(service_module, "MAX_LIVE_SENSORS", 5)

    async def body(s: Service):
        for k in range(8):  # as SAPIENT registrations of ever new node ids would
            s.add_sensor(Sensor(id=f"node-{k}", kind="rf", lat=51.0, lon=1.0, alt_m=0.0))
        return s

    s = run(tmp_path, body)
    assert sorted(s.header.sensors) == ["node-0", "node-1", "node-2", "node-3", "node-4",
                                        "radar-1", "rf-1"]  # fmt: skip
    assert s.rejections.by_source() == {"sensor registration": 3}
