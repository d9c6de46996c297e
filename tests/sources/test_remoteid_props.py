"""Remote ID property tests: encode/decode round trips, and no input ever raises."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.sources import pcap
from skywarden.sources import remoteid as rid
from skywarden.sources import remoteid_encode as enc
from skywarden.types import Detection, Rejected

# Per-test settings (not a global profile: other suites share the session).
many = settings(max_examples=200, deadline=None)

T0 = 1_700_000_000.0


def fl(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def opt(s: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | s


versions = st.sampled_from(sorted(rid.SUPPORTED_VERSIONS))
nibble = st.integers(0, 15)
alt = opt(fl(-999.5, 31767.5))
ascii_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@st.composite
def locations(draw: st.DrawFn) -> rid.Location:
    pos = draw(opt(st.tuples(fl(-90.0, 90.0), fl(-180.0, 180.0))))
    return rid.Location(
        version=draw(versions),
        status=draw(st.integers(0, 4)),
        height_type=draw(st.integers(0, 1)),
        track_deg=draw(opt(fl(0.0, 359.999))),
        speed_mps=draw(opt(fl(0.0, 254.25))),
        vrate_mps=draw(opt(fl(-62.0, 62.0))),
        lat=pos[0] if pos else None,
        lon=pos[1] if pos else None,
        alt_pressure_m=draw(alt),
        alt_m=draw(alt),
        height_m=draw(alt),
        h_acc=draw(nibble),
        v_acc=draw(nibble),
        baro_acc=draw(nibble),
        speed_acc=draw(nibble),
        t_hour_s=draw(opt(fl(0.0, 3600.0))),
        t_acc_s=draw(opt(fl(0.1, 1.5))),
    )


def systems() -> st.SearchStrategy[rid.System]:
    return st.builds(
        lambda version, olt, ct, pos, count, radius, ceil, floor, cat, cls, oalt, t: rid.System(
            version=version,
            operator_location_type=olt,
            classification_type=ct,
            operator_lat=pos[0] if pos else None,
            operator_lon=pos[1] if pos else None,
            area_count=count,
            area_radius_m=radius,
            area_ceiling_m=ceil,
            area_floor_m=floor,
            category_eu=cat,
            class_eu=cls,
            operator_alt_m=oalt,
            t_s=t,
        ),
        versions,
        st.integers(0, 3),
        st.integers(0, 7),
        opt(st.tuples(fl(-90.0, 90.0), fl(-180.0, 180.0))),
        st.integers(0, 0xFFFF),
        fl(0.0, 2550.0),
        alt,
        alt,
        nibble,
        nibble,
        alt,
        opt(st.integers(1, 0xFFFF_FFFF).map(lambda s: float(rid.EPOCH_2019_S + s))),
    )


def basic_ids() -> st.SearchStrategy[rid.BasicId]:
    return st.builds(
        lambda v, t, u, s: rid.BasicId(version=v, id_type=t, ua_type=u, uas_id=s),
        versions,
        st.integers(0, 4),
        nibble,
        ascii_text,
    )


def auth_pages() -> st.SearchStrategy[rid.AuthPage]:
    page0 = st.builds(
        lambda v, a, last, n, t, d: rid.AuthPage(
            version=v, auth_type=a, page=0, last_page=last, length=n, t_s=t, data=d.ljust(17, b"\0")
        ),
        versions,
        nibble,
        st.integers(0, 15),
        st.integers(0, 255),
        opt(st.integers(1, 0xFFFF_FFFF).map(lambda s: float(rid.EPOCH_2019_S + s))),
        st.binary(max_size=17),
    )
    other = st.builds(
        lambda v, a, p, d: rid.AuthPage(
            version=v,
            auth_type=a,
            page=p,
            last_page=None,
            length=None,
            t_s=None,
            data=d.ljust(23, b"\0"),
        ),
        versions,
        nibble,
        st.integers(1, 15),
        st.binary(max_size=23),
    )
    return page0 | other


def close(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol + 1e-9 * max(1.0, abs(b))


@many
@given(locations())
def test_location_round_trip(m: rid.Location) -> None:
    raw = enc.encode_location(m)
    d = rid.decode_message(raw)
    assert isinstance(d, rid.Location)
    if m.lat is not None and round(m.lat * 1e7) == 0 and round(m.lon * 1e7) == 0:
        assert d.lat is None  # rounds onto the "unknown" sentinel
    else:
        assert close(d.lat, m.lat, 0.5e-7) and close(d.lon, m.lon, 0.5e-7)
    if m.track_deg is None:
        assert d.track_deg is None
    else:
        diff = (d.track_deg - m.track_deg + 180.0) % 360.0 - 180.0
        assert abs(diff) <= 0.5 + 1e-9
    step = 0.25 if m.speed_mps is None or m.speed_mps <= 63.75 else 0.75
    assert close(d.speed_mps, m.speed_mps, step / 2)
    assert close(d.vrate_mps, m.vrate_mps, 0.25)
    for got, want in (
        (d.alt_m, m.alt_m),
        (d.alt_pressure_m, m.alt_pressure_m),
        (d.height_m, m.height_m),
    ):
        assert close(got, want, 0.25)
    assert close(d.t_hour_s, m.t_hour_s, 0.05)
    assert close(d.t_acc_s, m.t_acc_s, 0.05)
    assert (d.version, d.status, d.height_type) == (m.version, m.status, m.height_type)
    assert (d.h_acc, d.v_acc, d.baro_acc, d.speed_acc) == (
        m.h_acc,
        m.v_acc,
        m.baro_acc,
        m.speed_acc,
    )
    # Decoded values sit on the encoding grid: encoding them again is exact.
    assert enc.encode_location(d) == raw


@many
@given(systems())
def test_system_round_trip(m: rid.System) -> None:
    raw = enc.encode_system(m)
    d = rid.decode_message(raw)
    assert isinstance(d, rid.System)
    if (
        m.operator_lat is not None
        and round(m.operator_lat * 1e7) == 0
        and round(m.operator_lon * 1e7) == 0
    ):
        assert d.operator_lat is None
    else:
        assert close(d.operator_lat, m.operator_lat, 0.5e-7)
        assert close(d.operator_lon, m.operator_lon, 0.5e-7)
    assert close(d.area_radius_m, m.area_radius_m, 5.0)
    for got, want in (
        (d.area_ceiling_m, m.area_ceiling_m),
        (d.area_floor_m, m.area_floor_m),
        (d.operator_alt_m, m.operator_alt_m),
    ):
        assert close(got, want, 0.25)
    assert d.t_s == m.t_s
    assert (d.area_count, d.category_eu, d.class_eu) == (m.area_count, m.category_eu, m.class_eu)
    assert (d.operator_location_type, d.classification_type) == (
        m.operator_location_type,
        m.classification_type,
    )
    assert enc.encode_system(d) == raw


@many
@given(st.one_of(basic_ids(), auth_pages()))
def test_exact_round_trip_messages(m: rid.BasicId | rid.AuthPage) -> None:
    assert rid.decode_message(enc.encode_message(m)) == m


@many
@given(versions, st.integers(0, 255), ascii_text, ascii_text)
def test_text_messages_round_trip(version: int, kind: int, a: str, b: str) -> None:
    self_id = rid.SelfId(version=version, desc_type=kind, text=(a + b)[:23])
    op = rid.OperatorId(version=version, id_type=kind, operator_id=a)
    assert rid.decode_message(enc.encode_message(self_id)) == self_id
    assert rid.decode_message(enc.encode_message(op)) == op


@many
@given(st.lists(st.one_of(locations(), systems(), basic_ids(), auth_pages()), max_size=9), versions)
def test_pack_round_trip(msgs: list, version: int) -> None:
    out = rid.decode_pack(enc.encode_pack(msgs, version=version))
    assert isinstance(out, list) and len(out) == len(msgs)
    assert [type(m) for m in out] == [type(m) for m in msgs]
    assert [enc.encode_message(m) for m in out] == [enc.encode_message(m) for m in msgs]


# --- Never an exception ----------------------------------------------------------------


def _check_items(items: list, allowed: tuple[type, ...]) -> None:
    assert isinstance(items, list)
    for item in items:
        assert isinstance(item, allowed)
        if isinstance(item, Detection):
            # Every Detection we emit passes the scenario format's own validation.
            msgspec.json.decode(msgspec.json.encode(item), type=Detection)


def _all_paths(raw: bytes) -> None:
    one = rid.decode_message(raw)
    assert isinstance(one, (*rid.RidMessage.__args__, Rejected))
    pack = rid.decode_pack(raw)
    assert isinstance(pack, (list, Rejected))
    _check_items(rid.decode_payload(raw), (*rid.RidMessage.__args__, Rejected))
    asm = rid.RemoteIdAssembler("rid-p")
    _check_items(asm.feed_payload("x", raw, T0), (Detection, Rejected))
    for link in pcap.LINKS:
        _check_items(pcap.extract(raw, link), (pcap.RidFrame, Rejected))
        _check_items(asm.decode_frame(raw, link, T0), (Detection, Rejected))


@many
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _all_paths(raw)


@many
@given(
    st.binary(min_size=24, max_size=24), st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x4, 0x5]), versions
)
def test_random_message_bodies_never_raise(body: bytes, mtype: int, version: int) -> None:
    _all_paths(bytes(((mtype << 4) | version,)) + body)


def _valid_frames() -> list[bytes]:
    loc = rid.Location(
        version=2, status=2, height_type=0, track_deg=10.0, speed_mps=5.0, vrate_mps=0.5,
        lat=47.0, lon=8.0, alt_pressure_m=500.0, alt_m=550.0, height_m=50.0,
        h_acc=10, v_acc=4, baro_acc=3, speed_acc=3, t_hour_s=12.3, t_acc_s=0.1,
    )  # fmt: skip
    bid = rid.BasicId(version=2, id_type=1, ua_type=2, uas_id="1581F5FKD22910012345")
    pack = enc.encode_pack([bid, loc])
    mac = "c2:11:22:33:44:55"
    return [
        enc.encode_message(loc),
        pack,
        enc.ble_legacy_frame(mac, 3, enc.encode_message(loc)),
        enc.ble_phdr(enc.ble_extended_frame(mac, 3, pack)),
        enc.radiotap(enc.wifi_beacon_frame(mac, 3, pack)),
        enc.wifi_nan_frame(mac, 3, pack),
    ]


VALID = _valid_frames()


@many
@given(st.sampled_from(VALID), st.data())
def test_truncated_and_bit_flipped_frames_never_raise(frame: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(frame)))
    _all_paths(frame[:cut])
    flips = data.draw(st.lists(st.integers(0, 8 * len(frame) - 1), min_size=1, max_size=4))
    mutated = bytearray(frame)
    for bit in flips:
        mutated[bit // 8] ^= 1 << (bit % 8)
    _all_paths(bytes(mutated))
