"""What a SAPIENT peer can take of the fusion node: connections, idle time, message
size and rate. Real sockets against the service's SAPIENT port."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest
from sapient_msg.bsi_flex_335_v2_0 import registration_pb2, sapient_message_pb2
from sapient_py import encode_frame

from skywarden.config import ConfigError, SiteConfig, SourcesConfig, StoreConfig, load_config
from skywarden.service import Service
from skywarden.sources import sapient
from skywarden.sources.live import SapientListenerConfig
from skywarden.types import Site

from ..sources.test_sapient import registration, status

SITE = Site(name="sapient-limits", lat=51.0, lon=1.0, alt_m=20.0)
RADAR = registration_pb2.Registration.NodeType.NODE_TYPE_RADAR


def node(i: int) -> str:
    return f"3f1c2d4e-0009-4a00-8000-{i:012x}"


def reg(i: int, interval_s: float | None = None) -> bytes:
    m = registration(node(i), time.time(), RADAR)
    if interval_s is not None:
        si = m.registration.status_definition.status_interval
        si.units, si.value = registration_pb2.Registration.TIME_UNITS_SECONDS, interval_s
    return encode_frame(m)


def stat(i: int) -> bytes:
    return encode_frame(status(node(i), time.time(), 51.0, 1.0, 30.0))


async def ack(r: asyncio.StreamReader) -> sapient_message_pb2.SapientMessage:
    head = await asyncio.wait_for(r.readexactly(4), 10)
    m = sapient_message_pb2.SapientMessage()
    m.ParseFromString(await asyncio.wait_for(r.readexactly(int.from_bytes(head, "little")), 10))
    return m


async def closed_by_server(r: asyncio.StreamReader, timeout_s: float = 10.0) -> bool:
    """The server closed the connection (an end of stream, or a reset)."""
    try:
        return await asyncio.wait_for(r.read(), timeout_s) == b""
    except ConnectionResetError:
        return True


async def until(cond, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.01)


def run(tmp_path: Path, body, **limits):
    cfg = SiteConfig(
        site=SITE,
        sources=SourcesConfig(
            jsonl_tcp_port=None,
            jsonl_udp_port=None,
            sapient_port=0,
            sapient=SapientListenerConfig(**limits),
        ),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )

    async def main():
        service = Service(cfg)
        await service.start()
        try:
            return await body(service, service.sapient, service.ports["sapient"])
        finally:
            await service.stop()

    return asyncio.run(main())


def reasons(server: sapient.SapientServer) -> set[str]:
    return {r for _, _, r in server.rejections.samples}


def test_defaults_are_bounded():
    c = SourcesConfig().sapient
    assert (c.max_connections, c.idle_timeout_s) == (64, 60.0)
    assert (c.max_message_bytes, c.max_messages_per_s) == (1 << 20, 5_000.0)


def test_connections_beyond_the_cap_are_refused_counted_and_the_slot_comes_back(tmp_path):
    async def body(s: Service, srv: sapient.SapientServer, port: int):
        held = []
        for i in range(3):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(reg(i))
            assert (await ack(r)).registration_ack.acceptance
            held.append((r, w))
        # Ten more than the cap at once: every one is closed, none is served.
        extra = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
        for _, w in extra:
            w.write(reg(99))
        for r, w in extra:
            assert await closed_by_server(r)
            w.close()
        assert srv.open_connections == 3 and node(99) not in srv.nodes
        held[0][1].close()
        await until(lambda: srv.open_connections == 2)
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(reg(7))
        assert (await ack(r)).destination_id == node(7)
        for _, hw in [*held[1:], (r, w)]:
            hw.close()
        return srv

    srv = run(tmp_path, body, max_connections=3)
    assert srv.refused == 10 and srv.connections == 4
    assert reasons(srv) == {"sapient-connections: more than 3 connections; closed"}
    assert sum(n for (_, k), n in srv.rejections.counts.items() if k == "refused") == 10


def test_a_silent_or_trickling_connection_is_closed_after_the_idle_timeout(tmp_path):
    async def body(s: Service, srv: sapient.SapientServer, port: int):
        r1, w1 = await asyncio.open_connection("127.0.0.1", port)  # says nothing at all
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(reg(1))
        await ack(r2)
        w2.write(stat(1)[:3])  # a message begun and never finished
        assert await closed_by_server(r1) and await closed_by_server(r2)
        w1.close()
        w2.close()
        await until(lambda: srv.open_connections == 0)
        return s

    s = run(tmp_path, body, idle_timeout_s=0.3)
    assert s.sapient.idle_closed == 2
    assert reasons(s.sapient) == {"sapient-idle: no complete message for 0.3 s; closed"}
    # The registered node's connection ended: the map shows it silent.
    assert s.live.sensor_status[node(1)].status == "silent"


def test_the_idle_timeout_stretches_to_three_registered_status_intervals(tmp_path):
    async def body(s: Service, srv: sapient.SapientServer, port: int):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(reg(1, interval_s=0.5))
        await ack(r)
        w.write(stat(1))
        # Quiet for longer than idle_timeout_s but within 3 x 0.5 s: still connected.
        await asyncio.sleep(0.8)
        assert srv.open_connections == 1 and srv.idle_closed == 0
        assert await closed_by_server(r)
        w.close()
        return srv

    srv = run(tmp_path, body, idle_timeout_s=0.2)
    assert srv.idle_closed == 1
    assert reasons(srv) == {"sapient-idle: no complete message for 1.5 s; closed"}


def test_messages_over_the_rate_are_counted_not_taken(tmp_path):
    async def body(s: Service, srv: sapient.SapientServer, port: int):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(reg(1))
        await ack(r)
        w.write(b"".join(stat(1) for _ in range(60)))
        await w.drain()
        rate = lambda: srv.rejections.counts.get(  # noqa: E731
            ("sapient 127.0.0.1", "rate_limit"), 0
        )
        await until(lambda: rate() >= 40)
        # The connection stays open: a burst costs messages, not the link.
        w.write(reg(1))
        await asyncio.sleep(1.2)  # one second refills the bucket
        w.write(reg(1))
        assert (await ack(r)).destination_id == node(1)
        w.close()
        return rate()

    rate_rejections = run(tmp_path, body, max_messages_per_s=10.0)
    # 60 statuses and one registration over a bucket of 10 (one spent on the first registration).
    assert 40 <= rate_rejections <= 52


def test_a_length_over_the_bound_closes_only_that_connection(tmp_path):
    async def body(s: Service, srv: sapient.SapientServer, port: int):
        good_r, good_w = await asyncio.open_connection("127.0.0.1", port)
        good_w.write(reg(1))
        await ack(good_r)
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write((2_000).to_bytes(4, "little") + b"\0" * 2_000)
        assert await closed_by_server(r)
        good_w.write(reg(1))
        assert (await ack(good_r)).destination_id == node(1)
        w.close()
        good_w.close()
        return srv

    srv = run(tmp_path, body, max_message_bytes=1_024)
    assert reasons(srv) == {"sapient-length: message length 2000"}


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("max_connections", 0),
        ("max_connections", -1),
        ("max_connections", 1_000_000),
        ("idle_timeout_s", 0),
        ("idle_timeout_s", -5),
        ("idle_timeout_s", ".nan"),
        ("idle_timeout_s", ".inf"),
        ("max_message_bytes", 10),
        ("max_message_bytes", 1_000_000_000),
        ("max_messages_per_s", 0),
        ("max_messages_per_s", ".nan"),
        ("surprise", 1),
    ],
)
def test_sapient_limits_out_of_range_are_refused_with_their_path(tmp_path, setting, value):
    p = tmp_path / "site.yaml"
    p.write_text(
        "site: {name: s, lat: 51, lon: 1, alt_m: 0}\n"
        f"sources: {{sapient_port: 5020, sapient: {{{setting}: {value}}}}}\n"
    )
    with pytest.raises(ConfigError, match=r"sources\.sapient"):
        load_config(p)


def test_limits_survive_a_yaml_round_trip(tmp_path):
    p = tmp_path / "site.yaml"
    p.write_text(
        "site: {name: s, lat: 51, lon: 1, alt_m: 0}\n"
        "sources: {sapient: {max_connections: 5, idle_timeout_s: 30}}\n"
    )
    got = load_config(p).sources.sapient
    assert msgspec.structs.astuple(got)[:2] == (5, 30.0)


def test_stopping_with_connections_open_logs_no_traceback(tmp_path, caplog):
    from skywarden.sources.jsonl import ListenerConfig

    cfg = SiteConfig(
        site=SITE,
        sources=SourcesConfig(
            jsonl_tcp_port=0, jsonl_udp_port=None, sapient_port=0, jsonl_tcp=ListenerConfig()
        ),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )

    async def main():
        service = Service(cfg)
        await service.start()
        held = [
            await asyncio.open_connection("127.0.0.1", service.ports[name])
            for name in ("sapient", "jsonl_tcp")
        ]
        await until(
            lambda: (
                service.sapient.open_connections == 1 and service.jsonl_tcp.open_connections == 1
            )
        )
        await service.stop()
        for r, w in held:
            assert await closed_by_server(r)
            w.close()

    asyncio.run(main())
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
