"""Decoder throughput: messages per second, one core, per decoder.

Run: ``.venv/bin/python bench/decode.py [--seconds 1.0] [--only NAME]``

Each decoder contributes a section: a function returning a list of
:class:`BenchCase` (a name, a callable taking one raw input, and the inputs to
cycle through). Add a section by writing ``_<decoder>_cases()`` and listing it in
``SECTIONS``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True, slots=True)
class BenchCase:
    """``fn`` is called once per element of ``messages``; throughput counts those calls."""

    name: str
    fn: Callable[[bytes], object]
    messages: Sequence[bytes]


def run_case(case: BenchCase, seconds: float) -> tuple[int, float]:
    """Cycle through the case's messages for about ``seconds``; return (count, elapsed_s)."""
    fn, msgs = case.fn, case.messages
    n, t0 = 0, time.perf_counter()
    while True:
        for m in msgs:
            fn(m)
        n += len(msgs)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n, elapsed


# --- remoteid ----------------------------------------------------------------------------


def _remoteid_cases() -> list[BenchCase]:
    from skywarden.sources import pcap
    from skywarden.sources import remoteid as rid
    from skywarden.sources import remoteid_encode as enc

    rng = np.random.default_rng(0)
    t0 = 1_700_000_000.0
    n = 1_000
    lat = 47.0 + rng.uniform(-0.5, 0.5, n)
    lon = 8.0 + rng.uniform(-0.5, 0.5, n)
    locs = [
        rid.Location(
            version=2,
            status=2,
            height_type=0,
            track_deg=float(rng.uniform(0, 360)),
            speed_mps=float(rng.uniform(0, 40)),
            vrate_mps=float(rng.uniform(-5, 5)),
            lat=float(lat[i]),
            lon=float(lon[i]),
            alt_pressure_m=500.0,
            alt_m=float(rng.uniform(400, 700)),
            height_m=80.0,
            h_acc=10,
            v_acc=4,
            baro_acc=3,
            speed_acc=3,
            t_hour_s=float(i % 3600),
            t_acc_s=0.1,
        )
        for i in range(n)
    ]
    bid = rid.BasicId(version=2, id_type=1, ua_type=2, uas_id="1581F5FKD22910012345")
    sysm = rid.System(
        version=2, operator_location_type=1, classification_type=1, operator_lat=47.0,
        operator_lon=8.0, area_count=1, area_radius_m=0.0, area_ceiling_m=None, area_floor_m=None,
        category_eu=1, class_eu=2, operator_alt_m=450.0, t_s=t0,
    )  # fmt: skip
    loc_raw = [enc.encode_message(m) for m in locs]
    mixed = [enc.encode_message(m) for m in (bid, sysm)] + loc_raw[:8]
    macs = [f"c2:00:00:00:{i // 256:02x}:{i % 256:02x}" for i in range(100)]
    bid_raw = enc.encode_message(bid)
    # Legacy advertisers rotate single messages: here one Basic ID per four Locations.
    legacy = [
        enc.ble_legacy_frame(macs[i % 100], i, bid_raw if i % 5 == 0 else loc_raw[i])
        for i in range(n)
    ]
    beacons = [
        enc.radiotap(enc.wifi_beacon_frame(macs[i % 100], i, enc.encode_pack([bid, locs[i], sysm])))
        for i in range(n)
    ]

    asm_ble = rid.RemoteIdAssembler("bench-ble", dup_window_s=0.0)
    asm_wifi = rid.RemoteIdAssembler("bench-wifi", dup_window_s=0.0)
    return [
        BenchCase("remoteid: decode_message (location)", rid.decode_message, loc_raw),
        BenchCase("remoteid: decode_message (mixed types)", rid.decode_message, mixed),
        BenchCase(
            "remoteid: BLE legacy frame -> Detection",
            lambda f: asm_ble.decode_frame(f, pcap.LINK_BLE_LL, t0),
            legacy,
        ),
        BenchCase(
            "remoteid: Wi-Fi beacon (3-message pack) -> Detection",
            lambda f: asm_wifi.decode_frame(f, pcap.LINK_RADIOTAP, t0),
            beacons,
        ),
    ]


# --- asterix48 ---------------------------------------------------------------------------


def _asterix48_cases() -> list[BenchCase]:
    from skywarden.sources import asterix48 as ax
    from skywarden.types import Sensor

    rng = np.random.default_rng(0)
    n = 1_000
    plots = [
        ax.Plot(
            sac=1, sic=2, tod_s=int(rng.integers(0, 86400 * 128)) / 128, typ=5,
            rho_m=int(rng.integers(100, 20000)) / 256 * ax.NM_TO_M,
            theta_deg=int(rng.integers(0, 65536)) * 360 / 65536, mode3a="7000", mode3a_ok=True,
            fl=int(rng.integers(4, 1600)) / 4, fl_ok=True, icao24=f"{int(rng.integers(0, 2**24)):06x}",
        )
        for _ in range(n)
    ]  # fmt: skip
    # One plot per data block: the per-block overhead counts against the rate.
    blocks = [ax.encode_plots([p]) for p in plots]
    sensor = Sensor(id="bench-radar", kind="radar", lat=46.0, lon=14.5, alt_m=300.0)
    day = 1_714_521_600.0
    return [
        BenchCase(
            "asterix48: decode_block (1 plot/block) -> Detection",
            lambda b: ax.decode_block(b, day + 43200.0, sensor, day),
            blocks,
        ),
    ]


# --- adsb --------------------------------------------------------------------------------


def _adsb_cases() -> list[BenchCase]:
    from skywarden.sources import adsb

    try:
        dec = adsb.AdsbDecoder("bench-adsb", 52.258, 3.918)
    except adsb.AdsbUnavailable:
        return []  # pyModeS is an optional extra
    frames = [
        bytes.fromhex(h)
        for h in (
            "8D40621D58C386435CC412692AD6",
            "8D40621D58C382D690C8AC2863A7",
            "8D485020994409940838175B284F",
            "8D4840D6202CC371C32CE0576098",
        )
    ]
    return [BenchCase("adsb: AdsbDecoder.feed (pyModeS)", lambda f: dec.feed(f, 1.0), frames)]


SECTIONS: dict[str, Callable[[], list[BenchCase]]] = {
    "remoteid": _remoteid_cases,
    "asterix48": _asterix48_cases,
    "adsb": _adsb_cases,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per case")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one decoder's section")
    args = parser.parse_args()

    table = Table(title="Decoder throughput (one core)")
    table.add_column("case")
    table.add_column("messages", justify="right")
    table.add_column("messages/s", justify="right")
    table.add_column("us/message", justify="right")
    for name, make in SECTIONS.items():
        if args.only and name != args.only:
            continue
        for case in make():
            count, elapsed = run_case(case, args.seconds)
            rate = count / elapsed
            table.add_row(case.name, f"{count:,}", f"{rate:,.0f}", f"{1e6 / rate:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
