"""Remote ID decoder: worked examples from the field definitions, assembly, framing, text input."""

from __future__ import annotations

import math

import msgspec
import pytest

from skywarden.sources import pcap
from skywarden.sources import remoteid as rid
from skywarden.sources import remoteid_encode as enc
from skywarden.types import Detection, Rejected


def h(s: str) -> bytes:
    return bytes.fromhex(s)


# --- Worked examples, one per message type -----------------------------------------
#
# Each vector is written byte by byte from the F3411 field definitions
# (little-endian; altitudes raw = (alt_m + 1000) / 0.5; lat/lon raw = deg * 1e7).

# Location/Vector, protocol version 2:
LOCATION_V2 = h(
    "12"  # type 1 << 4 | version 2
    "27"  # status 2 (airborne) << 4 | height type 1 (AGL) << 2 | E/W bit 1 << 1 | speed mult 1
    "5a"  # direction 90 + 180 (E/W bit) = 270 deg
    "07"  # speed: 7 * 0.75 + 63.75 = 69.0 m/s (multiplier 1)
    "f9"  # vertical speed: int8 -7 * 0.5 = -3.5 m/s
    "90e3ae1e"  # lat 514778000 = 51.4778 deg
    "68c5ffff"  # lon -15000 = -0.0015 deg
    "c108"  # pressure altitude 2241 -> 120.5 m
    "1e09"  # geodetic altitude 2334 -> 167.0 m
    "8f08"  # height 2191 -> 95.5 m
    "4a"  # vertical accuracy 4 (<10 m) << 4 | horizontal accuracy 10 (<10 m)
    "32"  # baro accuracy 3 (<25 m) << 4 | speed accuracy 2 (<3 m/s)
    "3930"  # timestamp 12345 -> 1234.5 s after the hour
    "03"  # timestamp accuracy 3 -> 0.3 s
    "00"  # reserved
)

BASIC_ID_V2 = (
    h("02")  # type 0 | version 2
    + h("12")  # id type 1 (serial number) << 4 | UA type 2 (helicopter/multirotor)
    + b"1596F3C5A1000001".ljust(20, b"\x00")  # CTA-2063-A serial, NUL padded
    + h("000000")  # reserved
)

SYSTEM_V2 = h(
    "42"  # type 4 | version 2
    "05"  # classification 1 (EU) << 2 | operator location type 1 (dynamic)
    "60ebae1e"  # operator lat 514780000 = 51.478 deg
    "f0d8ffff"  # operator lon -10000 = -0.001 deg
    "0100"  # area count 1
    "03"  # area radius 3 * 10 = 30 m
    "6009"  # area ceiling 2400 -> 200.0 m
    "d007"  # area floor 2000 -> 0.0 m
    "12"  # EU category 1 (open) << 4 | EU class 2 (C1)
    "3408"  # operator altitude 2100 -> 50.0 m
    "00536709"  # timestamp 157766400 s after 2019-01-01 = 2024-01-01T00:00:00Z
    "00"  # reserved
)

AUTH_PAGE0_V2 = h(
    "22"  # type 2 | version 2
    "10"  # auth type 1 (UAS id signature) << 4 | page 0
    "01"  # last page index 1
    "1e"  # length 30 bytes
    "00536709"  # timestamp 157766400 s after 2019-01-01
) + bytes(range(1, 18))  # 17 data bytes

AUTH_PAGE1_V2 = h("2211") + bytes(range(18, 41))  # page 1: 23 data bytes

SELF_ID_V2 = h("3200") + b"Survey flight".ljust(23, b"\x00")  # desc type 0 (text)

OPERATOR_ID_V2 = h("5200") + b"FIN87astrdge12k8".ljust(20, b"\x00") + bytes(3)


def test_location_worked_example() -> None:
    m = rid.decode_message(LOCATION_V2)
    assert m == rid.Location(
        version=2,
        status=2,
        height_type=1,
        track_deg=270.0,
        speed_mps=69.0,
        vrate_mps=-3.5,
        lat=51.4778,
        lon=-0.0015,
        alt_pressure_m=120.5,
        alt_m=167.0,
        height_m=95.5,
        h_acc=10,
        v_acc=4,
        baro_acc=3,
        speed_acc=2,
        t_hour_s=1234.5,
        t_acc_s=pytest.approx(0.3),
    )
    assert rid.HORIZONTAL_ACCURACY_M[m.h_acc] == 10.0
    assert rid.VERTICAL_ACCURACY_M[m.v_acc] == 10.0
    assert rid.SPEED_ACCURACY_MPS[m.speed_acc] == 3.0


def test_location_from_dissector_screenshot() -> None:
    # Bytes and dissected raw values of the Location message shown in
    # opendroneid/wireshark-dissector img/screenshot.png (Apache-2.0): direction 40
    # with the West bit, speed 82 (x0.25), vert speed 126 (= 63 m/s, unknown), lat
    # 455605545, lon -1230027248, pressure alt 0 (unknown), geodetic 2474, height
    # 2200, baro accuracy 4, speed accuracy 1, timestamp 0, timestamp accuracy 10.
    # The dissector labels byte 19's nibbles horizontal=high; the standard and the
    # reference C library put vertical in the high nibble, as we do.
    raw = h("10 02 28 52 7e 29 fd 27 1b 10 46 af b6 00 00 aa 09 98 08 39 41 00 00 0a 00")
    m = rid.decode_message(raw)
    assert isinstance(m, rid.Location)
    assert m.version == 0 and m.status == 0 and m.height_type == 0
    assert m.track_deg == 220.0
    assert m.speed_mps == 20.5
    assert m.vrate_mps is None
    assert m.lat == 45.5605545 and m.lon == -123.0027248
    assert m.alt_pressure_m is None
    assert m.alt_m == 2474 * 0.5 - 1000.0 == 237.0
    assert m.height_m == 100.0
    assert (m.h_acc, m.v_acc, m.baro_acc, m.speed_acc) == (9, 3, 4, 1)
    assert m.t_hour_s == 0.0 and m.t_acc_s == 1.0


def test_basic_id_worked_example() -> None:
    assert rid.decode_message(BASIC_ID_V2) == rid.BasicId(
        version=2, id_type=rid.ID_TYPE_SERIAL, ua_type=2, uas_id="1596F3C5A1000001"
    )


def test_basic_id_binary_session_id_is_hex() -> None:
    raw = h("02 40") + h("e1 00 ff 10 20") + bytes(15) + bytes(3)  # session id, private type 0xE1
    m = rid.decode_message(raw)
    assert isinstance(m, rid.BasicId) and m.uas_id == "e100ff1020"
    assert enc.encode_basic_id(m) == raw


def test_system_worked_example() -> None:
    assert rid.decode_message(SYSTEM_V2) == rid.System(
        version=2,
        operator_location_type=1,
        classification_type=1,
        operator_lat=51.478,
        operator_lon=-0.001,
        area_count=1,
        area_radius_m=30.0,
        area_ceiling_m=200.0,
        area_floor_m=0.0,
        category_eu=1,
        class_eu=2,
        operator_alt_m=50.0,
        t_s=1704067200.0,
    )


def test_auth_pages_worked_example() -> None:
    p0 = rid.decode_message(AUTH_PAGE0_V2)
    assert p0 == rid.AuthPage(
        version=2,
        auth_type=1,
        page=0,
        last_page=1,
        length=30,
        t_s=1704067200.0,
        data=bytes(range(1, 18)),
    )
    p1 = rid.decode_message(AUTH_PAGE1_V2)
    assert p1 == rid.AuthPage(
        version=2,
        auth_type=1,
        page=1,
        last_page=None,
        length=None,
        t_s=None,
        data=bytes(range(18, 41)),
    )


def test_self_id_and_operator_id_worked_examples() -> None:
    assert rid.decode_message(SELF_ID_V2) == rid.SelfId(
        version=2, desc_type=0, text="Survey flight"
    )
    assert rid.decode_message(OPERATOR_ID_V2) == rid.OperatorId(
        version=2, id_type=0, operator_id="FIN87astrdge12k8"
    )


def test_pack_worked_example() -> None:
    pack = h("f21903") + BASIC_ID_V2 + LOCATION_V2 + SYSTEM_V2 + bytes(10)  # + padding
    out = rid.decode_pack(pack)
    assert isinstance(out, list)
    assert [type(m) for m in out] == [rid.BasicId, rid.Location, rid.System]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (LOCATION_V2[:24], "length"),
        (LOCATION_V2 + b"\x00", "length"),
        (bytes((0x13,)) + LOCATION_V2[1:], "version"),  # protocol version 3: not defined
        (bytes((0x62,)) + LOCATION_V2[1:], "type"),  # message type 6: not defined
        (bytes((0xF2,)) + LOCATION_V2[1:], "type"),  # a pack header in a single message
        (LOCATION_V2[:2] + h("b6") + LOCATION_V2[3:], "location"),  # 182 + 180 = 362 deg
        (LOCATION_V2[:4] + h("7f") + LOCATION_V2[5:], "location"),  # 63.5 m/s vertical
        (LOCATION_V2[:4] + h("80") + LOCATION_V2[5:], "location"),  # -64 m/s vertical
        (LOCATION_V2[:5] + (900_000_001).to_bytes(4, "little") + LOCATION_V2[9:], "location"),
        (
            LOCATION_V2[:9]
            + (-1_800_000_001).to_bytes(4, "little", signed=True)
            + LOCATION_V2[13:],
            "location",
        ),
        (LOCATION_V2[:21] + (36_001).to_bytes(2, "little") + LOCATION_V2[23:], "location"),
        (
            SYSTEM_V2[:2] + (-900_000_001).to_bytes(4, "little", signed=True) + SYSTEM_V2[6:],
            "system",
        ),
        (h("02 52") + bytes(23), "basic_id"),  # id type 5: reserved
    ],
)
def test_impossible_values_are_rejected_with_reason(raw: bytes, kind: str) -> None:
    out = rid.decode_message(raw)
    assert isinstance(out, Rejected)
    assert out.reason.split(":", 1)[0] == kind


@pytest.mark.parametrize(
    ("pack", "kind"),
    [
        (h("f2 18 01") + BASIC_ID_V2, "pack"),  # message size 24
        (h("f2 19 0a") + BASIC_ID_V2 * 10, "pack"),  # 10 messages
        (h("f2 19 02") + BASIC_ID_V2, "pack"),  # truncated
        (h("f3 19 01") + BASIC_ID_V2, "version"),
        (h("f2 19"), "pack"),
    ],
)
def test_bad_packs_are_rejected(pack: bytes, kind: str) -> None:
    out = rid.decode_pack(pack)
    assert isinstance(out, Rejected) and out.reason.startswith(kind + ":")


def test_unknown_sentinels_decode_to_none() -> None:
    m = rid.Location(
        version=2, status=0, height_type=0, track_deg=None, speed_mps=None, vrate_mps=None,
        lat=None, lon=None, alt_pressure_m=None, alt_m=None, height_m=None,
        h_acc=0, v_acc=0, baro_acc=0, speed_acc=0, t_hour_s=None, t_acc_s=None,
    )  # fmt: skip
    raw = enc.encode_location(m)
    # direction 361 = 181 + E/W bit; speed 255 with multiplier; vertical 126 (63 m/s);
    # lat/lon 0; altitudes raw 0 (-1000 m); timestamp 0xFFFF.
    assert raw == h("12 03 b5 ff 7e 00000000 00000000 0000 0000 0000 00 00 ffff 00 00")
    assert rid.decode_message(raw) == m


# --- Assembly ------------------------------------------------------------------------


T0 = 1_700_000_000.0 - 1_700_000_000.0 % 3600.0  # a full UTC hour


def _loc(**kw: object) -> rid.Location:
    base = rid.decode_message(LOCATION_V2)
    assert isinstance(base, rid.Location)
    return msgspec.structs.replace(base, **kw)


def test_assembler_joins_basic_id_location_system() -> None:
    asm = rid.RemoteIdAssembler("rid-1")
    assert asm.feed_payload("aa", BASIC_ID_V2, T0 + 1234.0) == []
    assert asm.feed_payload("aa", SYSTEM_V2, T0 + 1234.1) == []
    (det,) = asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6)
    assert det == Detection(
        t=T0 + 1234.5,  # message timestamp (1234.5 s after the hour), not receive time
        sensor="rid-1",
        uas_id="1596F3C5A1000001",
        lat=51.4778,
        lon=-0.0015,
        alt_m=167.0,
        speed_mps=69.0,
        track_deg=270.0,
        vrate_mps=-3.5,
        operator_lat=51.478,
        operator_lon=-0.001,
    )


def test_location_before_id_is_held_then_emitted() -> None:
    asm = rid.RemoteIdAssembler("rid-1")
    assert asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6) == []
    (det,) = asm.feed_payload("aa", BASIC_ID_V2, T0 + 1235.0)
    assert isinstance(det, Detection) and det.uas_id == "1596F3C5A1000001"
    assert det.t == T0 + 1234.5


def test_location_without_basic_id_is_reported_anonymous() -> None:
    asm = rid.RemoteIdAssembler("rid-1", max_pending_s=3.0)
    loc2 = enc.encode_location(_loc(t_hour_s=1235.5))
    loc3 = enc.encode_location(_loc(t_hour_s=1236.5))
    assert asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6) == []  # held: the id may follow
    # A second Location and still no id: both are reported, without a UAS id.
    first, second = asm.feed_payload("aa", loc2, T0 + 1235.6)
    (third,) = asm.feed_payload("aa", loc3, T0 + 1236.6)  # no longer held
    for d, t in ((first, 1234.5), (second, 1235.5), (third, 1236.5)):
        assert isinstance(d, Detection)
        assert d.uas_id is None and d.id == "rid-anon:aa" and d.t == T0 + t
        assert (d.lat, d.lon, d.alt_m) == (51.4778, -0.0015, 167.0)
    assert asm.anonymous == {"aa": 3}


def test_held_location_stale_before_id_is_anonymous_and_flushed() -> None:
    asm = rid.RemoteIdAssembler("rid-1", max_pending_s=3.0)
    assert asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6) == []
    (d,) = asm.feed_payload("aa", BASIC_ID_V2, T0 + 1240.0)  # 5.4 s later: stale
    assert isinstance(d, Detection) and d.uas_id is None and d.t == T0 + 1234.5
    assert asm.feed_payload("bb", LOCATION_V2, T0 + 1234.6) == []
    (d,) = asm.flush()  # end of the file: the held Location is not lost
    assert d.id == "rid-anon:bb" and d.uas_id is None
    assert asm.flush() == []


def test_ids_are_per_transmitter_and_serial_preferred() -> None:
    asm = rid.RemoteIdAssembler("rid-1")
    caa = enc.encode_basic_id(
        rid.BasicId(version=2, id_type=rid.ID_TYPE_CAA, ua_type=2, uas_id="GBR-RP-1")
    )
    asm.feed_payload("aa", caa, T0 + 1234.0)
    asm.feed_payload("aa", BASIC_ID_V2, T0 + 1234.1)
    asm.feed_payload("bb", caa, T0 + 1234.1)
    (a,) = asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6)
    (b,) = asm.feed_payload("bb", LOCATION_V2, T0 + 1234.6)
    assert a.uas_id == "1596F3C5A1000001" and b.uas_id == "GBR-RP-1"
    assert asm.feed_payload("cc", LOCATION_V2, T0 + 1234.6) == []  # no id from cc


def _pack(*msgs: bytes) -> bytes:
    return h("f2") + bytes([25, len(msgs)]) + b"".join(msgs)


def test_two_drones_from_one_address_keep_their_own_ids() -> None:
    """Regression: packs of two drones relayed from one address (a hex file, a UDP peer).

    The second pack's Location used to take the stored serial of the first pack,
    merging both drones under one UAS id.
    """
    serial = BASIC_ID_V2.replace(b"1596F3C5A1000001", b"1581F5FJD228500D0123")[:25]
    caa = enc.encode_basic_id(
        rid.BasicId(version=2, id_type=rid.ID_TYPE_CAA, ua_type=2, uas_id="GBR-UAS-00042ABCDEF")
    )
    loc_b = enc.encode_location(_loc(lat=51.48, t_hour_s=1234.6))
    asm = rid.RemoteIdAssembler("rid-1")
    (a,) = asm.feed_payload("udp:10.0.0.5:4000", _pack(serial, LOCATION_V2), T0 + 1234.6)
    (b,) = asm.feed_payload("udp:10.0.0.5:4000", _pack(caa, loc_b), T0 + 1234.7)
    assert (a.uas_id, a.lat) == ("1581F5FJD228500D0123", 51.4778)
    assert (b.uas_id, b.lat) == ("GBR-UAS-00042ABCDEF", 51.48)
    (a2,) = asm.feed_payload("udp:10.0.0.5:4000", _pack(serial, LOCATION_V2), T0 + 1236.0)
    assert a2.uas_id == "1581F5FJD228500D0123"
    # A Location sent alone from that address cannot be attributed to either drone.
    loc_c = enc.encode_location(_loc(t_hour_s=1236.5))
    (r,) = asm.feed_payload("udp:10.0.0.5:4000", loc_c, T0 + 1236.6)
    assert isinstance(r, Rejected) and r.reason.startswith("uas_id_ambiguous:")


def test_two_drones_from_one_udp_peer_keep_their_own_ids_in_the_live_input() -> None:
    """The same regression through the service's UDP input, where the address is the peer."""
    import asyncio
    import socket

    from skywarden.sources.base import RejectionCounter
    from skywarden.sources.live import RemoteIdUdpEndpoint

    serial = BASIC_ID_V2.replace(b"1596F3C5A1000001", b"1581F5FJD228500D0123")[:25]
    caa = enc.encode_basic_id(
        rid.BasicId(version=2, id_type=rid.ID_TYPE_CAA, ua_type=2, uas_id="GBR-UAS-00042ABCDEF")
    )
    packs = [_pack(serial, LOCATION_V2), _pack(caa, enc.encode_location(_loc(lat=51.48)))]
    got: list[Detection] = []

    async def main() -> RejectionCounter:
        rej = RejectionCounter()
        ep = RemoteIdUdpEndpoint("rid-1", got.append, rejections=rej, clock=lambda: T0 + 1234.7)
        port = await ep.start("127.0.0.1", 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:  # one peer for both
            for p in packs:
                tx.sendto(p.hex().encode(), ("127.0.0.1", port))
        for _ in range(300):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        ep.close()
        return rej

    rej = asyncio.run(main())
    assert rej.total == 0
    assert sorted((d.uas_id, d.lat) for d in got) == [
        ("1581F5FJD228500D0123", 51.4778), ("GBR-UAS-00042ABCDEF", 51.48),
    ]  # fmt: skip


def test_one_drone_with_packs_of_some_of_its_ids_keeps_one_identity() -> None:
    caa = enc.encode_basic_id(
        rid.BasicId(version=2, id_type=rid.ID_TYPE_CAA, ua_type=2, uas_id="GBR-UAS-00042ABCDEF")
    )
    asm = rid.RemoteIdAssembler("rid-1")
    (a,) = asm.feed_payload("aa", _pack(BASIC_ID_V2, caa, LOCATION_V2), T0 + 1234.6)
    loc_b = enc.encode_location(_loc(t_hour_s=1235.5))
    (b,) = asm.feed_payload("aa", _pack(caa, loc_b), T0 + 1235.6)  # CAA id only this time
    assert a.uas_id == b.uas_id == "1596F3C5A1000001"
    (c,) = asm.feed_payload("aa", enc.encode_location(_loc(t_hour_s=1236.5)), T0 + 1236.6)
    assert isinstance(c, Detection) and c.uas_id == "1596F3C5A1000001"  # one drone: not ambiguous


def test_two_drones_sending_single_messages_from_one_address() -> None:
    caa_a = enc.encode_basic_id(
        rid.BasicId(version=2, id_type=rid.ID_TYPE_CAA, ua_type=2, uas_id="GBR-UAS-A")
    )
    caa_b = enc.encode_basic_id(
        rid.BasicId(version=2, id_type=rid.ID_TYPE_CAA, ua_type=2, uas_id="GBR-UAS-B")
    )
    asm = rid.RemoteIdAssembler("rid-1")
    asm.feed_payload("hex", caa_a, T0 + 1234.0)
    (a,) = asm.feed_payload("hex", LOCATION_V2, T0 + 1234.6)
    assert a.uas_id == "GBR-UAS-A"
    asm.feed_payload("hex", caa_b, T0 + 1235.0)  # a second id of the same type: another drone
    (r,) = asm.feed_payload("hex", enc.encode_location(_loc(t_hour_s=1235.5)), T0 + 1235.6)
    assert isinstance(r, Rejected) and r.reason.startswith("uas_id_ambiguous:")


def test_invalid_position_and_altitude_rejected() -> None:
    asm = rid.RemoteIdAssembler("rid-1")
    asm.feed_payload("aa", BASIC_ID_V2, T0)
    (r,) = asm.feed_payload("aa", enc.encode_location(_loc(lat=None, lon=None)), T0)
    assert isinstance(r, Rejected) and r.reason.startswith("position_unknown:")
    (r,) = asm.feed_payload("aa", enc.encode_location(_loc(alt_m=None)), T0)
    assert isinstance(r, Rejected) and r.reason.startswith("altitude_unknown:")


def test_duplicate_location_dropped_within_window() -> None:
    asm = rid.RemoteIdAssembler("rid-1", dup_window_s=1.0)
    asm.feed_payload("aa", BASIC_ID_V2, T0 + 1234.0)
    assert len(asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6)) == 1
    assert asm.feed_payload("aa", LOCATION_V2, T0 + 1234.7) == []  # same advert, other channel
    assert len(asm.feed_payload("aa", LOCATION_V2, T0 + 1236.0)) == 1


@pytest.mark.parametrize(
    ("t_hour_s", "t_rx_offset_s", "expected_offset_s"),
    [
        (3599.5, 3600.0 + 1.0, 3599.5),  # sent just before the hour, received just after
        (0.5, 3599.0, 3600.5),  # clock ahead of ours by 1.5 s across the hour
        (100.0, 1000.0, 1000.0),  # 15 min off: not trusted, receive time used
    ],
)
def test_message_time_resolved_against_receive_hour(
    t_hour_s: float, t_rx_offset_s: float, expected_offset_s: float
) -> None:
    asm = rid.RemoteIdAssembler("rid-1", max_time_offset_s=10.0)
    asm.feed_payload("aa", BASIC_ID_V2, T0 + t_rx_offset_s)
    (det,) = asm.feed_payload(
        "aa", enc.encode_location(_loc(t_hour_s=t_hour_s)), T0 + t_rx_offset_s
    )
    assert det.t == pytest.approx(T0 + expected_offset_s, abs=1e-6)


def test_receive_time_used_when_asked_or_unknown() -> None:
    asm = rid.RemoteIdAssembler("rid-1", use_message_time=False)
    asm.feed_payload("aa", BASIC_ID_V2, T0 + 1234.0)
    (det,) = asm.feed_payload("aa", LOCATION_V2, T0 + 1234.6)
    assert det.t == T0 + 1234.6
    (r,) = asm.feed_payload("aa", LOCATION_V2, math.nan)
    assert isinstance(r, Rejected) and r.reason.startswith("time:")


def test_transmitter_table_is_bounded() -> None:
    asm = rid.RemoteIdAssembler("rid-1", max_transmitters=3)
    for i in range(10):
        asm.feed_payload(f"tx{i}", BASIC_ID_V2, T0 + i)
    assert len(asm) == 3
    # tx0 was evicted: its id is forgotten.
    assert asm.feed_payload("tx0", LOCATION_V2, T0 + 11) == []


# --- Transports ---------------------------------------------------------------------------

MAC = "c0:ff:ee:12:34:56"


def _frames() -> list[tuple[str, bytes]]:
    pack = enc.encode_pack([rid.decode_message(LOCATION_V2), BASIC_ID_V2, SYSTEM_V2])
    return [
        (pcap.LINK_BLE_LL, enc.ble_extended_frame(MAC, 7, pack)),
        (pcap.LINK_BLE_LL_PHDR, enc.ble_phdr(enc.ble_extended_frame(MAC, 7, pack))),
        (pcap.LINK_IEEE80211, enc.wifi_beacon_frame(MAC, 7, pack, ssid="drone")),
        (pcap.LINK_RADIOTAP, enc.radiotap(enc.wifi_beacon_frame(MAC, 7, pack))),
        (pcap.LINK_IEEE80211, enc.wifi_nan_frame(MAC, 7, pack)),
    ]


@pytest.mark.parametrize(("link", "frame"), _frames())
def test_each_transport_gives_the_detection(link: str, frame: bytes) -> None:
    (item,) = pcap.extract(frame, link)
    assert isinstance(item, pcap.RidFrame)
    assert item.address == MAC and item.counter == 7
    asm = rid.RemoteIdAssembler("rid-1")
    (det,) = asm.decode_frame(frame, link, T0 + 1234.6)
    assert isinstance(det, Detection)
    assert (det.uas_id, det.lat, det.lon, det.alt_m) == (
        "1596F3C5A1000001",
        51.4778,
        -0.0015,
        167.0,
    )
    assert (det.operator_lat, det.operator_lon) == (51.478, -0.001)


def test_ble_legacy_frames_one_message_each() -> None:
    asm = rid.RemoteIdAssembler("rid-1")
    f1 = enc.ble_legacy_frame(MAC, 1, BASIC_ID_V2)
    f2 = enc.ble_legacy_frame(MAC, 1, LOCATION_V2)
    (item,) = pcap.extract(f1, pcap.LINK_BLE_LL)
    assert item.transport == "ble_legacy" and item.payload == BASIC_ID_V2
    assert asm.decode_frame(f1, pcap.LINK_BLE_LL, T0 + 1234.0) == []
    (det,) = asm.decode_frame(f2, pcap.LINK_BLE_LL, T0 + 1234.6)
    assert det.uas_id == "1596F3C5A1000001"


def test_crc_matches_real_ble5_capture() -> None:
    # The sniffer flags each packet's CRC as good or bad (flags bit 0); our CRC must
    # agree on every one of the 274 packets, and bad ones must not be decoded.
    path = "tests/data/remoteid/odid_bt5_lr_sample.pcapng"
    n_good = n_bad = 0
    for _, link, frame in pcap.iter_capture(path):
        assert link == pcap.LINK_NORDIC_BLE
        ll = frame[7 + frame[7] :]  # access address, then (LE Coded) the coding indicator
        length = ll[6]
        pdu, crc = ll[5 : 7 + length], ll[7 + length : 10 + length]
        crc_ok = bool(frame[8] & 0x01)
        assert (enc.ble_crc24(pdu) == crc) == crc_ok
        if crc_ok:
            n_good += 1
        else:
            n_bad += 1
            assert pcap.extract(frame, link) == []
    assert (n_good, n_bad) == (244, 30)


def test_non_remote_id_frames_give_nothing() -> None:
    other_service = (
        bytes.fromhex("d6be898e") + bytes((0x02, 12)) + bytes(6) + h("05 16 0f 18 01 02")
    )
    assert pcap.extract(other_service + b"\x00\x00\x00", pcap.LINK_BLE_LL) == []
    data_frame = bytes((0x08, 0x00)) + bytes(30)  # 802.11 data frame
    assert pcap.extract(data_frame, pcap.LINK_IEEE80211) == []
    (r,) = pcap.extract(b"", "token-ring")
    assert isinstance(r, Rejected)


def test_broken_remote_id_framing_is_rejected() -> None:
    frame = enc.wifi_beacon_frame(MAC, 7, enc.encode_pack([BASIC_ID_V2]))
    (r,) = pcap.extract(frame[:-10], pcap.LINK_IEEE80211)  # element cut short
    assert isinstance(r, Rejected) and r.reason.startswith("frame:")


# --- Text lines -----------------------------------------------------------------------------


def test_hex_lines_and_text_file(tmp_path) -> None:
    asm = rid.RemoteIdAssembler("rid-1")
    assert rid.decode_hex_line(BASIC_ID_V2.hex(" "), T0 + 1234.0, assembler=asm) == []
    (det,) = rid.decode_hex_line(LOCATION_V2.hex(":"), T0 + 1234.6, assembler=asm)
    assert det.uas_id == "1596F3C5A1000001"
    (r,) = rid.decode_hex_line("zz", T0, assembler=asm)
    assert isinstance(r, Rejected) and r.reason.startswith("hex:")

    path = tmp_path / "rx.txt"
    path.write_text(
        "# t_rx_s hex\n"
        f"{T0 + 1234.0} {BASIC_ID_V2.hex()}\n"
        f"{T0 + 1234.6} {LOCATION_V2.hex()}\n"
        f"{T0 + 1235.0} {LOCATION_V2[:20].hex()}\n"
        "garbage line\n"
    )
    out = list(rid.read_file(path, sensor_id="rid-1"))
    assert isinstance(out[0], Detection) and out[0].t == T0 + 1234.5
    assert isinstance(out[1], Rejected) and out[1].line == 4 and out[1].reason.startswith("length:")
    assert isinstance(out[2], Rejected) and out[2].line == 5
    assert len(out) == 3
