"""SAPIENT out against a test C2 (fusion) node on loopback that decodes every frame."""

from __future__ import annotations

import asyncio
import math

import pytest
from sapient_msg.bsi_flex_335_v2_0 import (
    alert_pb2,
    location_pb2,
    registration_pb2,
    sapient_message_pb2,
    status_report_pb2,
    task_ack_pb2,
)

from skywarden.sinks.config import SapientOutConfig
from skywarden.sinks.sapient_out import SapientOutSink, frame_message, read_message, ulid

from .helpers import SITE_ALT_M, SITE_LAT, SITE_LON, T0_S, alert, frame, make_track, scan

FR = frame()
NODE_ID = "6f1c1a64-7d6e-4d43-9a6c-2f1f0a1b2c3d"
CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


class C2Node:
    """Accepts one node at a time: registers it (or refuses), records what it sends."""

    def __init__(self, accept: bool = True, send_task: bool = True) -> None:
        self.accept = accept
        self.send_task = send_task
        self.msgs: list = []
        self.connections = 0
        self.changed = asyncio.Event()

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._on_conn, "127.0.0.1", port)
        return self.server.sockets[0].getsockname()[1]

    async def _on_conn(self, reader, writer) -> None:
        self.connections += 1
        self.changed.set()
        try:
            reg = await read_message(reader)
            self.msgs.append(reg)
            ack = sapient_message_pb2.SapientMessage(node_id="c2")
            ack.timestamp.GetCurrentTime()
            ack.registration_ack.acceptance = self.accept
            if not self.accept:
                ack.registration_ack.ack_response_reason.append("not on the list")
            writer.write(frame_message(ack))
            if self.accept and self.send_task:
                task = sapient_message_pb2.SapientMessage(node_id="c2")
                task.timestamp.GetCurrentTime()
                task.task.task_id = "01J0TASK0000000000000000000"
                task.task.command.look_at.location_list.locations.add(x=SITE_LON, y=SITE_LAT)
                writer.write(frame_message(task))
            await writer.drain()
            while True:
                self.msgs.append(await read_message(reader))
                self.changed.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def wait_for(self, pred, timeout_s: float = 5.0) -> None:
        async def loop():
            while not pred():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout_s)

    def of(self, kind: str) -> list:
        return [m for m in self.msgs if m.WhichOneof("content") == kind]

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def _cfg(port: int, **kw) -> SapientOutConfig:
    return SapientOutConfig(host="127.0.0.1", port=port, status_period_s=0.05, **kw)


def test_registration_reports_alerts_and_task_refusal():
    t1 = T0_S + 1.0
    tracks = [
        make_track(FR, 1, T0_S, [800.0, 600.0, 120.0], [-10.0, -7.5, 0.5], p=0.93),
        make_track(
            FR,
            2,
            T0_S,
            [-300.0, 50.0, 60.0],
            [2.0, 1.0, 0.0],
            cls="aircraft",
            identity={"icao24": "4ca7b5"},
        ),
    ]
    moved = make_track(FR, 1, t1, [790.0, 592.5, 120.5], [-10.0, -7.5, 0.5], p=0.95)

    async def main():
        c2 = C2Node()
        port = await c2.start()
        sink = SapientOutSink(_cfg(port), FR, node_id=NODE_ID)
        runner = asyncio.create_task(sink.run())
        await asyncio.wait_for(sink.registered.wait(), 5.0)
        sink.offer(scan(T0_S, tracks, [alert(T0_S, "T1")]))
        sink.offer(scan(t1, [moved], [alert(t1, "T1", state="cleared")]))
        await c2.wait_for(
            lambda: (
                len(c2.of("detection_report")) >= 3
                and len(c2.of("alert")) >= 2
                and c2.of("task_ack")
                and len(c2.of("status_report")) >= 2
            )
        )
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        await c2.close()
        return c2, sink

    c2, sink = asyncio.run(main())
    reg_msg = c2.msgs[0]
    assert reg_msg.WhichOneof("content") == "registration"
    assert reg_msg.node_id == NODE_ID
    reg = reg_msg.registration
    assert reg.icd_version == "BSI Flex 335 v2.0"
    assert reg.node_definition[0].node_type == registration_pb2.Registration.NODE_TYPE_FUSION_NODE
    assert reg.status_definition.status_interval.value == pytest.approx(0.05)

    st = c2.of("status_report")[0]
    assert st.status_report.system == status_report_pb2.StatusReport.SYSTEM_OK
    loc = st.status_report.node_location
    assert (loc.y, loc.x, loc.z) == pytest.approx((SITE_LAT, SITE_LON, SITE_ALT_M))

    reports = [m.detection_report for m in c2.of("detection_report")]
    r1, r2, r1b = reports
    for r, tr in ((r1, tracks[0]), (r2, tracks[1]), (r1b, moved)):
        assert r.location.coordinate_system == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        assert r.location.datum == location_pb2.LOCATION_DATUM_WGS84_E
        assert (r.location.y, r.location.x, r.location.z) == pytest.approx(
            (tr.lat, tr.lon, tr.alt_m), abs=1e-9
        )
        assert r.location.z_error == pytest.approx(tr.pos_std_m)
        # 7.5 m as degrees of latitude.
        assert r.location.y_error * 111_320.0 == pytest.approx(tr.pos_std_m, rel=1e-6)
        v = r.enu_velocity
        assert (v.east_rate, v.north_rate, v.up_rate) == pytest.approx(tr.vel_enu_mps)
        top = r.classification[0]
        assert top.confidence == pytest.approx(tr.class_p[tr.class_], abs=1e-6)
        assert r.detection_confidence == pytest.approx(tr.class_p[tr.class_], abs=1e-6)
        assert math.fsum(c.confidence for c in r.classification) == pytest.approx(1.0, abs=1e-5)
        assert len(r.report_id) == 26 and set(r.report_id) <= CROCKFORD
    assert r1.classification[0].type == "Air Vehicle"
    assert r1.classification[0].sub_class[0].type == "UAV"
    assert r2.classification[0].sub_class[0].type == "Fixed Wing"
    assert [(i.type, i.value) for i in r2.object_info] == [("icao24", "4ca7b5")]
    assert r1.object_id == r1b.object_id != r2.object_id  # stable per track
    assert len({r1.report_id, r2.report_id, r1b.report_id}) == 3

    raised, cleared = (m.alert for m in c2.of("alert"))
    assert raised.alert_type == alert_pb2.Alert.ALERT_TYPE_CRITICAL
    assert raised.status == alert_pb2.Alert.ALERT_STATUS_ACTIVE
    assert cleared.status == alert_pb2.Alert.ALERT_STATUS_CLEAR
    # ULIDs, the same for one alert's events (rules: tests/conformance).
    assert raised.region_id == cleared.region_id == sink.encoder.region_ulid("Z1")
    assert raised.alert_id == cleared.alert_id and len(raised.alert_id) == 26
    assert "skywarden_alert=A-T1; zone=Z1" in raised.additional_information
    assert "42 s" in raised.description
    assert raised.associated_detection[0].object_id == r1.object_id
    assert (raised.location.y, raised.location.x) == pytest.approx((SITE_LAT + 0.004, SITE_LON))

    (ack,) = c2.of("task_ack")
    assert ack.task_ack.task_status == task_ack_pb2.TaskAck.TASK_STATUS_REJECTED
    assert ack.task_ack.task_id == "01J0TASK0000000000000000000"
    assert sink.tasks_refused == 1
    # Nothing the node ever sent is a Task.
    assert not c2.of("task")
    assert all(m.node_id == NODE_ID for m in c2.msgs)


def test_refused_registration_reconnects_with_backoff_and_drops_reports():
    delays: list[float] = []

    async def main():
        c2 = C2Node(accept=False)
        port = await c2.start()

        async def fake_sleep(s: float) -> None:
            delays.append(s)
            await asyncio.sleep(0)

        sink = SapientOutSink(
            _cfg(port, backoff_initial_s=1.0, backoff_max_s=4.0), FR, node_id=NODE_ID,
            sleep=fake_sleep,
        )  # fmt: skip
        runner = asyncio.create_task(sink.run())
        await c2.wait_for(lambda: c2.connections >= 5)
        await sink.handle(scan(T0_S, [make_track(FR, 1, T0_S, [0, 0, 50], [1, 0, 0])]))
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        await c2.close()
        return c2, sink

    c2, sink = asyncio.run(main())
    assert delays[:4] == [1.0, 2.0, 4.0, 4.0]
    assert not sink.registered.is_set()
    assert sink.dropped_reports == 1
    assert not c2.of("detection_report")


def test_ulid_layout():
    u = ulid(1_700_000_000.123, 0)
    assert len(u) == 26 and set(u) <= CROCKFORD
    # The first 10 characters carry the millisecond time, most significant first.
    ms = 0
    for ch in u[:10]:
        ms = ms * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(ch)
    assert ms == 1_700_000_000_123
