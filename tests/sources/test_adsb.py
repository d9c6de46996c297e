"""ADS-B decoding against the worked examples of "The 1090 Megahertz Riddle" (J. Sun, CC BY-SA 4.0)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pyModeS")

from pyModeS.util import crc

from skywarden.sources import adsb
from skywarden.types import Detection, Rejected

DATA = Path(__file__).parent.parent / "data" / "adsb"
REF = (52.258, 3.918)  # the book's reference position for local decoding
EVEN = bytes.fromhex("8D40621D58C382D690C8AC2863A7")  # t = 1457996402
ODD = bytes.fromhex("8D40621D58C386435CC412692AD6")  # t = 1457996400
IDENT = bytes.fromhex("8D4840D6202CC371C32CE0576098")  # KLM1023
VELOCITY = bytes.fromhex("8D485020994409940838175B284F")  # 159 kt, 182.88 deg, -832 ft/min


def reframe(frame: bytes, icao: str) -> bytes:
    """The same ME field sent by another aircraft: new address, recomputed CRC-24."""
    body = frame[:1] + bytes.fromhex(icao) + frame[4:11]
    parity = crc(body.hex() + "000000")
    return body + parity.to_bytes(3, "big")


def test_global_pair_matches_book() -> None:
    dec = adsb.AdsbDecoder("rx", *REF)
    first = dec.feed(ODD, 1457996400.0)
    det = dec.feed(EVEN, 1457996402.0)
    assert isinstance(first, Detection)
    assert isinstance(det, Detection)
    # Book: lat 52.25720, lon 3.91937, altitude 38000 ft.
    assert det.lat == pytest.approx(52.25720, abs=5e-6)
    assert det.lon == pytest.approx(3.91937, abs=5e-6)
    assert det.alt_m == pytest.approx(38000 * 0.3048)
    assert det.icao24 == "40621d"


def test_local_decode_with_site_reference_matches_book() -> None:
    det = adsb.AdsbDecoder("rx", *REF).feed(EVEN, 1457996402.0)
    assert isinstance(det, Detection)
    assert det.lat == pytest.approx(52.2572, abs=5e-5)
    assert det.lon == pytest.approx(3.91937, abs=5e-5)


def test_pair_wins_over_wrong_reference_once_paired() -> None:
    # A receiver reference 2 degrees off is still within half a zone: local
    # decoding agrees with the pair, and the pair result is exact.
    dec = adsb.AdsbDecoder("rx", 51.0, 3.0)
    dec.feed(ODD, 100.0)
    det = dec.feed(EVEN, 105.0)
    assert isinstance(det, Detection)
    assert (det.lat, det.lon) == pytest.approx((52.2572021484375, 3.91937255859375), abs=1e-9)


def test_pair_older_than_window_is_not_used() -> None:
    dec = adsb.AdsbDecoder("rx", *REF)
    dec.feed(ODD, 0.0)
    # 11 s later the odd frame may belong to another latitude zone: the even
    # frame is decoded locally against the aircraft's last position instead,
    # which here gives the same place.
    det = dec.feed(EVEN, 11.0)
    assert isinstance(det, Detection)
    assert det.lat == pytest.approx(52.2572, abs=5e-5)


def test_far_aircraft_is_range_gated_once_a_pair_shows_it() -> None:
    # Receiver at (0, 0), aircraft near 52 N: one frame alone cannot tell, and
    # receiver-referenced decoding lands within 180 NM (the documented limit).
    dec = adsb.AdsbDecoder("rx", 0.0, 0.0)
    first = dec.feed(EVEN, 1.0)
    assert isinstance(first, Detection) and abs(first.lat) < 4.0
    paired = dec.feed(ODD, 2.0)
    assert isinstance(paired, Rejected) and paired.reason.startswith("adsb-range")
    # From then on only pairs are used: a lone frame waits, a pair is rejected.
    assert dec.feed(EVEN, 20.0) is None
    assert dec.ignored["awaiting CPR pair"] == 1
    assert isinstance(dec.feed(ODD, 21.0), Rejected)


def test_callsign_velocity_and_gnss_height_attach_to_position() -> None:
    dec = adsb.AdsbDecoder("rx", *REF)
    assert dec.feed(reframe(IDENT, "40621D"), 1.0) is None
    assert dec.feed(reframe(VELOCITY, "40621D"), 1.5) is None
    dec.feed(ODD, 2.0)
    det = dec.feed(EVEN, 3.0)
    assert isinstance(det, Detection)
    assert det.callsign == "KLM1023"
    assert det.speed_mps == pytest.approx(159 * 1852 / 3600)
    assert det.track_deg == pytest.approx(182.88, abs=0.01)
    assert det.vrate_mps == pytest.approx(-832 * 0.3048 / 60)
    # GNSS height = baro + (GNSS - baro) = 38000 + 550 ft.
    assert det.alt_m == pytest.approx((38000 + 550) * 0.3048)


def with_category(frame: bytes, tc: int, ca: int) -> bytes:
    """An identification frame with type code ``tc`` and emitter category ``ca``, CRC redone."""
    body = frame[:4] + bytes([(tc << 3) | ca]) + frame[5:11]
    return body + crc(body.hex() + "000000").to_bytes(3, "big")


@pytest.mark.parametrize(
    ("tc", "ca", "expected"),
    [(4, 7, "A7"), (4, 3, "A3"), (3, 1, "B1"), (3, 6, "B6"), (2, 1, "C1"), (4, 0, None)],
)
def test_emitter_category_attaches_to_position(tc: int, ca: int, expected: str | None) -> None:
    """DO-260B: the type code picks the set (4 A, 3 B, 2 C), the CA field the category;
    CA 0 is "no information" and gives none."""
    dec = adsb.AdsbDecoder("rx", *REF)
    assert dec.feed(reframe(with_category(IDENT, tc, ca), "40621D"), 1.0) is None
    dec.feed(ODD, 2.0)
    det = dec.feed(EVEN, 3.0)
    assert isinstance(det, Detection)
    assert det.emitter_cat == expected


def test_crc_error_rejected_and_other_formats_ignored() -> None:
    dec = adsb.AdsbDecoder("rx", *REF)
    bad = bytearray(IDENT)
    bad[-1] ^= 1
    out = dec.feed(bytes(bad), 0.0)
    assert isinstance(out, Rejected) and out.reason.startswith("adsb-crc")
    assert dec.feed(bytes.fromhex("5D484FDEA248F5"), 0.0) is None  # DF11 all-call reply
    assert dec.ignored["DF11"] == 1
    assert isinstance(dec.feed(b"\x8d\x00", 0.0), Rejected)


def test_missing_pymodes_gives_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyModeS", None)
    with pytest.raises(adsb.AdsbUnavailable, match=r"pip install 'skywarden\[adsb\]'"):
        adsb.AdsbDecoder("rx", *REF)


def test_read_avr_fixture() -> None:
    out = list(adsb.read_avr(DATA / "book.avr", decoder=adsb.AdsbDecoder("adsb", *REF)))
    dets = [o for o in out if isinstance(o, Detection)]
    rej = [o for o in out if isinstance(o, Rejected)]
    assert [d.t for d in dets] == [1457996400.0, 1457996402.0]
    assert (dets[1].lat, dets[1].lon) == (52.2572021484375, 3.91937255859375)
    assert len(rej) == 1 and rej[0].line == 6 and rej[0].reason.startswith("adsb-crc")


def test_avr_mlat_ticks_give_relative_times() -> None:
    lines = [
        "@00000000000A8D40621D58C386435CC412692AD6;",
        f"@{10 + 2 * 12_000_000:012X}8D40621D58C382D690C8AC2863A7;",
    ]
    dets = list(adsb.read_avr(lines, decoder=adsb.AdsbDecoder("rx", *REF), t0_s=1000.0))
    assert [d.t for d in dets if isinstance(d, Detection)] == [1000.0, 1002.0]


def test_read_beast_fixture_and_resync_after_garbage() -> None:
    data = (DATA / "book.beast").read_bytes()
    out = list(adsb.read_beast(data, decoder=adsb.AdsbDecoder("adsb", *REF), t0_s=1457913600.0))
    dets = [o for o in out if isinstance(o, Detection)]
    assert [d.t for d in dets] == [1457913601.0, 1457913603.0]
    assert (dets[1].lat, dets[1].lon) == (52.2572021484375, 3.91937255859375)
    # Cut the first record short and prepend junk: the rest still decodes.
    first_end = data.index(b"\x1a\x33", 2)
    broken = b"junk" + data[: first_end - 5] + data[first_end:]
    out2 = list(adsb.read_beast(broken, decoder=adsb.AdsbDecoder("adsb", *REF), t0_s=0.0))
    reasons = [o.reason.split(":")[0] for o in out2 if isinstance(o, Rejected)]
    assert "beast-sync" in reasons and "beast-truncated" in reasons
    assert len([o for o in out2 if isinstance(o, Detection)]) == 2


def test_beast_escaping_round_trip() -> None:
    frame = bytes.fromhex("8D1A1A1A58C382D690C8AC2863A7")
    rec = list(adsb.split_beast(adsb.encode_beast(frame, 0x1A1A1A1A1A1A, 0x1A)))
    assert rec == [(0x33, 0x1A1A1A1A1A1A, 0x1A, frame)]


# --- Fuzzing: never raise, every bad input counted -------------------------------


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=0, max_size=20))
def test_feed_random_bytes_never_raises(raw: bytes) -> None:
    out = adsb.AdsbDecoder("rx", *REF).feed(raw, 1.0)
    assert out is None or isinstance(out, (Detection, Rejected))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([EVEN, ODD, IDENT, VELOCITY]), st.integers(0, 111))
def test_single_bit_flip_never_yields_a_detection(frame: bytes, bit: int) -> None:
    flipped = bytearray(frame)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)
    dec = adsb.AdsbDecoder("rx", *REF)
    out = dec.feed(bytes(flipped), 1.0)
    assert not isinstance(out, Detection)
    if out is None:  # the flip moved it out of DF17/18: ignored, and counted
        assert sum(dec.ignored.values()) == 1


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_beast_random_bytes_never_raise(data: bytes) -> None:
    for o in adsb.read_beast(data, decoder=adsb.AdsbDecoder("rx", *REF)):
        assert isinstance(o, (Detection, Rejected))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=5))
def test_avr_random_lines_never_raise(lines: list[str]) -> None:
    for o in adsb.read_avr(lines, decoder=adsb.AdsbDecoder("rx", *REF)):
        assert isinstance(o, (Detection, Rejected))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40))
def test_truncated_beast_keeps_later_records(cut: int) -> None:
    good = (DATA / "book.beast").read_bytes()
    data = good[: max(2, len(good) // 5 - cut)] + good
    out = list(adsb.read_beast(data, decoder=adsb.AdsbDecoder("rx", *REF)))
    assert sum(isinstance(o, Detection) for o in out) >= 2


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0x8D, 0x90]), st.binary(min_size=10, max_size=10))
def test_random_payload_with_valid_crc_never_raises(head: int, body: bytes) -> None:
    # Valid parity reaches pyModeS's field decoders with arbitrary type codes.
    frame = bytes([head]) + body
    frame += crc(frame.hex() + "000000").to_bytes(3, "big")
    dec = adsb.AdsbDecoder("rx", *REF)
    for t in (1.0, 2.0):
        out = dec.feed(frame, t)
        assert out is None or isinstance(out, (Detection, Rejected))
        if isinstance(out, Detection):
            assert -90 <= out.lat <= 90 and -180 <= out.lon <= 180


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 17), min_size=1, max_size=30))
def test_beast_splitter_any_chunking_matches_whole(chunks: list[int]) -> None:
    data = b"xx" + (DATA / "book.beast").read_bytes()
    sp = adsb.BeastSplitter()
    got: list = []
    i = 0
    while i < len(data):
        for n in chunks:
            got += sp.feed(data[i : i + n])
            i += n
    whole = adsb.split_beast(data)
    # Stray bytes may be reported in pieces; the records must be the same.
    assert [r for r in got if not isinstance(r, Rejected)] == [
        r for r in whole if not isinstance(r, Rejected)
    ]
    assert sum(isinstance(r, Rejected) for r in got) >= 1


@pytest.mark.parametrize("fmt", ["avr", "beast"])
def test_live_feed_from_a_receiver(fmt: str) -> None:
    import asyncio

    from skywarden.sources.base import RejectionCounter

    if fmt == "beast":
        payload = (DATA / "book.beast").read_bytes()
    else:  # what dump1090 sends on port 30002: bare AVR lines
        lines = (DATA / "book.avr").read_text().splitlines()
        payload = "".join(ln.split(" ", 1)[1] + "\n" for ln in lines if ln[:1].isdigit()).encode()

    async def main() -> tuple[list[Detection], RejectionCounter]:
        async def serve(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            for k in range(0, len(payload), 7):  # dribble it out in small chunks
                w.write(payload[k : k + 7])
                await w.drain()
            w.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        dets: list[Detection] = []
        rej = RejectionCounter()
        ticks = iter(range(100))
        await asyncio.wait_for(
            adsb.run_feed(
                "127.0.0.1", port, fmt=fmt, decoder=adsb.AdsbDecoder("rx", *REF),
                on_detection=dets.append, rejections=rej, clock=lambda: 1000.0 + next(ticks),
            ),
            10.0,
        )  # fmt: skip
        server.close()
        await server.wait_closed()
        return dets, rej

    dets, rej = asyncio.run(main())
    assert [d.icao24 for d in dets] == ["40621d", "40621d"]
    assert (dets[1].lat, dets[1].lon) == (52.2572021484375, 3.91937255859375)
    assert dict(rej.counts) == {(f"adsb 127.0.0.1:{_port_of(rej)}", "checksum"): 1}


def _port_of(rej) -> str:
    ((source, _),) = rej.counts
    return source.rsplit(":", 1)[1]
