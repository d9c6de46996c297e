"""DJI DroneID on public over-the-air captures that this project did not make.

``tests/data/droneid/`` holds two captures of the Cyber-Defence Campus
RemoteIDReceiver project (MIT; provenance in its README and in
docs/data-sources.md): real 802.11 beacons received by a Wi-Fi card in monitor
mode, but sent by a DroneID *spoofer*, not by a DJI drone. The spoofer's packer
was written by others from Department 13's description of the element, so the
captures check our layout against an independent encoder and our framing against
real radiotap captures. No public capture of a real DJI drone's DroneID beacons
with a usable licence was found.

Independent truth: in ``mavic_alessa_spoofed`` the spoofer's user typed the drone
position 12° N 13° E, home and pilot 56° N 43° E and altitude 55 m (round numbers
that a wrong offset or scale would not produce); in ``mavic_multiple_spoofed`` the
spoofer placed 15 drones at random whole hundredths of a degree in a 0.09° square
near Bern.
"""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywarden.cli import app
from skywarden.sources import droneid, pcap
from skywarden.types import Detection

DATA = Path(__file__).resolve().parents[1] / "data" / "droneid"
ALESSA = DATA / "mavic_alessa_spoofed.pcapng"
MULTIPLE = DATA / "mavic_multiple_spoofed.pcapng"
# The spoofer writes floor(degrees × 174533): radians × 1e7 with the factor
# 1e7·π/180 = 174532.925 rounded up, so a typed value comes back 4.3e-7 larger
# (relative) and up to one step (5.7e-6°) lower.
REL = 5e-7
STEP_DEG = 6e-6


def typed(deg: float) -> object:
    """``deg`` as typed into the spoofer, to the spoofer's own precision."""
    return pytest.approx(deg, rel=REL, abs=STEP_DEG)


def _records(path: Path) -> list[tuple[float, str, droneid.DjiFlight]]:
    """Every DJI element of the capture, decoded, with its capture time and address."""
    out = []
    for t, link, frame in pcap.iter_capture(path):
        dot11 = pcap.radiotap_payload(frame) if link == pcap.LINK_RADIOTAP else frame
        for address, body in droneid.find_elements(dot11 or b""):
            got = droneid.decode_element(body)
            assert isinstance(got, droneid.DjiFlight), got
            out.append((t, address, got))
    return out


def test_typed_position_home_pilot_and_altitude_decode_exactly():
    recs = _records(ALESSA)
    assert len(recs) == 10
    for _t, address, f in recs:
        assert address.startswith("60:60:1f:")  # a DJI address block
        assert (f.version, f.serial) == (2, "K6RE0WENAH9P8QAL")
        assert (f.lat, f.lon) == (typed(12.0), typed(13.0))
        assert (f.home_lat, f.home_lon) == (typed(56.0), typed(43.0))
        assert (f.pilot_lat, f.pilot_lon) == (typed(56.0), typed(43.0))
        assert f.alt_m == 55.0


def test_spoofer_departures_from_the_published_layout_are_visible():
    """What this encoder writes differently from Kismet's and the NDSS layout.

    After the product type it writes the UUID length in two bytes, not one: the
    UUID "alessa" it carries therefore reads as empty (the length byte 6 is
    followed by a NUL). Where version 2 has an 8-byte GPS time it writes roll,
    pitch and four zero bytes, so the GPS time is not a date near the capture.
    Neither field reaches a detection.
    """
    (_t, _a, f), *_ = _records(ALESSA)
    assert f.uuid == ""
    t_capture = _records(ALESSA)[0][0]
    assert f.gps_time_s is not None and abs(f.gps_time_s - t_capture) > 365 * 86400


def test_fifteen_drones_each_from_its_own_address_at_whole_hundredths():
    recs = _records(MULTIPLE)
    assert len(recs) == 77
    addresses: dict[str, set[str]] = defaultdict(set)
    for _t, address, f in recs:
        addresses[f.serial].add(address)
        assert f.lat is not None and f.lon is not None
        for deg in (f.lat, f.lon):
            assert deg == typed(round(deg, 2))
    # The spoofer adds 0 to 9 hundredths to one corner point: a 0.09° square near Bern.
    lats = [f.lat for _t, _a, f in recs if f.lat is not None]
    lons = [f.lon for _t, _a, f in recs if f.lon is not None]
    assert max(lats) - min(lats) <= 0.09 + STEP_DEG and max(lons) - min(lons) <= 0.09 + STEP_DEG
    assert 46.0 < min(lats) < 47.5 and 7.0 < min(lons) < 8.0
    assert len(addresses) == 15
    assert all(len(a) == 1 for a in addresses.values())
    assert len({a for s in addresses.values() for a in s}) == 15


def test_other_frames_of_the_capture_give_nothing_and_repeats_are_dropped():
    """239 frames: 109 probe requests and 53 control frames besides the 77 beacons.

    The spoofer sends each record several times within a second; like a repeated
    Open Drone ID Location, a record repeated within 1 s from its address is counted
    and dropped instead of reported again.
    """
    dec = droneid.DroneIdDecoder("wifi")
    out = list(droneid.read_file(MULTIPLE, decoder=dec))
    assert all(isinstance(d, Detection) for d in out)
    assert dec.ignored == {"DJI DroneID repeat of the last record": 77 - len(out)}
    by_drone: dict[str, list[float]] = defaultdict(list)
    for d in out:
        assert d.uas_id is not None and d.uas_id.startswith("dji:")
        by_drone[d.uas_id].append(d.t)
    assert len(by_drone) == 15
    for times in by_drone.values():
        assert all(b - a >= 1.0 for a, b in pairwise(times))
    # Without the window every record is reported.
    every = droneid.DroneIdDecoder("wifi", dup_window_s=0.0)
    assert len(list(droneid.read_file(MULTIPLE, decoder=every))) == 77


def test_import_cli_on_the_public_capture(tmp_path: Path):
    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(
        app,
        ["import", "dji-droneid", str(ALESSA), "--out", str(out), "--lat", "12", "--lon", "13", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["decoded"] == 5 and report["n_rejected"] == 0
    assert report["ignored"] == {"DJI DroneID repeat of the last record": 5}
    dets = [json.loads(x) for x in out.read_text().splitlines()]
    dets = [d for d in dets if d["type"] == "detection"]
    assert {d["uas_id"] for d in dets} == {"dji:K6RE0WENAH9P8QAL"}
    assert (dets[0]["operator_lat"], dets[0]["operator_lon"]) == (typed(56.0), typed(43.0))
