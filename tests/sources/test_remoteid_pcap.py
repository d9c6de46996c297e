"""Remote ID from capture files: the Open Drone ID project's real captures and a synthetic BLE 4 one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pymap3d
import pytest

from skywarden.sources import pcap
from skywarden.sources import remoteid as rid
from skywarden.sources import remoteid_encode as enc
from skywarden.types import Detection, Rejected

DATA = Path(__file__).resolve().parents[1] / "data" / "remoteid"


def _messages(path: Path) -> list[tuple[pcap.RidFrame, object]]:
    out = []
    for _, link, frame in pcap.iter_capture(path):
        for item in pcap.extract(frame, link):
            assert isinstance(item, pcap.RidFrame)
            out.extend((item, m) for m in rid.decode_payload(item.payload))
    return out


def test_wifi_beacon_capture() -> None:
    path = DATA / "odid_wifi_bcn_sample.pcap"
    msgs = _messages(path)
    assert {f.transport for f, _ in msgs} == {"wifi_beacon"}
    assert {f.address for f, _ in msgs} == {"84:cc:a8:60:43:24"}
    kinds = Counter(type(m).__name__ for _, m in msgs)
    assert kinds == {"BasicId": 21, "Location": 21, "SelfId": 21, "System": 21, "OperatorId": 21}
    # Strings readable in the raw bytes (the operator id is also the beacons' SSID).
    assert {m.uas_id for _, m in msgs if isinstance(m, rid.BasicId)} == {"MFG1A0123456789"}
    assert {m.text for _, m in msgs if isinstance(m, rid.SelfId)} == {"Recreational"}
    assert {m.operator_id for _, m in msgs if isinstance(m, rid.OperatorId)} == {"GBR-OP-123ABCD"}
    (system,) = {m for _, m in msgs if isinstance(m, rid.System)}

    out = list(rid.read_file(path, sensor_id="rid-1"))
    dets = [d for d in out if isinstance(d, Detection)]
    assert len(dets) == len(out) == 16  # 5 beacons repeat the previous location exactly
    assert all(d.uas_id == "MFG1A0123456789" and d.sensor == "rid-1" for d in dets)
    assert all(
        (d.operator_lat, d.operator_lon) == (system.operator_lat, system.operator_lon) for d in dets
    )
    assert all(d.alt_m == 237.0 and d.speed_mps == 20.5 for d in dets)

    # Physical consistency, independent of any one field: every position is within
    # visual line of sight of the operator (the recreational "open" category), and
    # successive positions are as far apart as the reported ground speed makes them.
    lat = np.array([d.lat for d in dets])
    lon = np.array([d.lon for d in dets])
    t = np.array([d.t for d in dets])
    e, n, _ = pymap3d.geodetic2enu(lat, lon, 237.0, system.operator_lat, system.operator_lon, 237.0)
    assert np.all(np.hypot(e, n) <= 1_000.0)
    ground_speed = np.hypot(np.diff(e), np.diff(n)) / np.diff(t)
    assert np.median(ground_speed) == pytest.approx(20.5, rel=0.05)


def test_wifi_nan_and_beacon_capture_without_basic_id() -> None:
    path = DATA / "odid_wifi_sample.pcap"
    frames = Counter()
    for _, link, frame in pcap.iter_capture(path):
        for item in pcap.extract(frame, link):
            assert isinstance(item, pcap.RidFrame)
            frames[item.transport] += 1
    assert frames == {"wifi_nan": 21, "wifi_beacon": 21}
    msgs = _messages(path)
    assert not any(isinstance(m, rid.BasicId) for _, m in msgs)
    locs = [m for _, m in msgs if isinstance(m, rid.Location)]
    assert len(locs) == 31
    # Regression: no Basic ID was ever sent, and this used to give no detection at
    # all. Every distinct Location is reported, as an anonymous Remote ID drone.
    asm = rid.RemoteIdAssembler("rid-1")
    out = list(rid.read_file(path, sensor_id="rid-1", assembler=asm))
    assert out and all(isinstance(d, Detection) for d in out)
    assert all(d.uas_id is None and d.id == "rid-anon:84:cc:a8:60:43:24" for d in out)
    assert {(d.lat, d.lon, d.alt_m) for d in out} == {(m.lat, m.lon, m.alt_m) for m in locs}
    assert asm.anonymous == {"84:cc:a8:60:43:24": len(out)}


def test_ble5_long_range_capture() -> None:
    path = DATA / "odid_bt5_lr_sample.pcapng"
    msgs = _messages(path)
    assert {(f.transport, f.address) for f, _ in msgs} == {("ble_ext", "e0:7d:ea:eb:2f:1c")}
    ids = {(m.id_type, m.ua_type, m.uas_id) for _, m in msgs if isinstance(m, rid.BasicId)}
    assert ids == {(rid.ID_TYPE_SERIAL, 2, "SSEVTFG93700070")}
    assert {m.text for _, m in msgs if isinstance(m, rid.SelfId)} == {"Drone ID demo"}
    assert {m.operator_id for _, m in msgs if isinstance(m, rid.OperatorId)} == {
        "FIN87astrdge12kxyz8"
    }
    locs = [m for _, m in msgs if isinstance(m, rid.Location)]
    assert locs and all(m.lat is None and m.lon is None for m in locs)  # no GNSS fix
    out = list(rid.read_file(path, sensor_id="rid-1"))
    assert out and all(
        isinstance(r, Rejected) and r.reason.startswith("position_unknown:") for r in out
    )


# --- Synthetic BLE 4 legacy capture (our encoder + dpkt), labelled as such ------------------


def _synthetic_flight(rng: np.random.Generator, n: int) -> list[tuple[float, float, float, float]]:
    """A drone's truth (t_s, lat, lon, alt_m) at 1 Hz: a random walk in velocity."""
    t0 = 1_750_000_000.0
    lat0, lon0, alt0 = 48.85 + rng.uniform(-0.1, 0.1), 2.35 + rng.uniform(-0.1, 0.1), 150.0
    vel = np.zeros(3)
    enu = np.zeros(3)
    out = []
    for k in range(n):
        vel = np.clip(vel + rng.normal(0.0, [1.0, 1.0, 0.3]), -15.0, 15.0)
        enu = enu + vel
        lat, lon, alt = pymap3d.enu2geodetic(*enu, lat0, lon0, alt0)
        out.append((t0 + k, float(lat), float(lon), float(alt)))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_synthetic_ble_legacy_capture_round_trip(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = _synthetic_flight(rng, 40)
    mac = f"c2:00:00:00:00:{seed:02x}"
    basic = rid.BasicId(version=2, id_type=rid.ID_TYPE_SERIAL, ua_type=2, uas_id=f"SYN{seed:013d}")
    frames = []
    for k, (t, lat, lon, alt) in enumerate(truth):
        loc = rid.Location(
            version=2, status=2, height_type=0, track_deg=None, speed_mps=None, vrate_mps=None,
            lat=lat, lon=lon, alt_pressure_m=None, alt_m=alt, height_m=None,
            h_acc=10, v_acc=4, baro_acc=0, speed_acc=0, t_hour_s=t % 3600.0, t_acc_s=0.1,
        )  # fmt: skip
        # Legacy advertisers rotate single messages; each advert goes out on the
        # three advertising channels, which the sniffer records three times.
        msg = enc.encode_message(basic) if k % 4 == 0 else enc.encode_message(loc)
        ll = enc.ble_legacy_frame(mac, k, msg)
        frames += [(t + 0.05 + 0.001 * ch, enc.ble_phdr(ll, channel=37 + ch)) for ch in range(3)]
    path = tmp_path / "synthetic_ble_legacy.pcap"
    enc.write_pcap(path, frames, pcap.LINK_BLE_LL_PHDR)

    out = list(rid.read_file(path, sensor_id="rid-syn"))
    assert all(isinstance(d, Detection) for d in out)
    # Locations sent before the first Basic ID are held; one per frame slot k % 4 != 0.
    by_t = {round(t, 1): (lat, lon, alt) for t, lat, lon, alt in truth}
    assert len(out) == sum(1 for k in range(len(truth)) if k % 4)
    for d in out:
        lat, lon, alt = by_t[round(d.t, 1)]  # message time, not the sniffer's
        assert d.uas_id == basic.uas_id
        assert d.lat == pytest.approx(lat, abs=0.5e-7 + 1e-12)
        assert d.lon == pytest.approx(lon, abs=0.5e-7 + 1e-12)
        assert d.alt_m == pytest.approx(alt, abs=0.25 + 1e-9)


def test_unknown_capture_link_type(tmp_path: Path) -> None:
    path = tmp_path / "ethernet.pcap"
    import dpkt

    with path.open("wb") as fh:
        dpkt.pcap.Writer(fh, linktype=1).writepkt(b"\x00" * 60, ts=1.0)
    with pytest.raises(ValueError, match="link type 1"):
        list(rid.read_file(path, sensor_id="rid-1"))
