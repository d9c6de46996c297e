"""CAT062 output, sent over loopback UDP and decoded by an independent decoder.

The encoder is libasterix; the decoder is asterix4py (a different code base,
with its own XML category definitions, CAT062 edition 1.18). A few items are
also decoded by hand from the raw bytes, from the layout in the EUROCONTROL
CAT062 specification.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from asterix4py import AsterixParser

from skywarden.sinks.asterix62 import Asterix62Sink, mode_of_movement, track_number
from skywarden.sinks.config import Asterix62Config

from .helpers import T0_S, frame, make_track, scan

FR = frame()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
LSB_WGS84_DEG = 180.0 / 2**25
FT = 0.3048


def _tracks(t_s: float, rng: np.random.Generator):
    n = 12
    pos = np.column_stack(
        [rng.uniform(-8000, 8000, n), rng.uniform(-8000, 8000, n), rng.uniform(30, 3000, n)]
    )
    vel = rng.normal(0.0, 25.0, (n, 3))
    status = ["confirmed"] * 8 + ["tentative", "coasting", "confirmed", "deleted"]
    ident = [None] * 11 + [{"icao24": "40621d"}]
    tracks = [
        make_track(FR, 100 + i, t_s, pos[i], vel[i], status=status[i], identity=ident[i])
        for i in range(n)
    ]
    return tracks, pos, vel


async def _send_and_receive(cfg_kw: dict, scans) -> tuple[list[bytes], Asterix62Sink]:
    loop = asyncio.get_running_loop()
    grams: list[bytes] = []
    got = asyncio.Event()

    class Rx(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            grams.append(data)
            got.set()

    transport, _ = await loop.create_datagram_endpoint(Rx, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    sink = Asterix62Sink(Asterix62Config(host="127.0.0.1", port=port, **cfg_kw), FR)
    for s in scans:
        await sink.handle(s)
    while len(grams) < sink.sent_datagrams:
        got.clear()
        await asyncio.wait_for(got.wait(), 5.0)
    await sink.aclose()
    transport.close()
    return grams, sink


def _decode(grams: list[bytes]) -> list[dict]:
    recs = []
    for g in grams:
        assert g[0] == 62 and int.from_bytes(g[1:3], "big") == len(g)
        recs += list(AsterixParser(g).get_result().values())
    return recs


def test_cat062_fields_against_truth_with_independent_decoder():
    rng = np.random.default_rng(62)
    t1 = T0_S + 1.0
    tracks0, _, _ = _tracks(T0_S, rng)
    # Second scan: same tracks moved by their velocity, the first one turning right.
    tracks1 = []
    for tr in tracks0[:-1]:  # the deleted one does not come back
        enu = FR.to_enu(tr.lat, tr.lon, tr.alt_m) + np.array(tr.vel_enu_mps)
        vel = np.array(tr.vel_enu_mps)
        if tr.id == "T100":
            a = math.radians(20.0)  # 20 degrees clockwise in one second: right turn
            vel = np.array(
                [
                    vel[0] * math.cos(a) + vel[1] * math.sin(a),
                    -vel[0] * math.sin(a) + vel[1] * math.cos(a),
                    vel[2],
                ]
            )
        tracks1.append(
            make_track(FR, int(tr.id[1:]), t1, enu, vel, status=tr.status, identity=tr.identity)
        )
    cfg = dict(sac=25, sic=7, service_id=3, flight_level_from_alt=True, max_datagram_bytes=300)
    grams, sink = asyncio.run(_send_and_receive(cfg, [scan(T0_S, tracks0), scan(t1, tracks1)]))
    assert len(grams) > 2  # the 300-byte limit splits each scan
    assert all(len(g) <= 300 for g in grams)
    recs = _decode(grams)
    assert len(recs) == len(tracks0) + len(tracks1)
    first, second = recs[: len(tracks0)], recs[len(tracks0) :]
    for rec, tr, scan_no in [(r, t, 0) for r, t in zip(first, tracks0, strict=True)] + [
        (r, t, 1) for r, t in zip(second, tracks1, strict=True)
    ]:
        assert rec["cat"] == 62
        assert rec["010"] == {"SAC": 25, "SIC": 7}
        assert rec["015"]["SID"] == 3
        assert rec["070"]["ToT"] == pytest.approx(tr.t % 86400.0, abs=1 / 128)
        assert rec["105"]["Lat"] == pytest.approx(tr.lat, abs=LSB_WGS84_DEG)
        assert rec["105"]["Lon"] == pytest.approx(tr.lon, abs=LSB_WGS84_DEG)
        enu = FR.to_enu(tr.lat, tr.lon, tr.alt_m)
        assert rec["100"]["X"] == pytest.approx(enu[0], abs=0.5)
        assert rec["100"]["Y"] == pytest.approx(enu[1], abs=0.5)
        assert rec["185"]["Vx"] == pytest.approx(tr.vel_enu_mps[0], abs=0.25)
        assert rec["185"]["Vy"] == pytest.approx(tr.vel_enu_mps[1], abs=0.25)
        assert rec["040"]["TrkN"] == int(tr.id[1:])
        st = rec["080"]
        assert st["CNF"] == (1 if tr.status == "tentative" else 0)
        assert st["CST"] == (1 if tr.status == "coasting" else 0)
        assert st["TSE"] == (1 if tr.status == "deleted" else 0)
        assert st["TSB"] == (1 if scan_no == 0 else 0)
        assert st["SRC"] == (1 if tr.identity else 2)
        assert st["MRH"] == 1
        vu = tr.vel_enu_mps[2]
        assert rec["200"]["VERTA"] == (1 if vu > 0.5 else 2 if vu < -0.5 else 0)
        if scan_no == 0:
            assert rec["200"]["TRANSA"] == 3  # no history yet
        # asterix4py reports I062/136 in feet (its LSB is 25 ft = 1/4 FL).
        assert rec["136"]["MFL"] == pytest.approx(tr.alt_m / FT, abs=25.0)
        assert rec["130"]["Alt"] == pytest.approx(tr.alt_m / FT, abs=6.25)
    t100 = next(r for r in second if r["040"]["TrkN"] == 100)
    assert t100["200"]["TRANSA"] == 1  # right turn
    assert sink.sent_datagrams == len(grams)


def test_a_few_items_decoded_by_hand():
    tr = make_track(FR, 4242, T0_S, [1234.5, -987.0, 150.0], [12.25, -3.5, 0.0])
    grams, _ = asyncio.run(_send_and_receive(dict(sac=1, sic=2), [scan(T0_S, [tr])]))
    (g,) = grams
    # CAT, LEN, then FSPEC: I062/010 is the first UAP item (FRN 1), bit 8 of octet 1.
    fspec = []
    i = 3
    while True:
        fspec.append(g[i])
        i += 1
        if not g[i - 1] & 1:
            break
    assert fspec[0] & 0x80
    # FRN order: 010, spare, 015, 070, 105, 100, 185 (first octet) -> each present.
    assert fspec[0] == 0b1011_1111
    body = g[i:]
    assert body[0:2] == bytes([1, 2])  # SAC, SIC
    tot = int.from_bytes(body[3:6], "big") / 128.0  # after the 1-byte service id
    assert tot == pytest.approx(T0_S % 86400, abs=1 / 128)
    lat = int.from_bytes(body[6:10], "big", signed=True) * LSB_WGS84_DEG
    lon = int.from_bytes(body[10:14], "big", signed=True) * LSB_WGS84_DEG
    assert (lat, lon) == pytest.approx((tr.lat, tr.lon), abs=LSB_WGS84_DEG)
    x = int.from_bytes(body[14:17], "big", signed=True) * 0.5
    y = int.from_bytes(body[17:20], "big", signed=True) * 0.5
    assert (x, y) == pytest.approx((1234.5, -987.0), abs=0.5)
    vx = int.from_bytes(body[20:22], "big", signed=True) * 0.25
    vy = int.from_bytes(body[22:24], "big", signed=True) * 0.25
    assert (vx, vy) == (12.25, -3.5)


def test_track_number_and_mode_of_movement():
    assert track_number("T17") == 17
    assert track_number("T65537") == 1
    assert 0 <= track_number("remote-abc") < 65536
    assert track_number("remote-abc") == track_number("remote-abc")
    v0 = np.array([0.0, 10.0, 0.0])  # north
    left = np.array([-10 * math.sin(0.2), 10 * math.cos(0.2), -2.0])  # turned west, descending
    assert mode_of_movement(v0, left, 1.0) == (2, 0, 2)
    faster = np.array([0.0, 15.0, 1.0])
    assert mode_of_movement(v0, faster, 1.0) == (0, 1, 1)
    assert mode_of_movement(None, v0, 0.0) == (3, 3, 0)
