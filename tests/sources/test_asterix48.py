"""ASTERIX CAT048: the fast parser against libasterix, elevations, times, robustness."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

gen = pytest.importorskip("asterix.generated")

from asterix.base import Bits, RawDatablock  # noqa: E402

from skywarden.sources import asterix48 as ax  # noqa: E402
from skywarden.types import Detection, Rejected, Sensor  # noqa: E402

DATA = Path(__file__).parent.parent / "data" / "asterix"
SENSOR = Sensor(id="asterix48", kind="radar", lat=46.0, lon=14.5, alt_m=300.0)
DAY = ax.day_start_s(dt.date(2024, 5, 1))
CAT = gen.Cat_048_1_32

# Every other CAT048 item, to check that the parser skips each by its length.
EXTRA_ITEMS: dict[str, Any] = {
    "130": {"SRL": 5, "SAM": 7, "APD": 1},
    "240": 0x123456789ABC,
    "250": [0x1122334455667788, 0x99],
    "161": 0x0123,
    "042": 0x01020304,
    "200": 0x0A0B0C0D,
    "170": ((0, 0, 0, 0, 0, None), (0, 0, 0, 0, 0, None)),
    "210": 0x11223344,
    "030": [1, 2, 3],
    "080": 0x1234,
    "100": 0x11223344,
    "110": 0x0102,
    "120": {"CAL": 5, "RDS": [0x1A1A1A1A1A1A, 1]},
    "230": 0x1A1A,
    "260": 0x01020304050607,
    "055": 0x12,
    "050": 0x1234,
    "065": 0x12,
    "060": 0x1234,
    "SP": b"\x01\x02\x03",
    "RE": b"\x09\x08",
}


def libasterix_values(data: bytes) -> list[dict[str, Any]]:
    """The reference decode: libasterix's parse of the same bytes."""
    out = []
    for db in RawDatablock.parse(Bits.from_bytes(data)):
        for rec in CAT.cv_uap.parse(db.get_raw_records()):
            v: dict[str, Any] = {}
            if (i := rec.get_item("040")) is not None:
                v["rho_m"] = (
                    i.variation.get_item("RHO").variation.content.as_quantity("NM") * 1852.0
                )
                v["theta_deg"] = i.variation.get_item("THETA").variation.content.as_quantity("°")
            if (i := rec.get_item("140")) is not None:
                v["tod_s"] = i.variation.content.as_quantity("s")
            if (i := rec.get_item("090")) is not None:
                v["fl"] = i.variation.get_item("FL").variation.content.as_quantity("FL")
            if (i := rec.get_item("070")) is not None:
                v["mode3a"] = i.variation.get_item("MODE3A").variation.content.as_string()
            if (i := rec.get_item("220")) is not None:
                v["icao24"] = f"{i.variation.as_uint():06x}"
            if (i := rec.get_item("010")) is not None:
                v["sac"] = i.variation.get_item("SAC").variation.as_uint()
            out.append(v)
    return out


plots = st.builds(
    ax.Plot,
    sac=st.integers(0, 255),
    sic=st.integers(0, 255),
    tod_s=st.integers(0, 86400 * 128 - 1).map(lambda k: k / 128),
    typ=st.integers(1, 7),
    rho_m=st.integers(0, 65535).map(lambda k: k / 256 * 1852.0),
    theta_deg=st.integers(0, 65535).map(lambda k: k * 360 / 65536),
    mode3a=st.integers(0, 0o7777).map(lambda k: f"{k:04o}"),
    mode3a_ok=st.booleans(),
    fl=st.integers(-1500, 8191).map(lambda k: k / 4),
    fl_ok=st.booleans(),
    icao24=st.integers(0, 2**24 - 1).map(lambda k: f"{k:06x}"),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(plots, min_size=1, max_size=5))
def test_round_trip_through_libasterix(ps: list[ax.Plot]) -> None:
    data = ax.encode_plots(ps, per_block=3)
    got = ax.decode_plots(data)
    assert got == ps  # every value is on the item grid, so exact
    ref = libasterix_values(data)
    for g, r in zip(got, ref, strict=True):
        assert isinstance(g, ax.Plot)
        assert (g.rho_m, g.theta_deg, g.tod_s, g.fl) == pytest.approx(
            (r["rho_m"], r["theta_deg"], r["tod_s"], r["fl"]), abs=1e-9
        )
        assert (g.mode3a, g.icao24, g.sac) == (r["mode3a"], r["icao24"], r["sac"])


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(sorted(EXTRA_ITEMS))), plots)
def test_other_items_are_skipped_by_length(extra: set[str], p: ax.Plot) -> None:
    items = {k: EXTRA_ITEMS[k] for k in extra}
    items["040"] = (("RHO", (p.rho_m / 1852.0, "NM")), ("THETA", (p.theta_deg, "°")))
    items["090"] = (0, 0, ("FL", (p.fl, "FL")))
    items["220"] = int(p.icao24, 16)
    rec = CAT.cv_record.create(items)
    data = CAT.create([rec, rec]).unparse().to_bytes()
    got = ax.decode_plots(data)
    assert len(got) == 2
    for g in got:
        assert isinstance(g, ax.Plot)
        assert (g.rho_m, g.theta_deg, g.fl, g.icao24) == (p.rho_m, p.theta_deg, p.fl, p.icao24)


def test_fixture_matches_readme() -> None:
    ignored: Counter[str] = Counter()
    out = list(
        ax.read_file(DATA / "plots.ast", sensor=SENSOR, ref_day_start_s=DAY, ignored=ignored)
    )
    dets = [o for o in out if isinstance(o, Detection)]
    reasons = [o.reason.split(":")[0] for o in out if isinstance(o, Rejected)]
    assert [(d.t, d.range_m, d.az_deg) for d in dets] == [
        (1714564800.0, 18520.0, 45.0),
        (1714564800.5, 37966.0, 90.0),
        (1714564802.0, 1852.0, 359.9945068359375),
    ]
    # Regression: the CAT034 north marker between the CAT048 blocks was counted as
    # a rejection; it is a valid service message and is ignored.
    assert reasons == ["asterix-el", "asterix-sim"]
    assert ignored == {"CAT034 service message": 1}
    # Elevation check, independent of the module's formula: the target put
    # back along (az, el, range) lies at the flight-level altitude.
    for d, fl in zip(dets, (35.25, 100.0, 5.0), strict=True):
        _, _, alt = pymap3d.aer2geodetic(d.az_deg, d.el_deg, d.range_m, 46.0, 14.5, 300.0)
        assert alt == pytest.approx(fl * 100 * 0.3048, abs=1.0)


def test_default_altitude_is_an_explicit_choice() -> None:
    out = list(
        ax.read_file(DATA / "plots.ast", sensor=SENSOR, ref_day_start_s=DAY, default_alt_m=450.0)
    )
    psr = [o for o in out if isinstance(o, Detection) and o.az_deg == 270.0]
    assert len(psr) == 1
    _, _, alt = pymap3d.aer2geodetic(270.0, psr[0].el_deg, psr[0].range_m, 46.0, 14.5, 300.0)
    assert alt == pytest.approx(450.0, abs=0.5)


def test_time_of_day_wraps_at_midnight() -> None:
    late = ax.encode_plots(
        [ax.Plot(tod_s=86399.0, typ=5, rho_m=1852.0, theta_deg=0.0, fl=10.0, fl_ok=True)]
    )
    early = ax.encode_plots(
        [ax.Plot(tod_s=0.5, typ=5, rho_m=1852.0, theta_deg=0.0, fl=10.0, fl_ok=True)]
    )
    (a,) = ax.decode_block(late, DAY + 86399.2, SENSOR, DAY)
    (b,) = ax.decode_block(early, DAY + 86400.7, SENSOR, DAY)
    assert isinstance(a, Detection) and isinstance(b, Detection)
    assert (a.t, b.t) == (DAY + 86399.0, DAY + 86400.5)


def test_unvalidated_flight_level_and_impossible_geometry() -> None:
    p = ax.Plot(tod_s=1.0, typ=5, rho_m=100.0, theta_deg=0.0, fl=100.0, fl_ok=True)
    out = ax.decode_block(ax.encode_plots([p]), DAY, SENSOR, DAY)
    assert out[0].reason.startswith("asterix-geom")  # 3 km up but 100 m away
    q = ax.Plot(tod_s=1.0, typ=5, rho_m=1852.0, theta_deg=0.0, fl=100.0, fl_ok=False)
    out = ax.decode_block(ax.encode_plots([q]), DAY, SENSOR, DAY)
    assert out[0].reason.startswith("asterix-el")


# --- Fuzzing -----------------------------------------------------------------------


def _blocks() -> list[bytes]:
    data = (DATA / "plots.ast").read_bytes()
    out, i = [], 0
    while i < len(data):
        size = int.from_bytes(data[i + 1 : i + 3], "big")
        out.append(data[i : i + size])
        i += size
    return out


def _udp_capture(path: Path, datagrams: list[tuple[float, bytes]], *, ng: bool) -> None:
    """Ethernet/IPv4/UDP frames to port 8600, as tcpdump records a radar feed."""
    import dpkt

    with path.open("wb") as fh:
        w = dpkt.pcapng.Writer(fh) if ng else dpkt.pcap.Writer(fh)
        for t, payload in datagrams:
            udp = dpkt.udp.UDP(sport=40000, dport=8600, data=payload)
            udp.ulen = len(udp)
            ip = dpkt.ip.IP(
                src=bytes([10, 0, 0, 7]), dst=bytes([10, 0, 0, 1]), p=dpkt.ip.IP_PROTO_UDP,
                data=udp, ttl=64,
            )  # fmt: skip
            ip.len = len(ip)
            eth = dpkt.ethernet.Ethernet(
                src=b"\x02\x00\x00\x00\x00\x07", dst=b"\x02\x00\x00\x00\x00\x01",
                type=dpkt.ethernet.ETH_TYPE_IP, data=ip,
            )  # fmt: skip
            w.writepkt(bytes(eth), ts=t)


@pytest.mark.parametrize("ng", [False, True])
def test_capture_of_the_udp_feed_is_read_and_timed_by_it(tmp_path: Path, ng: bool) -> None:
    """CAT048 usually arrives as a UDP capture: no --date needed, the capture gives the day."""
    path = tmp_path / ("feed.pcapng" if ng else "feed.pcap")
    # One datagram per block, received 10 s after plot 1's time of day.
    _udp_capture(path, [(DAY + 43210.0 + 0.1 * k, b) for k, b in enumerate(_blocks())], ng=ng)
    ignored: Counter[str] = Counter()
    out = list(ax.read_file(path, sensor=SENSOR, ref_day_start_s=None, ignored=ignored))
    dets = [o for o in out if isinstance(o, Detection)]
    assert [(d.t, d.range_m, d.az_deg) for d in dets] == [
        (1714564800.0, 18520.0, 45.0),
        (1714564800.5, 37966.0, 90.0),
        (1714564802.0, 1852.0, 359.9945068359375),
    ]
    assert [o.reason.split(":")[0] for o in out if isinstance(o, Rejected)] == [
        "asterix-el", "asterix-sim",
    ]  # fmt: skip
    assert ignored == {"CAT034 service message": 1}


def test_raw_blocks_still_need_the_day(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="day"):
        list(ax.read_file(DATA / "plots.ast", sensor=SENSOR, ref_day_start_s=None))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_never_raise(data: bytes) -> None:
    for o in ax.decode_block(data, float("nan"), SENSOR, DAY):
        assert isinstance(o, (Detection, Rejected))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_truncated_and_bit_flipped_blocks(data: st.DataObject) -> None:
    good = (DATA / "plots.ast").read_bytes()
    cut = data.draw(st.integers(0, len(good)))
    bit = data.draw(st.integers(0, 8 * len(good) - 1))
    flipped = bytearray(good)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)
    for blob in (good[:cut], bytes(flipped)):
        out = ax.decode_block(blob, float("nan"), SENSOR, DAY)
        assert all(isinstance(o, (Detection, Rejected)) for o in out)
    # A broken block after a good one does not hide the good one's plots.
    out = ax.decode_block(good + good[:cut], float("nan"), SENSOR, DAY)
    assert sum(isinstance(o, Detection) for o in out) >= 3


def test_udp_endpoint_receives_datagrams() -> None:
    import asyncio
    import socket

    data = (DATA / "plots.ast").read_bytes()
    blocks = []
    i = 0
    while i < len(data):
        size = int.from_bytes(data[i + 1 : i + 3], "big")
        blocks.append(data[i : i + size])
        i += size

    async def main() -> tuple[list[Detection], ax.AsterixUdpEndpoint]:
        got: asyncio.Queue[Detection] = asyncio.Queue()
        ep = ax.AsterixUdpEndpoint(SENSOR, got.put_nowait, clock=lambda: DAY + 43210.0)
        host, port = await ep.start("127.0.0.1", 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for b in blocks:
                s.sendto(b, (host, port))
        dets = [await asyncio.wait_for(got.get(), 5.0) for _ in range(3)]
        await asyncio.sleep(0.1)  # the last datagram's rejections too
        ep.close()
        return dets, ep

    dets, ep = asyncio.run(main())
    assert [(d.t, d.range_m) for d in dets] == [
        (1714564800.0, 18520.0),
        (1714564800.5, 37966.0),
        (1714564802.0, 1852.0),
    ]
    assert ep.rejections.total == 2 and ep.ignored == {"CAT034 service message": 1}
