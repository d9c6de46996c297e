"""SAPIENT nodes and the service's health monitor, over a real TCP link with a test clock.

Regressions (main at 06ae315): the RegistrationAck said ``node_id: "skywarden"``
(not a UUID, not configurable); a node sending OK StatusReports but no
detections was declared silent 6 s after the start; a node registering more
than 6 s after the start got a sensor alert raised and cleared 0.12 s later.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sapient_msg.bsi_flex_335_v2_0 import registration_pb2, sapient_message_pb2
from sapient_py import encode_frame

from skywarden.config import SiteConfig, SourcesConfig, StoreConfig
from skywarden.sinks.base import QueueWorker
from skywarden.sources import sapient
from skywarden.types import AlertLine, ScanOutput, Site

from .test_sapient import registration, status

SITE = Site(name="health-site", lat=51.0, lon=1.0, alt_m=20.0)
NODE = "3f1c2d4e-0003-4a00-8000-0000000000cc"
OUR_ID = "7a0c9d2e-41b3-4c5d-9e6f-0a1b2c3d4e5f"
RADAR = registration_pb2.Registration.NodeType.NODE_TYPE_RADAR


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class AlertRecorder(QueueWorker):
    """A sink whose link always delivers: the alert events it was sent, in order."""

    name = "recorder"
    carries_alerts = True

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[AlertLine] = []

    async def send_alerts(self, alerts: list[AlertLine]) -> bool:
        self.sent.extend(alerts)
        return True

    async def handle(self, item: ScanOutput) -> None:
        pass


def _config(tmp_path: Path, **sources: object) -> SiteConfig:
    return SiteConfig(
        site=SITE,
        sensors=[],
        sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None, sapient_port=0, **sources),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )


def _registration(t: float, interval_s: float | None) -> sapient_message_pb2.SapientMessage:
    m = registration(NODE, t, RADAR)
    if interval_s is not None:
        si = m.registration.status_definition.status_interval
        si.units, si.value = registration_pb2.Registration.TIME_UNITS_SECONDS, interval_s
    return m


async def _send(writer: asyncio.StreamWriter, m: sapient_message_pb2.SapientMessage) -> None:
    writer.write(encode_frame(m))
    await writer.drain()


async def _settle(service, clock: Clock, t: float) -> list[AlertLine]:
    """Move the clock to ``t``, let the service's health check see it; the sensor alert
    events delivered to the sinks since the last call."""
    clock.t = t
    await asyncio.sleep(0.6)  # the health check runs every 0.5 s
    out, service.sent_alerts[:] = list(service.sent_alerts), []
    return [a for a in out if a.kind == "sensor"]


def _run(tmp_path: Path, steps, **sources: object):
    from skywarden.service import Service

    clock = Clock(1_800_000_000.0)

    async def main():
        service = Service(_config(tmp_path, **sources), clock=clock)
        # Every alert event the service's sinks deliver, by the real dispatch path.
        recorder = AlertRecorder()
        service.sinks.append(recorder)
        service.sent_alerts = recorder.sent
        await service.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", service.ports["sapient"])
            out = await steps(service, clock, reader, writer)
            writer.close()
            await writer.wait_closed()
            return out
        finally:
            await service.stop()

    return asyncio.run(main())


async def _ack(reader: asyncio.StreamReader) -> sapient_message_pb2.SapientMessage:
    head = await asyncio.wait_for(reader.readexactly(4), 5.0)
    m = sapient_message_pb2.SapientMessage()
    m.ParseFromString(await reader.readexactly(int.from_bytes(head, "little")))
    return m


@pytest.mark.parametrize("configured", [None, OUR_ID])
def test_ack_node_id_is_a_uuid4_and_configurable(tmp_path: Path, configured: str | None) -> None:
    async def steps(service, clock, reader, writer):
        await _send(writer, _registration(clock.t, 1.0))
        return await _ack(reader)

    ack = _run(tmp_path, steps, sapient_node_id=configured)
    assert ack.WhichOneof("content") == "registration_ack" and ack.destination_id == NODE
    assert uuid.UUID(ack.node_id).version == 4
    expected = configured or sapient.default_node_id("health-site.skywarden")
    assert ack.node_id == expected


def test_fusion_node_id_must_be_a_uuid4() -> None:
    with pytest.raises(ValueError, match="UUID version 4"):
        sapient.SapientServer("127.0.0.1", 0, print, print, print, fusion_node_id="skywarden")


def test_registration_status_interval_reaches_the_status() -> None:
    t = 1_800_000_000.0
    reg = sapient.decode_message(_registration(t, 10.0).SerializeToString(), t, {})
    assert reg.node is not None and reg.node.status_interval_s == 10.0
    got = sapient.decode_message(
        status(NODE, t + 1, 51.0, 1.0, 30.0).SerializeToString(), t + 1, {NODE: reg.node}
    )
    (st,) = [o for o in got.outputs if isinstance(o, sapient.NodeStatus)]
    assert st.interval_s == 10.0 and st.system == "ok"


def test_node_with_ok_status_reports_and_no_detections_is_alive(tmp_path: Path) -> None:
    async def steps(service, clock, reader, writer):
        t0 = clock.t
        await _send(writer, _registration(t0, 10.0))
        await _ack(reader)
        seen = await _settle(service, clock, t0)
        for k in range(5):  # a status report every 10 s, never a detection
            clock.t = t0 + 10.0 * k
            await _send(writer, status(NODE, clock.t, 51.0, 1.0, 30.0))
            await asyncio.sleep(0.2)  # received at t0 + 10 k
            seen += await _settle(service, clock, t0 + 10.0 * k + 9.0)
        quiet = seen
        # Then the node stops reporting: silent after three status intervals.
        late = await _settle(service, clock, t0 + 40.0 + 35.0)
        return quiet, late, service.live.sensor_status[NODE].status

    quiet, late, state = _run(tmp_path, steps)
    assert quiet == []
    assert [(a.sensor, a.state) for a in late] == [(NODE, "raised")]
    assert state == "silent"


def test_node_registering_late_gets_its_grace_period(tmp_path: Path) -> None:
    async def steps(service, clock, reader, writer):
        t0 = clock.t
        await _settle(service, clock, t0 + 60.0)  # a minute after the start
        await _send(writer, _registration(clock.t, None))
        await _ack(reader)
        await _send(writer, status(NODE, clock.t, 51.0, 1.0, 30.0))
        return await _settle(service, clock, t0 + 60.5)

    # Neither raised nor raised-and-cleared: nothing reaches any sink.
    assert _run(tmp_path, steps) == []
