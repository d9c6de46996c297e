"""DJI DroneID over Wi-Fi (vendor element OUI 26:37:12 in beacons).

No public capture of a real DJI drone's DroneID beacons with a licence we could
use was found (public captures of a spoofer's beacons are read in
``test_droneid_captures.py``), so these frames are BUILT HERE from the published layout (Kismet's
``dot11_ie_221_dji_droneid.ksy`` for record version 1, the NDSS 2023 RUB-SysSec
record for version 2), written by the test's own packer below, wrapped in real
802.11 beacons behind radiotap headers and written to a real pcap by dpkt.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
from pathlib import Path

import dpkt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from skywarden.cli import app
from skywarden.sources import droneid, pcap, remoteid
from skywarden.sources.base import RejectionCounter
from skywarden.sources.live import RemoteIdUdpEndpoint
from skywarden.types import Detection, Rejected

SERIAL = "0K1CF5R0A2B3C4"
DRONE = (47.3977, 8.5456)  # lat, lon
PILOT = (47.3969, 8.5441)
HOME = (47.3970, 8.5440)
MAC = bytes.fromhex("60601f123456")
T0 = 1_700_000_000.0


def _rad7(deg: float) -> int:
    return round(math.radians(deg) * 1e7)


def flight_record(version: int = 2, *, serial: str = SERIAL, pos=DRONE, pilot=PILOT) -> bytes:
    """Element body after the OUI: vendor type, 2 unknown bytes, subcommand 0x10, record."""
    head = struct.pack(
        "<BHH16siihhhhh",
        version, 7, 0x0FFF, serial.encode(), _rad7(pos[1]), _rad7(pos[0]),
        120, 95, 300, -400, -150,
    )  # fmt: skip
    if version == 1:
        tail = struct.pack("<hhhiiB", 250, -120, 9000, _rad7(HOME[1]), _rad7(HOME[0]), 21)
    else:
        tail = struct.pack(
            "<hQiiiiB", -4500, 1_700_000_000_500, _rad7(pilot[0]), _rad7(pilot[1]),
            _rad7(HOME[1]), _rad7(HOME[0]), 58,
        )  # fmt: skip
    uuid = b"ABC123"
    return (
        bytes((0x58, 0x62, 0x13, 0x10)) + head + tail + bytes((len(uuid),)) + uuid.ljust(20, b"\0")
    )


def beacon(*bodies: bytes, mac: bytes = MAC) -> bytes:
    """Radiotap (flags: FCS at end) + 802.11 beacon with an SSID and the given DJI elements."""
    rt = struct.pack("<BBHI", 0, 0, 9, 0x02) + bytes((0x10,))
    hdr = bytes((0x80, 0)) + b"\0\0" + b"\xff" * 6 + mac + mac + b"\0\0"
    fixed = b"\0" * 8 + struct.pack("<HH", 100, 0x0401)
    ies = b"\x00\x0cMavic-123456"
    for b in bodies:
        ies += bytes((0xDD, 3 + len(b))) + droneid.DJI_OUI + b
    return rt + hdr + fixed + ies + b"\xde\xad\xbe\xef"  # FCS (not checked)


def write_pcap(path: Path, frames: list[bytes]) -> Path:
    with path.open("wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=127)
        for i, f in enumerate(frames):
            w.writepkt(f, ts=T0 + 0.2 * i)
    return path


def test_v2_record_decodes_every_field():
    # Positions are radians × 1e7: one step is 5.7e-6°, so agreement is within half a step.
    got = droneid.decode_element(flight_record(2))
    assert isinstance(got, droneid.DjiFlight)
    assert got.serial == SERIAL and got.version == 2 and got.seq == 7
    assert got.lat == pytest.approx(DRONE[0], abs=3e-6)
    assert got.lon == pytest.approx(DRONE[1], abs=3e-6)
    # The published decoders divide by 174533 (1e7 × π/180 = 174532.925, rounded): the same
    # position to the 4e-7 relative error of that rounding (2e-5° here, about 2 m).
    assert got.lat == pytest.approx(_rad7(DRONE[0]) / 174533.0, abs=3e-5)
    assert (got.alt_m, got.height_m) == (120.0, 95.0)
    assert (got.v_north_mps, got.v_east_mps, got.v_up_mps) == (3.0, -4.0, -1.5)
    assert got.yaw_deg == -45.0
    assert got.pilot_lat == pytest.approx(PILOT[0], abs=3e-6)
    assert got.pilot_lon == pytest.approx(PILOT[1], abs=3e-6)
    assert got.home_lat == pytest.approx(HOME[0], abs=3e-6)
    assert got.home_lon == pytest.approx(HOME[1], abs=3e-6)
    assert got.gps_time_s == 1_700_000_000.5
    assert got.product == "Mavic Air 2" and got.uuid == "ABC123"


def test_v1_record_has_attitude_and_no_pilot():
    got = droneid.decode_element(flight_record(1))
    assert isinstance(got, droneid.DjiFlight)
    assert (got.pitch_deg, got.roll_deg, got.yaw_deg) == (2.5, -1.2, 90.0)
    assert got.pilot_lat is None and got.product == "Spark"
    assert got.home_lat == pytest.approx(HOME[0], abs=3e-6)


def test_detection_identity_velocity_and_pilot_position():
    dec = droneid.DroneIdDecoder("wifi")
    out = dec.decode_frame(beacon(flight_record(2)), pcap.LINK_RADIOTAP, T0)
    assert len(out) == 1 and isinstance(out[0], Detection)
    d = out[0]
    assert d.uas_id == f"dji:{SERIAL}" and d.sensor == "wifi" and d.t == T0
    assert d.speed_mps == pytest.approx(5.0)
    assert d.track_deg == pytest.approx(math.degrees(math.atan2(-4.0, 3.0)) % 360.0)
    assert d.vrate_mps == -1.5 and d.alt_m == 120.0
    assert d.operator_lat == pytest.approx(PILOT[0], abs=3e-6)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (flight_record(2)[:30], "truncated"),
        (flight_record(2)[:50], "v2 of 46 bytes is truncated"),
        (
            flight_record(2)[:4] + b"\x03" + flight_record(2)[5:],
            "unsupported flight record version 3",
        ),
        (flight_record(2, serial="AB\x07CD"), "not printable"),
        (b"\x58\x62", "shorter than its 4-byte header"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(body: bytes, reason: str):
    got = droneid.decode_element(body)
    assert isinstance(got, Rejected) and reason in got.reason and got.reason.startswith("droneid:")


def test_bad_record_does_not_lose_the_good_one_in_the_same_frame():
    dec = droneid.DroneIdDecoder("wifi")
    frame = beacon(flight_record(2)[:20], flight_record(2))
    out = dec.decode_frame(frame, pcap.LINK_RADIOTAP, T0)
    assert [type(x) for x in out] == [Rejected, Detection]


def test_no_position_purpose_record_and_privacy_mode():
    dec = droneid.DroneIdDecoder("wifi")
    purpose = bytes((0x58, 0x62, 0x13, 0x11)) + b"SERIAL".ljust(16, b"\0")
    assert dec.decode_frame(beacon(purpose), pcap.LINK_RADIOTAP, T0) == []
    assert dec.decode_frame(beacon(flight_record(2, pos=(0.0, 0.0))), pcap.LINK_RADIOTAP, T0) == []
    assert dec.ignored == {
        "DJI DroneID flight purpose record": 1,
        "DJI DroneID telemetry without a position": 1,
    }
    (anon,) = dec.decode_frame(beacon(flight_record(2, serial="")), pcap.LINK_RADIOTAP, T0)
    assert anon.uas_id is None and anon.id == "dji-anon:60:60:1f:12:34:56"


def test_every_truncation_of_a_frame_is_safe():
    dec = droneid.DroneIdDecoder("wifi")
    frame = beacon(flight_record(2))
    for n in range(len(frame)):
        for item in dec.decode_frame(frame[:n], pcap.LINK_RADIOTAP, T0):
            assert isinstance(item, Rejected | Detection)


@given(st.binary(max_size=160))
def test_any_element_body_decodes_or_is_rejected(body: bytes):
    got = droneid.decode_element(body)
    assert isinstance(got, droneid.DjiFlight | Rejected | int)


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_frames_give_valid_detections_or_rejections(edits):
    frame = bytearray(beacon(flight_record(2)))
    for pos, value in edits:
        frame[pos % len(frame)] = value
    for item in droneid.DroneIdDecoder("wifi").decode_frame(bytes(frame), pcap.LINK_RADIOTAP, T0):
        if isinstance(item, Detection):
            assert -90.0 <= item.lat <= 90.0 and -180.0 <= item.lon <= 180.0
            assert item.operator_lat is None or -90.0 <= item.operator_lat <= 90.0
        else:
            assert item.reason.startswith("droneid:")


def test_live_remote_id_wifi_path_decodes_dji_too():
    asm = remoteid.RemoteIdAssembler("wifi")
    out = remoteid.decode_hex_line(
        beacon(flight_record(2)).hex(), T0, assembler=asm, link=pcap.LINK_RADIOTAP
    )
    assert [d.uas_id for d in out if isinstance(d, Detection)] == [f"dji:{SERIAL}"]


def test_live_udp_receiver_with_radiotap_link_reports_the_drone_and_counts_bad_frames():
    got: list[Detection] = []

    async def main() -> RejectionCounter:
        rej = RejectionCounter()
        ep = RemoteIdUdpEndpoint(
            "wifi", got.append, rejections=rej, clock=lambda: T0, link="radiotap"
        )
        port = await ep.start("127.0.0.1", 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for frame in (beacon(flight_record(2)[:40]), beacon(flight_record(2))):
                tx.sendto(frame.hex().encode(), ("127.0.0.1", port))
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
        ep.close()
        return rej

    rej = asyncio.run(main())
    assert [d.uas_id for d in got] == [f"dji:{SERIAL}"]
    assert sum(n for (_src, code), n in rej.counts.items() if code == "truncated") == 1
    assert [r for _t, _src, r in rej.samples if r.startswith("droneid:")] != []


def test_import_cli_writes_detections_and_counts_rejections(tmp_path: Path):
    frames = [beacon(flight_record(2, pos=(DRONE[0] + 1e-4 * i, DRONE[1]))) for i in range(5)]
    frames.insert(2, beacon(flight_record(2)[:33]))
    cap = write_pcap(tmp_path / "dji.pcap", frames)
    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(
        app,
        ["import", "dji-droneid", str(cap), "--out", str(out), "--lat", "47.39", "--lon", "8.54", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["decoded"] == 5 and report["n_rejected"] == 1
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    dets = [x for x in lines if x["type"] == "detection"]
    assert {d["uas_id"] for d in dets} == {f"dji:{SERIAL}"}
    assert [d["t"] for d in dets] == pytest.approx([T0, T0 + 0.2, T0 + 0.6, T0 + 0.8, T0 + 1.0])
    assert dets[4]["lat"] == pytest.approx(DRONE[0] + 4e-4, abs=3e-6)
    sensor = next(x for x in lines if x["type"] == "sensor")
    assert sensor["kind"] == "remoteid" and sensor["id"] == "dji-droneid"
