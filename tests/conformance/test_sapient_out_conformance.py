"""Every message skywarden sends over SAPIENT passes the BSI Flex 335 v2.0 validation rules:
those of SAPIENT out (to a C2) and the RegistrationAck of SAPIENT in (to a sensor node).

The rules are the ICD's own (``sapient_rules``: mandatory fields, ULID and UUID v4
ids, as Dstl's Apex middleware checks them). A whole session, Registration ->
RegistrationAck -> StatusReport -> DetectionReport -> Alert, run over loopback
TCP through the real sink, is compared with the golden transcript
``tests/data/sapient/out_session.jsonl`` (regenerate with ``SKYWARDEN_REGEN=1``).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from sapient_msg.bsi_flex_335_v2_0 import registration_pb2, sapient_message_pb2

from skywarden.sinks.config import SapientOutConfig
from skywarden.sinks.sapient_out import (
    SapientEncoder,
    SapientOutSink,
    frame_message,
    read_message,
)
from skywarden.sources.sapient import default_node_id

from ..sinks.helpers import T0_S, alert, frame, make_track, scan
from .sapient_rules import ULID, violations

FR = frame()
NODE_ID = "0b9e4c2a-5f31-4d7e-9c1a-7e2f3d4c5b6a"
C2_ID = "5d7e0c1b-2a3f-4e6d-8b9c-0a1b2c3d4e5f"
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "sapient" / "out_session.jsonl"


def _encoder(**kw: object) -> SapientEncoder:
    return SapientEncoder(SapientOutConfig(host="h", port=1, **kw), FR, NODE_ID)


def _all_messages(enc: SapientEncoder) -> list:
    t1, t2 = T0_S + 1.0, T0_S + 2.0
    drone = make_track(FR, 1, T0_S, [800.0, 600.0, 120.0], [-10.0, -7.5, 0.5])
    plane = make_track(
        FR, 2, T0_S, [-300.0, 50.0, 600.0], [60.0, 1.0, 0.0], cls="aircraft",
        identity={"icao24": "4ca7b5"},
    )  # fmt: skip
    gone = make_track(FR, 1, t2, [790.0, 592.0, 120.0], [-10.0, -7.5, 0.5], status="deleted")
    sensor_alert = alert(t1, "T1", level="warning").__class__(
        t=t1, id="S-radar-1", level="warning", state="raised", kind="sensor", sensor="radar-1",
        reason="silent for 12 s",
    )  # fmt: skip
    return [
        enc.registration(T0_S),
        enc.status_report(T0_S),
        enc.detection_report(drone),
        enc.detection_report(plane),
        enc.alert(alert(T0_S, "T1"), drone),
        enc.alert(alert(t1, "T1", level="warning", state="updated", tta_s=80.0), None),
        enc.alert(sensor_alert, None),
        enc.alert(alert(t2, "T1", state="cleared"), gone),
        enc.detection_report(gone),
    ]


@pytest.mark.parametrize("destination", [None, C2_ID])
def test_every_message_kind_passes_the_v2_rules(destination: str | None) -> None:
    """Regression: Registration lacked capabilities, config_data, settle_time and task;
    alert_id "A-T1" and region_id "Z1" were no ULIDs; node_id was a UUID version 5."""
    msgs = _all_messages(_encoder(destination_id=destination))
    assert {m.WhichOneof("content") for m in msgs} == {
        "registration", "status_report", "detection_report", "alert",
    }  # fmt: skip
    for m in msgs:
        assert violations(m) == [], m.WhichOneof("content")


def test_checker_finds_what_apex_rejected() -> None:
    """The checker is not vacuous: the messages of main at 06ae315 fail it as Apex did."""
    old = sapient_message_pb2.SapientMessage(
        node_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, "site.skywarden"))
    )
    old.timestamp.FromSeconds(int(T0_S))
    old.alert.alert_id, old.alert.region_id = "A1", "Z1"
    assert violations(old) == [
        f"node_id: '{old.node_id}' is not a UUID version 4",
        "alert.alert_id: 'A1' is not a ULID",
        "alert.region_id: 'Z1' is not a ULID",
    ]
    reg = _encoder().registration(T0_S)
    r = reg.registration
    r.ClearField("capabilities")
    r.ClearField("config_data")
    r.mode_definition[0].ClearField("settle_time")
    r.mode_definition[0].ClearField("task")
    assert violations(reg) == [
        "registration.capabilities: mandatory field missing",
        "registration.mode_definition[0].settle_time: mandatory field missing",
        "registration.mode_definition[0].task: mandatory field missing",
        "registration.config_data: mandatory field missing",
    ]


def test_alert_and_region_ulids_are_stable() -> None:
    enc = _encoder()
    raised = enc.alert(alert(T0_S, "T1"), None).alert
    updated = enc.alert(alert(T0_S + 5, "T1", state="updated", tta_s=20.0), None).alert
    other = enc.alert(alert(T0_S + 5, "T2"), None).alert
    cleared = enc.alert(alert(T0_S + 9, "T1", state="cleared"), None).alert
    assert raised.alert_id == updated.alert_id == cleared.alert_id != other.alert_id
    assert ULID.fullmatch(raised.alert_id) and ULID.fullmatch(raised.region_id)
    # One zone, one region id, on this run and the next (derived, not drawn).
    assert raised.region_id == other.region_id == _encoder().region_ulid("Z1")
    assert raised.region_id != enc.region_ulid("Z2")
    # skywarden's own names stay readable for the operator.
    assert raised.additional_information == "skywarden_alert=A-T1; zone=Z1; tta_s=42.0"
    # A new alert with a reused name after clearing gets a new ULID.
    again = enc.alert(alert(T0_S + 60, "T1"), None).alert
    assert again.alert_id != raised.alert_id


def test_node_id_must_be_uuid4_and_default_is_stable() -> None:
    with pytest.raises(ValueError, match="UUID version 4"):
        SapientEncoder(
            SapientOutConfig(host="h", port=1), FR, str(uuid.uuid5(uuid.NAMESPACE_DNS, "x"))
        )
    with pytest.raises(ValueError):
        _encoder(destination_id="c2")
    a = default_node_id("heathrow.skywarden")
    assert uuid.UUID(a).version == 4 and uuid.UUID(a).variant == uuid.RFC_4122
    assert a == default_node_id("heathrow.skywarden") != default_node_id("gatwick.skywarden")


async def _session() -> list[tuple[str, bytes]]:
    """Run the sink against a C2 node on loopback; return every frame in order."""
    transcript: list[tuple[str, bytes]] = []
    done, release = asyncio.Event(), asyncio.Event()

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reg = await read_message(reader)
        transcript.append(("skywarden", frame_message(reg)))
        ack = sapient_message_pb2.SapientMessage(node_id=C2_ID, destination_id=NODE_ID)
        ack.timestamp.FromNanoseconds(int((T0_S + 0.01) * 1e9))
        ack.registration_ack.acceptance = True
        transcript.append(("c2", frame_message(ack)))
        writer.write(frame_message(ack))
        await writer.drain()
        for _ in range(3):  # status, then the scan: its alert and its detection report
            transcript.append(("skywarden", frame_message(await read_message(reader))))
        done.set()
        await release.wait()  # the link stays up until the sink is stopped
        writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    never = asyncio.Event()

    async def hold(_: float) -> None:
        await never.wait()  # one status report only, no reconnect: a fixed transcript

    cfg = SapientOutConfig(host="127.0.0.1", port=port, destination_id=C2_ID)
    sink = SapientOutSink(cfg, FR, node_id=NODE_ID, clock=lambda: T0_S, sleep=hold)
    runner = asyncio.create_task(sink.run())
    await asyncio.wait_for(sink.registered.wait(), 5.0)
    while len(transcript) < 3:  # the status report precedes the scan
        await asyncio.sleep(0.01)
    drone = make_track(FR, 1, T0_S + 1, [800.0, 600.0, 120.0], [-10.0, -7.5, 0.5])
    sink.offer(scan(T0_S + 1, [drone], [alert(T0_S + 1, "T1")]))
    await asyncio.wait_for(done.wait(), 5.0)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    release.set()
    server.close()
    await server.wait_closed()
    return transcript


def test_golden_session() -> None:
    transcript = asyncio.run(_session())
    lines = []
    for sender, framed in transcript:
        msg = sapient_message_pb2.SapientMessage()
        msg.ParseFromString(framed[4:])
        assert violations(msg) == [], (sender, msg.WhichOneof("content"))
        lines.append({"from": sender, "frame_hex": framed.hex(), "message": MessageToDict(msg)})
    kinds = [
        next(iter(set(ln["message"]) - {"nodeId", "timestamp", "destinationId"})) for ln in lines
    ]
    assert kinds == [
        "registration", "registrationAck", "statusReport", "alert", "detectionReport",
    ]  # fmt: skip
    text = "".join(json.dumps(ln, sort_keys=True) + "\n" for ln in lines)
    if os.environ.get("SKYWARDEN_REGEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


@pytest.mark.parametrize("fusion_node_id", [None, NODE_ID])
def test_registration_ack_skywarden_sends_as_a_fusion_node_passes_the_v2_rules(
    fusion_node_id: str | None,
) -> None:
    """SAPIENT in: the one message skywarden sends to a sensor node, its RegistrationAck."""
    from skywarden.sources import sapient

    from ..sources.test_sapient import registration

    node = "3f1c2d4e-0003-4a00-8000-0000000000cc"
    radar = registration_pb2.Registration.NodeType.NODE_TYPE_RADAR
    reg = registration(node, T0_S, radar).SerializeToString()
    kw = {} if fusion_node_id is None else {"fusion_node_id": fusion_node_id}
    decoded = sapient.decode_message(reg, T0_S, {}, **kw)
    (reply,) = [o for o in decoded.outputs if isinstance(o, sapient.Reply)]
    ack = sapient_message_pb2.SapientMessage()
    ack.ParseFromString(reply.frame[4:])
    assert int.from_bytes(reply.frame[:4], "little") == len(reply.frame) - 4
    assert ack.WhichOneof("content") == "registration_ack" and ack.registration_ack.acceptance
    assert violations(ack) == []
    assert ack.destination_id == node
    assert ack.node_id == (fusion_node_id or sapient.DEFAULT_FUSION_NODE_ID)
    assert uuid.UUID(ack.node_id).version == 4
    assert ack.timestamp.ToNanoseconds() == round(T0_S * 1e9)
    old = sapient_message_pb2.SapientMessage()
    old.CopyFrom(ack)
    old.node_id = "skywarden"  # what the Ack said at 06ae315
    assert violations(old) != []
