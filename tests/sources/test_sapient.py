"""SAPIENT fusion node: a test sensor-node client registers, reports, disconnects, reconnects.

The recorded session ``tests/data/sapient/session.bin`` is exactly what this
client sends; regenerate it only with ``SKYWARDEN_REGEN=1`` and review the diff.
"""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sapient_msg.bsi_flex_335_v2_0 import (
    detection_report_pb2,
    location_pb2,
    range_bearing_pb2,
    registration_pb2,
    sapient_message_pb2,
    status_report_pb2,
)
from sapient_py import encode_frame

from skywarden.sources import sapient
from skywarden.types import Detection, Rejected, Sensor

DATA = Path(__file__).parent.parent / "data" / "sapient"
T0 = 1714564800.0
RADAR = "3f1c2d4e-0001-4a00-8000-000000000001"
CAMERA = "3f1c2d4e-0002-4a00-8000-000000000002"
NodeType = registration_pb2.Registration.NodeType
RBCS = range_bearing_pb2.RangeBearingCoordinateSystem
LCS = location_pb2.LocationCoordinateSystem


def message(node: str, t: float, **content: Any) -> sapient_message_pb2.SapientMessage:
    m = sapient_message_pb2.SapientMessage(node_id=node, **content)
    m.timestamp.FromNanoseconds(round(t * 1e9))
    return m


def registration(node: str, t: float, node_type: int) -> sapient_message_pb2.SapientMessage:
    reg = registration_pb2.Registration(icd_version="BSI Flex 335 v2.0", name="test node")
    reg.node_definition.add(node_type=node_type)
    return message(node, t, registration=reg)


def status(
    node: str, t: float, lat: float, lon: float, alt: float
) -> sapient_message_pb2.SapientMessage:
    rep = status_report_pb2.StatusReport(
        report_id="s1",
        system=status_report_pb2.StatusReport.System.SYSTEM_OK,
        info=status_report_pb2.StatusReport.Info.INFO_NEW,
        mode="default",
        node_location=location_pb2.Location(
            x=lon, y=lat, z=alt, coordinate_system=LCS.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        ),
    )
    return message(node, t, status_report=rep)


def rb_report(
    node: str,
    t: float,
    rid: str,
    *,
    az: float,
    el: float,
    rng: float | None = None,
    cs: int = RBCS.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M,
    **extra: Any,
) -> sapient_message_pb2.SapientMessage:
    rb = range_bearing_pb2.RangeBearing(azimuth=az, elevation=el, coordinate_system=cs, **extra)
    if rng is not None:
        rb.range = rng
    rep = detection_report_pb2.DetectionReport(report_id=rid, object_id="obj-1", range_bearing=rb)
    return message(node, t, detection_report=rep)


def loc_report(
    node: str, t: float, rid: str, lat: float, lon: float, alt: float
) -> sapient_message_pb2.SapientMessage:
    loc = location_pb2.Location(
        x=lon,
        y=lat,
        z=alt,
        x_error=1e-5,
        y_error=1e-5,
        z_error=5.0,
        coordinate_system=LCS.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M,
    )
    rep = detection_report_pb2.DetectionReport(report_id=rid, location=loc)
    return message(node, t, detection_report=rep)


def classified(m: sapient_message_pb2.SapientMessage) -> sapient_message_pb2.SapientMessage:
    m.detection_report.detection_confidence = 0.9
    m.detection_report.classification.add(type="UAV", confidence=0.8)
    return m


#: Three connections: radar node, the radar node again after reconnecting, a camera node.
#: ``None`` stands for one deliberately malformed message.
SESSION: list[list[Any]] = [
    [
        registration(RADAR, T0, NodeType.NODE_TYPE_RADAR),
        status(RADAR, T0 + 0.1, 46.0, 14.5, 300.0),
        classified(
            rb_report(
                RADAR,
                T0 + 1.0,
                "r1",
                rng=1500.0,
                az=30.0,
                el=5.0,
                range_error=10.0,
                azimuth_error=0.5,
                elevation_error=1.0,
            )
        ),
        rb_report(RADAR, T0 + 2.0, "r2", rng=1480.0, az=30.5, el=5.25),
        rb_report(RADAR, T0 + 2.2, "bad-range", rng=-5.0, az=30.5, el=5.0),
        None,
        loc_report(RADAR, T0 + 2.5, "r3", 46.01, 14.51, 420.0),
    ],
    [
        registration(RADAR, T0 + 2.8, NodeType.NODE_TYPE_RADAR),
        rb_report(
            RADAR,
            T0 + 3.0,
            "r4",
            rng=1.5,
            az=0.5,
            el=0.125,
            cs=RBCS.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM,
        ),
    ],
    [
        registration(CAMERA, T0 + 3.1, NodeType.NODE_TYPE_CAMERA),
        status(CAMERA, T0 + 3.2, 46.001, 14.499, 305.0),
        rb_report(CAMERA, T0 + 3.5, "c1", az=120.0, el=10.0),
        loc_report(CAMERA, T0 + 3.6, "bad-lat", 200.0, 14.5, 100.0),
    ],
]
MALFORMED = b"\x0a\xff\xff\xff\xff\x0f"  # a length-delimited field whose length runs past the end


def wire(m: Any) -> bytes:
    return len(MALFORMED).to_bytes(4, "little") + MALFORMED if m is None else encode_frame(m)


async def run_client(port: int) -> tuple[bytes, int]:
    """Connect once per SESSION entry, send its messages; return the bytes sent and acks seen."""
    sent = bytearray()
    acks = 0
    for conn in SESSION:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for m in conn:
            data = wire(m)
            writer.write(data)
            sent += data
            await writer.drain()
            if m is not None and m.WhichOneof("content") == "registration":
                head = await asyncio.wait_for(reader.readexactly(4), 5.0)
                reply = sapient_message_pb2.SapientMessage()
                reply.ParseFromString(await reader.readexactly(int.from_bytes(head, "little")))
                # The fusion node only ever acknowledges; it never tasks a node.
                assert reply.WhichOneof("content") == "registration_ack"
                assert reply.registration_ack.acceptance
                assert reply.destination_id == m.node_id
                acks += 1
        writer.close()
        await writer.wait_closed()
    return bytes(sent), acks


def test_live_session_with_reconnect() -> None:
    reports: list[sapient.SapientReport] = []
    sensors: list[Sensor] = []
    statuses: list[sapient.NodeStatus] = []

    async def main() -> tuple[bytes, int, sapient.SapientServer]:
        disconnects = asyncio.Queue[str]()

        def on_status(s: sapient.NodeStatus) -> None:
            statuses.append(s)
            if s.system == "disconnected":
                disconnects.put_nowait(s.node_id)

        server = sapient.SapientServer(
            "127.0.0.1", 0, reports.append, sensors.append, on_status, clock=lambda: T0 + 100
        )
        async with server:
            sent, acks = await run_client(server.port)
            for _ in SESSION:  # each connection ends with its node's disconnect
                await asyncio.wait_for(disconnects.get(), 5.0)
        return sent, acks, server

    sent, acks, server = asyncio.run(main())
    assert acks == 3
    if os.environ.get("SKYWARDEN_REGEN") == "1":
        (DATA / "session.bin").write_bytes(sent)
    assert sent == (DATA / "session.bin").read_bytes(), "fixture is stale: SKYWARDEN_REGEN=1"
    # Re-registering after the reconnect re-declares the (unchanged) sensor.
    assert [s.id for s in sensors] == [RADAR, f"{RADAR}/pos", RADAR, CAMERA]
    assert sensors[0] == sensors[2]
    assert [r.detection.id for r in reports] == ["r1", "r2", "r3", "r4", "c1"]
    r1 = reports[0]
    assert (r1.detection.range_m, r1.detection.az_deg, r1.detection.el_deg) == (1500.0, 30.0, 5.0)
    assert r1.errors == {"range_m": 10.0, "az_deg": 0.5, "el_deg": 1.0}
    assert r1.classes == (("UAV", pytest.approx(0.8)),) and r1.confidence == pytest.approx(0.9)
    # After the reconnect the node keeps its kind and location: r4 flows.
    r4 = reports[3].detection
    assert (r4.sensor, r4.range_m) == (RADAR, 1500.0)
    assert (r4.az_deg, r4.el_deg) == pytest.approx(
        (math.degrees(0.5), math.degrees(0.125)), abs=1e-12
    )
    assert [s.system for s in statuses].count("disconnected") == 3
    assert {s.system for s in statuses} == {"ok", "disconnected"}
    reasons = sorted({r.split(":")[0] for (_, _, r) in server.rejections.samples})
    assert reasons == ["sapient-location", "sapient-protobuf", "sapient-value"]


def test_read_file_matches_readme() -> None:
    out = list(sapient.read_file(DATA / "session.bin"))
    dets = [o.detection for o in out if isinstance(o, sapient.SapientReport)]
    rej = [o.reason.split(":")[0] for o in out if isinstance(o, Rejected)]
    assert [
        (d.sensor, d.t, d.range_m, d.az_deg, d.el_deg, d.lat, d.lon, d.alt_m) for d in dets
    ] == [
        (RADAR, T0 + 1.0, 1500.0, 30.0, 5.0, None, None, None),
        (RADAR, T0 + 2.0, 1480.0, 30.5, 5.25, None, None, None),
        (f"{RADAR}/pos", T0 + 2.5, None, None, None, 46.01, 14.51, 420.0),
        (RADAR, T0 + 3.0, 1500.0, math.degrees(0.5), math.degrees(0.125), None, None, None),
        (CAMERA, T0 + 3.5, None, 120.0, 10.0, None, None, None),
    ]
    assert rej == ["sapient-value", "sapient-protobuf", "sapient-location"]


def test_unregistered_node_and_tasks_are_rejected() -> None:
    nodes: dict[str, sapient.NodeInfo] = {}
    rep = rb_report(RADAR, T0, "x", rng=1.0, az=1.0, el=1.0).SerializeToString()
    res = sapient.decode_message(rep, T0, nodes)
    assert res.outputs[0].reason.startswith("sapient-unregistered")
    res = sapient.decode_message(
        registration(RADAR, T0, NodeType.NODE_TYPE_RADAR).SerializeToString(), T0, nodes
    )
    assert res.node is not None and res.node.kind == "radar"
    nodes[RADAR] = res.node
    # Registered but no location yet: range/bearing cannot be placed.
    res = sapient.decode_message(rep, T0, nodes)
    assert res.outputs[0].reason.startswith("sapient-location")
    task = message(RADAR, T0, task={"task_id": "t"}).SerializeToString()
    assert sapient.decode_message(task, T0, nodes).outputs[0].reason.startswith("sapient-task")


def test_jammer_node_type_reports_no_kind() -> None:
    # An effector registering is acknowledged, but its bearings are not turned into detections.
    nodes: dict[str, sapient.NodeInfo] = {}
    res = sapient.decode_message(
        registration(RADAR, T0, NodeType.NODE_TYPE_JAMMER).SerializeToString(), T0, nodes
    )
    assert res.node is not None and res.node.kind is None
    nodes[RADAR] = res.node
    out = sapient.decode_message(
        rb_report(RADAR, T0, "x", az=1.0, el=1.0).SerializeToString(), T0, nodes
    )
    assert out.outputs[0].reason.startswith("sapient-kind")


# --- Framing and fuzzing -------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 97), min_size=1, max_size=40))
def test_splitter_any_chunking_gives_the_same_payloads(chunks: list[int]) -> None:
    data = (DATA / "session.bin").read_bytes()
    whole = list(sapient.iter_payloads(data))
    sp = sapient.FrameSplitter()
    got: list[bytes | Rejected] = []
    i = 0
    for n in chunks * (len(data) // sum(chunks) + 1):
        got += sp.feed(data[i : i + n])
        i += n
        if i >= len(data):
            break
    assert got == whole and sp.pending == 0


def test_absurd_length_breaks_only_that_stream() -> None:
    sp = sapient.FrameSplitter(max_bytes=1000)
    good = encode_frame(registration(RADAR, T0, NodeType.NODE_TYPE_RADAR))
    out = sp.feed(good + (5000).to_bytes(4, "little") + b"x" * 10 + good)
    assert isinstance(out[0], bytes)
    assert isinstance(out[1], Rejected) and out[1].reason.startswith("sapient-length")
    assert sp.broken and sp.feed(good) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_payloads_never_raise(payload: bytes) -> None:
    res = sapient.decode_message(payload, T0, {})
    assert all(
        isinstance(o, (sapient.SapientReport, Sensor, sapient.NodeStatus, sapient.Reply, Rejected))
        for o in res.outputs
    )


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_bit_flips_and_impossible_values(data: st.DataObject) -> None:
    nodes: dict[str, sapient.NodeInfo] = {}
    for m in (
        registration(RADAR, T0, NodeType.NODE_TYPE_RADAR),
        status(RADAR, T0, 46.0, 14.5, 300.0),
    ):
        res = sapient.decode_message(m.SerializeToString(), T0, nodes)
        assert res.node is not None
        nodes[RADAR] = res.node
    field = data.draw(st.sampled_from(["rng", "el"]))
    impossible = {
        "rng": [math.nan, math.inf, -1.0, 1e12],
        "el": [math.nan, -math.inf, 90.5, -400.0],
    }
    value = data.draw(st.sampled_from(impossible[field]))
    kw = {"rng": 100.0, "az": 10.0, "el": 1.0}
    kw[field] = value
    bad = sapient.decode_message(rb_report(RADAR, T0, "b", **kw).SerializeToString(), T0, nodes)
    assert len(bad.outputs) == 1 and isinstance(bad.outputs[0], Rejected)
    good = rb_report(RADAR, T0, "g", rng=100.0, az=10.0, el=1.0).SerializeToString()
    bit = data.draw(st.integers(0, 8 * len(good) - 1))
    flipped = bytearray(good)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)
    res = sapient.decode_message(bytes(flipped), T0, nodes)
    for o in res.outputs:
        if isinstance(o, sapient.SapientReport):
            d = o.detection
            assert isinstance(d, Detection) and d.range_m is not None and d.range_m >= 0
            assert math.isfinite(d.az_deg) and -90 <= d.el_deg <= 90
    # The valid message still flows after all that.
    assert isinstance(sapient.decode_message(good, T0, nodes).outputs[0], sapient.SapientReport)
