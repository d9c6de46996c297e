"""Every decoder under hostile input: nesting, size and encoding attacks, truncation.

No exception escapes, every bad item is a counted rejection with a reason, and the
good items around it are kept. Hypothesis runs are small (derandomised in CI by
the test-wide profile).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.sources import asterix48 as ax
from skywarden.sources import pcap, sapient
from skywarden.sources import remoteid as rid
from skywarden.types import Detection, Rejected, Sensor

DATA = Path(__file__).parents[1] / "data"
fuzz = settings(max_examples=60, deadline=None)
T0 = 1_700_000_000.0

hostile_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n: b"\x0b" * n, st.integers(1, 5000)),  # nested protobuf groups
    st.builds(lambda n: b"\x0a\xff\xff\xff\xff\x0f" * n, st.integers(1, 50)),  # huge lengths
    st.builds(lambda n: b"\x00" * n, st.integers(1, 500)),
    st.builds(lambda n: b"\xff" * n, st.integers(1, 500)),
)


def reasons(items) -> list[str]:
    return [o.reason for o in items if isinstance(o, Rejected)]


# --- SAPIENT ---------------------------------------------------------------------


def _framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "little") + payload


def _sapient_outputs(data: bytes) -> list:
    nodes: dict[str, sapient.NodeInfo] = {}
    out: list = []
    for p in sapient.iter_payloads(data):
        if isinstance(p, Rejected):
            out.append(p)
            continue
        res = sapient.decode_message(p, math.nan, nodes)
        if res.node is not None:
            nodes[res.node.node_id] = res.node
        out += [o for o in res.outputs if not isinstance(o, sapient.Reply)]
    return out


@fuzz
@given(st.lists(st.tuples(st.integers(0, 30), hostile_bytes.filter(len)), max_size=4))
def test_sapient_bad_messages_between_good_ones_cost_only_themselves(inserts):
    session = (DATA / "sapient" / "session.bin").read_bytes()
    payloads = [p for p in sapient.iter_payloads(session) if isinstance(p, bytes)]
    good = _sapient_outputs(session)
    mixed = list(payloads)
    for at, bad in sorted(inserts, reverse=True):
        mixed.insert(min(at, len(mixed)), bad)
    out = _sapient_outputs(b"".join(_framed(p) for p in mixed))
    kept = [o for o in out if not isinstance(o, Rejected)]
    reports = [o.detection for o in good if isinstance(o, sapient.SapientReport)]
    got = [o.detection for o in kept if isinstance(o, sapient.SapientReport)]
    # A garbage payload may parse as some other valid protobuf message, but it never
    # removes a good report; every extra item it causes is a rejection with a reason.
    assert all(d in got for d in reports)
    assert len(reasons(out)) >= len(reasons(good))
    assert all(r for r in reasons(out))


def test_sapient_deeply_nested_protobuf_is_a_rejection():
    for payload in (b"\x0b" * 100_000, b"\x0a\x80\x80\x80\x80\x08" + b"\x0a\x00" * 10):
        res = sapient.decode_message(payload, T0, {})
        assert [type(o) for o in res.outputs] == [Rejected]


# --- ASTERIX CAT048 ------------------------------------------------------------------

RADAR = Sensor(id="radar", kind="radar", lat=52.0, lon=4.0, alt_m=10.0)
DAY = ax.day_start_s(__import__("datetime").date(2024, 1, 1))


@fuzz
@given(hostile_bytes)
def test_asterix_garbage_after_good_blocks_keeps_their_plots(tail):
    good = (DATA / "asterix" / "plots.ast").read_bytes()
    want = [o for o in ax.decode_block(good, DAY + 3600.0, RADAR, DAY, default_alt_m=100.0)]
    got = ax.decode_block(good + tail, DAY + 3600.0, RADAR, DAY, default_alt_m=100.0)
    dets = [o for o in got if isinstance(o, Detection)]
    assert dets[: len([w for w in want if isinstance(w, Detection)])] == [
        w for w in want if isinstance(w, Detection)
    ]
    assert all(r for r in reasons(got))


def test_asterix_block_claiming_a_huge_length_is_a_rejection():
    out = ax.decode_block(b"\x30\xff\xff" + b"\x00" * 10, T0, RADAR, DAY)
    assert out and all(isinstance(o, Rejected) for o in out)


# --- Remote ID ---------------------------------------------------------------------

hex_junk = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["zz", "0" * 100_001, "\x00\x00", "ff" * 5000, "\udcff", "NaN", "1e999"]),
)


@fuzz
@given(st.lists(hex_junk, max_size=6))
def test_remoteid_hex_lines_never_raise_and_reject_with_a_reason(lines):
    asm = rid.RemoteIdAssembler("rid")
    for line in lines:
        for link in ("odid", "ble_ll", "ieee80211", "radiotap", "nordic_ble", "bogus"):
            out = rid.decode_hex_line(line, T0, assembler=asm, link=link)
            assert all(isinstance(o, (Detection, Rejected)) for o in out)
            assert all(r for r in reasons(out))


@pytest.fixture(scope="module")
def wifi_capture() -> tuple[bytes, list[Detection]]:
    path = DATA / "remoteid" / "odid_wifi_bcn_sample.pcap"
    dets = [o for o in rid.read_file(path, sensor_id="rid") if isinstance(o, Detection)]
    assert dets
    return path.read_bytes(), dets


@fuzz
@given(st.data())
def test_truncated_or_damaged_capture_keeps_what_was_decoded(tmp_path_factory, wifi_capture, data):
    raw, full = wifi_capture
    cut = data.draw(st.integers(0, len(raw)))
    flip = data.draw(st.none() | st.integers(0, max(0, cut - 1)))
    damaged = bytearray(raw[:cut])
    if flip is not None and damaged:
        damaged[flip] ^= 0xFF
    p = tmp_path_factory.mktemp("cap") / "c.pcap"
    p.write_bytes(bytes(damaged))
    try:
        out = list(rid.read_file(p, sensor_id="rid"))
    except ValueError as e:  # only a header too short to tell the file type or link
        assert cut < 24 or "link type" in str(e)
        return
    dets = [o for o in out if isinstance(o, Detection)]
    if flip is None:
        assert dets == full[: len(dets)]  # a prefix of the whole decode
        if cut >= 24:
            # Cut between two records the file ends cleanly; cut inside one, it says so.
            said = any(r.startswith("capture:") for r in reasons(out))
            assert said == (cut not in _record_ends(raw))
    assert all(r for r in reasons(out))


def _record_ends(raw: bytes) -> set[int]:
    """Offsets where a classic little-endian pcap's header or a record ends."""
    ends, i = {24}, 24
    while i + 16 <= len(raw):
        i += 16 + int.from_bytes(raw[i + 8 : i + 12], "little")
        ends.add(i)
    return ends


def test_capture_cut_mid_record_says_which_bytes_were_lost(tmp_path, wifi_capture):
    raw, full = wifi_capture
    p = tmp_path / "cut.pcap"
    p.write_bytes(raw[: len(raw) - 7])
    out = list(rid.read_file(p, sensor_id="rid"))
    lost = [r for r in reasons(out) if r.startswith("capture:")]
    assert len(lost) == 1 and f"..{len(raw) - 7} could not be read" in lost[0]
    dets = [o for o in out if isinstance(o, Detection)]
    assert dets and dets == full[: len(dets)]
    with pytest.raises(pcap.CaptureTruncated):
        list(pcap.iter_capture(p))


# --- ADS-B (AVR text, Beast binary) --------------------------------------------------

adsb = pytest.importorskip("skywarden.sources.adsb")
REF = (52.258, 3.918)


@fuzz
@given(st.lists(st.tuples(st.integers(0, 10), hex_junk), max_size=5))
def test_avr_garbage_lines_between_good_ones_cost_only_themselves(inserts):
    lines = (DATA / "adsb" / "book.avr").read_text().splitlines()
    want = [
        o
        for o in adsb.read_avr(lines, decoder=adsb.AdsbDecoder("a", *REF))
        if isinstance(o, Detection)
    ]
    mixed = list(lines)
    for at, bad in sorted(inserts, reverse=True):
        mixed.insert(min(at, len(mixed)), bad.replace("\n", " "))
    out = list(adsb.read_avr(mixed, decoder=adsb.AdsbDecoder("a", *REF)))
    got = [o for o in out if isinstance(o, Detection)]
    assert [(d.lat, d.lon, d.icao24) for d in got] == [(d.lat, d.lon, d.icao24) for d in want]
    assert all(r for r in reasons(out))


@fuzz
@given(st.lists(st.tuples(st.integers(0, 200), st.binary(max_size=60)), max_size=4))
def test_beast_stray_bytes_between_records_cost_only_themselves(inserts):
    data = (DATA / "adsb" / "book.beast").read_bytes()
    records = [r for r in adsb.split_beast(data) if not isinstance(r, Rejected)]
    want = [
        o
        for o in adsb.read_beast(data, decoder=adsb.AdsbDecoder("a", *REF))
        if isinstance(o, Detection)
    ]
    parts = [adsb.encode_beast(frame, ticks, sig) for _, ticks, sig, frame in records]
    for at, bad in sorted(inserts, reverse=True):
        parts.insert(
            at % (len(parts) + 1), bad.replace(b"\x1a", b"")
        )  # stray bytes outside records
    out = list(adsb.read_beast(b"".join(parts), decoder=adsb.AdsbDecoder("a", *REF)))
    got = [o for o in out if isinstance(o, Detection)]
    assert [(d.t, d.lat, d.lon) for d in got] == [(d.t, d.lat, d.lon) for d in want]
    assert all(r for r in reasons(out))
