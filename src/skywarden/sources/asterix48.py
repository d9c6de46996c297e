"""ASTERIX CAT048 (monoradar target reports) -> ``radar`` Detections.

Input is raw ASTERIX: one or more data blocks (``CAT`` 1 byte, ``LEN`` 2 bytes
big-endian including these 3, then records), as a radar sends them over UDP
or as a recorder concatenates them in a file. Items used (Eurocontrol CAT048
ed. 1.2x-1.32):

- I048/010 SAC/SIC (data source), I048/020 target report descriptor
  (TYP, SIM, RAB, TST), I048/140 time of day (1/128 s since UTC midnight),
- I048/040 measured position: rho in NM/256 -> metres (1 NM = 1852 m),
  theta in 360/2^16 degrees, clockwise from north,
- I048/070 Mode-3/A code, I048/090 flight level (1/4 FL, i.e. 25 ft),
  I048/220 Mode-S aircraft address.

Every other item is skipped by its length. Simulated (SIM), test (TST),
field-monitor (RAB) and "no detection" (TYP=0) reports are rejected with a
reason: none of them is a real target.

Elevation: a 2-D surveillance radar measures no elevation. With a validated
Mode C flight level, the target's height is taken as the pressure altitude
(FL x 100 ft; this ignores the local pressure deviation and the geoid, tens of
metres) and the elevation is the geometric one on a spherical Earth of radius
``EARTH_R_M`` (no refraction, as the tracker's measurement model assumes):
``sin(el) = ((R+h_t)^2 - (R+h_s)^2 - rho^2) / (2 (R+h_s) rho)``. Without Mode C
the plot is rejected ("asterix-el") unless the caller gives ``default_alt_m``,
an assumed target altitude (above the ellipsoid) to compute the elevation
from: feeding an invented elevation silently would pull tracks to the radar's
horizon, so assuming a height must be a visible choice of the operator.

CAT034 (monoradar service messages: north markers, sector crossings) travels
with CAT048 on the same feed; its blocks are valid and carry no target, so they
are counted as ignored, not rejected. Other categories are rejected.

Files: concatenated raw data blocks, or a pcap/pcapng capture of the UDP feed
(Ethernet, Linux cooked v1/v2, raw IP or BSD loopback link types); in a capture
each datagram is timed by the capture, which also gives the day of I048/140.

Why a hand-written parser: libasterix (MIT), which this module uses to
encode, parses about 8,000 CAT048 records/s in pure Python; a radar feed of
several radars needs tens of thousands per second on one core. The parser
here walks only the FSPEC and the seven items above and is checked against
libasterix in the tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt

from ..types import Detection, RejectCode, Rejected, Sensor
from . import pcap
from .base import RejectionCounter

log = logging.getLogger(__name__)

NM_TO_M = 1852.0
FT_TO_M = 0.3048
EARTH_R_M = 6_371_008.8
DAY_S = 86_400.0
#: Largest data block or record stream accepted in one call, bytes.
MAX_BLOCK = 65_535
#: Monoradar service messages: not targets, not errors.
CAT_SERVICE = 34

# Fixed item lengths by FRN (field reference number, 1-based) of the CAT048 UAP.
_FIXED: dict[int, int] = {
    1: 2,  # 010
    2: 3,  # 140
    4: 4,  # 040
    5: 2,  # 070
    6: 2,  # 090
    8: 3,  # 220
    9: 6,  # 240
    11: 2,  # 161
    12: 4,  # 042
    13: 4,  # 200
    15: 4,  # 210
    17: 2,  # 080
    18: 4,  # 100
    19: 2,  # 110
    21: 2,  # 230
    22: 7,  # 260
    23: 1,  # 055
    24: 2,  # 050
    25: 1,  # 065
    26: 2,  # 060
}
_EXTENDED = frozenset({3, 14, 16})  # 020, 170, 030: octets chained by FX
# FRNs present for each FSPEC octet value (bit 8 first; bit 1 is FX).
_FSPEC_BITS: tuple[tuple[int, ...], ...] = tuple(
    tuple(k for k in range(7) if v & (0x80 >> k)) for v in range(256)
)


@dataclass(frozen=True, slots=True)
class Plot:
    """One CAT048 target report, in SI units; None where the item is absent.

    ``tod_s`` seconds since UTC midnight; ``rho_m`` slant range, metres;
    ``theta_deg`` azimuth, degrees clockwise from north; ``mode3a`` four octal
    digits; ``fl`` flight level (hundreds of feet); ``typ``/``sim``/``rab``/
    ``tst`` from I048/020; the ``*_ok`` flags are the codes' validated bits.
    """

    sac: int | None = None
    sic: int | None = None
    tod_s: float | None = None
    typ: int | None = None
    sim: bool = False
    rab: bool = False
    tst: bool = False
    rho_m: float | None = None
    theta_deg: float | None = None
    mode3a: str | None = None
    mode3a_ok: bool = False
    fl: float | None = None
    fl_ok: bool = False
    icao24: str | None = None


def _skip_or_read(data: bytes, i: int, end: int, frn: int, out: dict[str, Any]) -> int | str:
    """Read (wanted items) or skip (others) item ``frn`` at ``i``; next offset or a reason."""
    size = _FIXED.get(frn)
    if size is not None:
        j = i + size
        if j > end:
            return f"asterix-truncated: item FRN {frn}"
        if frn == 1:
            out["sac"], out["sic"] = data[i], data[i + 1]
        elif frn == 2:
            out["tod_s"] = ((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]) / 128.0
        elif frn == 4:
            out["rho_m"] = ((data[i] << 8) | data[i + 1]) / 256.0 * NM_TO_M
            out["theta_deg"] = ((data[i + 2] << 8) | data[i + 3]) * (360.0 / 65536.0)
        elif frn == 5:
            w = (data[i] << 8) | data[i + 1]
            out["mode3a"] = f"{w & 0x0FFF:04o}"
            out["mode3a_ok"] = not (w & 0xC000)  # V (not validated) and G (garbled) clear
        elif frn == 6:
            w = (data[i] << 8) | data[i + 1]
            raw = w & 0x3FFF
            out["fl"] = (raw - 0x4000 if raw & 0x2000 else raw) / 4.0
            out["fl_ok"] = not (w & 0xC000)
        elif frn == 8:
            out["icao24"] = f"{(data[i] << 16) | (data[i + 1] << 8) | data[i + 2]:06x}"
        return j
    if frn in _EXTENDED:
        j = i
        while True:
            if j >= end:
                return f"asterix-truncated: item FRN {frn}"
            b = data[j]
            if frn == 3:
                if j == i:
                    out["typ"] = b >> 5
                    out["sim"] = bool(b & 0x10)
                    out["rab"] = bool(b & 0x02)
                elif j == i + 1:
                    out["tst"] = bool(b & 0x80)
            j += 1
            if not b & 1:
                return j
    if frn == 7:  # 130 radar plot characteristics: compound of one-octet subfields
        if i >= end:
            return "asterix-truncated: item FRN 7"
        p = data[i]
        if p & 1:
            return "asterix-item: I048/130 with a second FSPEC octet"
        j = i + 1 + len(_FSPEC_BITS[p])
    elif frn == 10:  # 250 BDS registers: REP then 8 octets each
        if i >= end:
            return "asterix-truncated: item FRN 10"
        j = i + 1 + 8 * data[i]
    elif frn == 20:  # 120 radial Doppler speed: CAL (2 octets), RDS (REP + 6 each)
        if i >= end:
            return "asterix-truncated: item FRN 20"
        p = data[i]
        if p & 1:
            return "asterix-item: I048/120 with a second FSPEC octet"
        j = i + 1
        if p & 0x80:
            j += 2
        if p & 0x40:
            if j >= end:
                return "asterix-truncated: item FRN 20"
            j += 1 + 6 * data[j]
    elif frn in (27, 28):  # SP, RE: explicit length including the length octet
        if i >= end or data[i] == 0:
            return f"asterix-item: bad explicit length at FRN {frn}"
        j = i + data[i]
    else:
        return f"asterix-fspec: FRN {frn} is not defined"
    if j > end:
        return f"asterix-truncated: item FRN {frn}"
    return j


def _records(data: bytes, start: int, end: int) -> Iterator[Plot | Rejected]:
    """Records of one CAT048 data block body ``data[start:end]``.

    A bad record ends the block: without its length the next one cannot be found.
    """
    i = start
    while i < end:
        frns: list[int] = []
        base = 0
        while True:
            if i >= end:
                yield Rejected(
                    code=RejectCode.TRUNCATED,
                    reason="asterix-truncated: FSPEC",
                    raw=data[start:end][:64],
                )
                return
            b = data[i]
            i += 1
            frns.extend(base + k + 1 for k in _FSPEC_BITS[b])
            base += 7
            if not b & 1:
                break
        if not frns:
            yield Rejected(
                code=RejectCode.SYNTAX,
                reason="asterix-fspec: empty record",
                raw=data[start:end][:64],
            )
            return
        out: dict[str, Any] = {}
        rec_start = i
        for frn in frns:
            nxt = _skip_or_read(data, i, end, frn, out)
            if isinstance(nxt, str):
                yield Rejected(code=RejectCode.TRUNCATED, reason=nxt, raw=data[rec_start:end][:64])
                return
            i = nxt
        yield Plot(**out)


def decode_plots(data: bytes, ignored: Counter[str] | None = None) -> list[Plot | Rejected]:
    """Raw ASTERIX bytes (one or more data blocks) -> CAT048 Plots and Rejections.

    Never raises. CAT034 blocks are counted in ``ignored``; other categories are
    rejected ("asterix-cat"), one per block.
    """
    out: list[Plot | Rejected] = []
    n = len(data)
    i = 0
    while i < n:
        if n - i < 3:
            out.append(
                Rejected(
                    code=RejectCode.TRUNCATED,
                    reason="asterix-truncated: data block header",
                    raw=data[i:],
                )
            )
            break
        cat, size = data[i], (data[i + 1] << 8) | data[i + 2]
        if size < 3 or i + size > n:
            out.append(
                Rejected(
                    code=RejectCode.SYNTAX,
                    reason=f"asterix-len: block length {size} of {n - i}",
                    raw=data[i:][:64],
                )
            )
            break  # the stream cannot be resynchronised without a valid length
        if cat == CAT_SERVICE:
            if ignored is not None:
                ignored["CAT034 service message"] += 1
        elif cat != 48:
            out.append(
                Rejected(
                    code=RejectCode.UNSUPPORTED,
                    reason=f"asterix-cat: category {cat} is not decoded",
                )
            )
        else:
            out.extend(_records(data, i + 3, i + size))
        i += size
    return out


def resolve_tod(tod_s: float, ref_day_start_s: float, anchor_s: float | None) -> float:
    """Time of day -> UTC seconds: on the reference day, or the day nearest ``anchor_s``."""
    t = ref_day_start_s + tod_s
    if anchor_s is not None and math.isfinite(anchor_s):
        t += DAY_S * round((anchor_s - t) / DAY_S)
    return t


def elevation_deg(range_m: float, target_alt_m: float, sensor_alt_m: float) -> float | None:
    """Geometric elevation (degrees) of a target at ``target_alt_m`` seen at slant ``range_m``.

    Spherical Earth, no refraction. None when the geometry is impossible
    (the height difference exceeds the range) or the range is zero.
    """
    if range_m <= 0.0:
        return None
    rt, rs = EARTH_R_M + target_alt_m, EARTH_R_M + sensor_alt_m
    s = (rt * rt - rs * rs - range_m * range_m) / (2.0 * rs * range_m)
    if not -1.0 <= s <= 1.0:
        return None
    return math.degrees(math.asin(s))


def plot_to_detection(
    plot: Plot,
    t_s: float,
    sensor: Sensor,
    *,
    default_alt_m: float | None = None,
) -> Detection | Rejected:
    """One Plot measured at ``t_s`` by ``sensor`` -> a ``radar`` Detection or a Rejected."""
    if plot.typ == 0:
        return Rejected(code=RejectCode.NO_DETECTION, reason="asterix-typ: no detection")
    if plot.sim:
        return Rejected(code=RejectCode.NO_DETECTION, reason="asterix-sim: simulated target report")
    if plot.tst:
        return Rejected(code=RejectCode.NO_DETECTION, reason="asterix-tst: test target report")
    if plot.rab:
        return Rejected(code=RejectCode.NO_DETECTION, reason="asterix-rab: field monitor report")
    if plot.rho_m is None or plot.theta_deg is None:
        return Rejected(code=RejectCode.NO_DETECTION, reason="asterix-040: no measured position")
    if plot.fl is not None and plot.fl_ok:
        alt_m = plot.fl * 100.0 * FT_TO_M
    elif default_alt_m is not None:
        alt_m = default_alt_m
    else:
        return Rejected(
            code=RejectCode.INVALID, reason="asterix-el: no Mode C height and no default altitude"
        )
    el = elevation_deg(plot.rho_m, alt_m, sensor.alt_m)
    if el is None:
        return Rejected(
            code=RejectCode.INVALID, reason="asterix-geom: height inconsistent with range"
        )
    return Detection(
        t=t_s, sensor=sensor.id, range_m=plot.rho_m, az_deg=plot.theta_deg % 360.0, el_deg=el
    )


def decode_block(
    data: bytes,
    t_rx_s: float,
    sensor: Sensor,
    ref_day_start_s: float,
    *,
    default_alt_m: float | None = None,
    ignored: Counter[str] | None = None,
) -> list[Detection | Rejected]:
    """Raw ASTERIX bytes received at ``t_rx_s`` -> radar Detections and Rejections.

    Each plot is timed by I048/140 on the UTC day starting at ``ref_day_start_s``,
    moved by whole days to lie nearest ``t_rx_s`` (so midnight wraps; pass NaN
    when there is no receive time). Plots without I048/140 take ``t_rx_s``.
    """
    out: list[Detection | Rejected] = []
    for p in decode_plots(data, ignored):
        if isinstance(p, Rejected):
            out.append(p)
            continue
        if p.tod_s is not None:
            t = resolve_tod(p.tod_s, ref_day_start_s, t_rx_s)
        elif math.isfinite(t_rx_s):
            t = t_rx_s
        else:
            out.append(
                Rejected(
                    code=RejectCode.INVALID,
                    reason="asterix-time: no time of day and no receive time",
                )
            )
            continue
        out.append(plot_to_detection(p, t, sensor, default_alt_m=default_alt_m))
    return out


def day_start_s(date: dt.date) -> float:
    """UTC midnight of ``date`` as POSIX seconds."""
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()


def read_file(
    path: str | os.PathLike[str],
    *,
    sensor: Sensor,
    ref_day_start_s: float | None,
    default_alt_m: float | None = None,
    ignored: Counter[str] | None = None,
) -> Iterator[Detection | Rejected]:
    """Detections and rejections from a file of raw data blocks or a pcap/pcapng capture.

    Raw blocks: plot times are resolved on the reference day (required) and
    carried over midnight by anchoring each block on the previous plot's time.
    Capture: each datagram is timed by the capture and its plots resolved on
    the UTC day nearest that time (``ref_day_start_s`` is not needed).
    """
    path = Path(path)
    if pcap.is_capture(path):
        yield from _read_capture(path, sensor, default_alt_m, ignored)
        return
    if ref_day_start_s is None:
        raise ValueError("raw ASTERIX blocks carry only the time of day: the day is needed")
    data = path.read_bytes()
    anchor = math.nan
    i, n = 0, len(data)
    while i < n:
        size = (data[i + 1] << 8) | data[i + 2] if n - i >= 3 else 0
        if size < 3 or i + size > n:
            yield Rejected(
                code=RejectCode.SYNTAX,
                reason=f"asterix-len: block length {size} of {n - i}",
                raw=data[i:][:64],
            )
            return
        for item in decode_block(
            data[i : i + size], anchor, sensor, ref_day_start_s,
            default_alt_m=default_alt_m, ignored=ignored,
        ):  # fmt: skip
            if isinstance(item, Detection):
                anchor = item.t
            yield item
        i += size


#: Capture link types that can carry the UDP feed -> how to unwrap a frame to IP.
_IP_LINKS: dict[int, Callable[[bytes], Any]] = {
    0: lambda b: dpkt.loopback.Loopback(b).data,  # BSD loopback
    1: lambda b: dpkt.ethernet.Ethernet(b).data,
    12: lambda b: dpkt.ip.IP(b) if b[:1] and b[0] >> 4 == 4 else dpkt.ip6.IP6(b),  # raw IP
    101: lambda b: dpkt.ip.IP(b) if b[:1] and b[0] >> 4 == 4 else dpkt.ip6.IP6(b),
    113: lambda b: dpkt.sll.SLL(b).data,  # Linux cooked
    228: lambda b: dpkt.ip.IP(b),
    229: lambda b: dpkt.ip6.IP6(b),
    276: lambda b: dpkt.sll2.SLL2(b).data,  # Linux cooked v2
}


def _read_capture(
    path: Path, sensor: Sensor, default_alt_m: float | None, ignored: Counter[str] | None
) -> Iterator[Detection | Rejected]:
    with path.open("rb") as fh:
        is_ng = fh.read(4) == b"\x0a\x0d\x0d\x0a"
        fh.seek(0)
        try:
            reader = dpkt.pcapng.Reader(fh) if is_ng else dpkt.pcap.Reader(fh)
        except (dpkt.Error, struct.error, ValueError) as e:
            yield Rejected(
                code=RejectCode.TRUNCATED,
                reason=f"capture: header cut short or damaged ({type(e).__name__})",
            )
            return
        unwrap = _IP_LINKS.get(reader.datalink())
        if unwrap is None:
            raise ValueError(f"{path}: capture link type {reader.datalink()} carries no UDP feed")
        try:
            for t_s, frame in reader:
                try:
                    ip = unwrap(bytes(frame))
                except (dpkt.Error, struct.error, ValueError, IndexError):
                    yield Rejected(
                        code=RejectCode.SYNTAX, reason="capture: frame is not a readable IP packet"
                    )
                    continue
                udp = getattr(ip, "data", None)
                if not isinstance(udp, dpkt.udp.UDP):
                    if ignored is not None:
                        ignored["capture: not a UDP datagram"] += 1
                    continue
                if isinstance(ip, dpkt.ip.IP) and (ip.mf or ip.offset):
                    yield Rejected(
                        code=RejectCode.UNSUPPORTED,
                        reason="capture: fragmented IP datagram (not reassembled)",
                    )
                    continue
                t = float(t_s)
                day = math.floor(t / DAY_S) * DAY_S
                yield from decode_block(
                    bytes(udp.data), t, sensor, day, default_alt_m=default_alt_m, ignored=ignored
                )
        except (dpkt.Error, struct.error, ValueError) as e:
            yield Rejected(
                code=RejectCode.TRUNCATED,
                reason=f"capture: file cut short or damaged ({type(e).__name__})",
            )


# --- Live: UDP ----------------------------------------------------------------------


class AsterixUdpEndpoint(asyncio.DatagramProtocol):
    """Receives CAT048 datagrams from one radar (``sensor``) and hands on Detections.

    Each datagram is timed by ``clock`` on arrival; plot times come from
    I048/140 on the UTC day nearest that time.
    """

    def __init__(
        self,
        sensor: Sensor,
        on_detection: Callable[[Detection], None],
        *,
        rejections: RejectionCounter | None = None,
        clock: Callable[[], float] = time.time,
        default_alt_m: float | None = None,
    ) -> None:
        self.sensor = sensor
        self.on_detection = on_detection
        self.rejections = rejections if rejections is not None else RejectionCounter()
        self.clock = clock
        self.default_alt_m = default_alt_m
        #: Valid input that carries no target (CAT034 service messages), by kind.
        self.ignored: Counter[str] = Counter()
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind; returns the bound (host, port)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self.transport = transport
        return transport.get_extra_info("sockname")[:2]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._take(data)
        except Exception as e:  # a bug must cost one datagram, never the endpoint
            log.debug("asterix48 datagram failed", exc_info=True)
            reason = f"internal error on a datagram: {type(e).__name__}"
            self.rejections.add(
                f"asterix48 {self.sensor.id}", Rejected(code=RejectCode.INTERNAL, reason=reason)
            )

    def _take(self, data: bytes) -> None:
        t_s = self.clock()
        day = math.floor(t_s / DAY_S) * DAY_S
        for out in decode_block(
            data, t_s, self.sensor, day, default_alt_m=self.default_alt_m, ignored=self.ignored
        ):
            if isinstance(out, Rejected):
                self.rejections.add(f"asterix48 {self.sensor.id}", out)
            else:
                self.on_detection(out)


# --- Encoding (libasterix) --------------------------------------------------------


def encode_plots(plots: Iterable[Plot], *, per_block: int = 64) -> bytes:
    """Plots -> raw CAT048 data blocks (edition 1.32), through libasterix.

    Values are quantised to the item resolutions (rho 1/256 NM, theta 360/2^16
    deg, time 1/128 s, flight level 1/4). Items whose fields are None are omitted.
    """
    # Imported here: loading libasterix's generated tables takes most of a second.
    import asterix.generated as gen

    cat = gen.Cat_048_1_32
    blocks: list[bytes] = []
    recs: list[Any] = []
    for p in plots:
        items: dict[str, Any] = {}
        if p.sac is not None and p.sic is not None:
            items["010"] = (("SAC", p.sac), ("SIC", p.sic))
        if p.tod_s is not None:
            items["140"] = (p.tod_s, "s")
        if p.typ is not None:
            first = (
                ("TYP", p.typ),
                ("SIM", int(p.sim)),
                ("RDP", 0),
                ("SPI", 0),
                ("RAB", int(p.rab)),
            )
            if p.tst:
                second = (("TST", 1), ("ERR", 0), ("XPP", 0), ("ME", 0), ("MI", 0), ("FOEFRI", 0))
                items["020"] = ((*first, None), (*second, None))
            else:
                items["020"] = ((*first, None),)
        if p.rho_m is not None and p.theta_deg is not None:
            items["040"] = (("RHO", (p.rho_m / NM_TO_M, "NM")), ("THETA", (p.theta_deg, "°")))
        if p.mode3a is not None:
            v = 0 if p.mode3a_ok else 1
            items["070"] = (v, 0, 0, 0, ("MODE3A", p.mode3a))
        if p.fl is not None:
            v = 0 if p.fl_ok else 1
            items["090"] = (v, 0, ("FL", (p.fl, "FL")))
        if p.icao24 is not None:
            items["220"] = int(p.icao24, 16)
        # libasterix types each category's items as one TypedDict; these are built item by item.
        recs.append(cat.cv_record.create(items))  # type: ignore[arg-type]
        if len(recs) == per_block:
            blocks.append(cat.create(recs).unparse().to_bytes())
            recs = []
    if recs:
        blocks.append(cat.create(recs).unparse().to_bytes())
    return b"".join(blocks)
