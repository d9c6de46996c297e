"""ADS-B (Mode-S extended squitter) frames -> ``adsb`` Detections, via pyModeS.

Inputs are raw Mode-S frames as dump1090-style receivers serve them: AVR hex
text lines (TCP 30002: ``*8D4840D6202CC371C32CE0576098;``, or ``@`` followed
by a 48-bit 12 MHz MLAT tick count and the hex) and Beast binary (TCP 30005:
``0x1A``, a type byte, a 6-byte 12 MHz tick count, a signal byte and the frame,
every ``0x1A`` in the body doubled). pyModeS does the bit-level decoding and the
CPR arithmetic; this module keeps the per-aircraft state that CPR needs.

Only DF17/18 extended squitters with a valid CRC are used. Other downlink
formats are valid but carry no position: they are counted as ignored, not
rejected. Surface positions (TC 5-8) are ignored too: an aircraft on the ground
is no airborne threat and its height is not reported.

Position (CPR): a global decode from an even/odd pair received within
``CPR_PAIR_MAX_S`` (10 s); otherwise a local decode against the aircraft's own
last position (if at most ``LOCAL_REF_MAX_AGE_S`` old) or, for its first
frame, against the receiver's position. The receiver reference is only right
for aircraft within 180 NM of it (half a latitude zone), which covers every
aircraft that matters to a counter-drone site; decoded positions beyond
``max_range_m`` (default 180 NM) are rejected. A first frame from an aircraft
farther out can still decode to a wrong position inside that range (nothing
in one frame can tell); the first even/odd pair then puts it beyond range,
and from then on that aircraft is decoded from pairs only.

Altitude: ADS-B barometric altitude (TC 9-18) is *pressure* altitude in feet
(standard atmosphere, 1013.25 hPa), not height above the ellipsoid. When the
aircraft's velocity message (TC 19) gave the GNSS-minus-baro difference within
``GEO_DIFF_MAX_AGE_S``, ``alt_m`` is baro + difference, i.e. geometric height
(above the ellipsoid for most GNSS sources). Otherwise ``alt_m`` is the pressure
altitude itself, an approximation off by the local pressure deviation plus the
geoid undulation (typically tens of metres, up to a few hundred on stormy
days). TC 20-22 positions carry GNSS height directly and are used as is.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from ..types import Detection, RejectCode, Rejected
from .base import RejectionCounter

log = logging.getLogger(__name__)

MISSING_EXTRA = "ADS-B decoding needs the optional 'adsb' extra: pip install 'skywarden[adsb]'"

FT_TO_M = 0.3048
KT_TO_MPS = 1852.0 / 3600.0
FPM_TO_MPS = FT_TO_M / 60.0
NM_TO_M = 1852.0
#: Beast and AVR-MLAT tick rate, Hz.
BEAST_CLOCK_HZ = 12_000_000.0

CPR_PAIR_MAX_S = 10.0
LOCAL_REF_MAX_AGE_S = 30.0
GEO_DIFF_MAX_AGE_S = 60.0
#: Velocity and callsign older than this are not attached to a position.
ATTR_MAX_AGE_S = 30.0
#: Aircraft silent for this long are forgotten.
FORGET_S = 300.0

_BEAST_LEN = {0x31: 2, 0x32: 7, 0x33: 14, 0x34: 14}  # '1' Mode-AC, '2' short, '3' long, '4' status


class AdsbUnavailable(RuntimeError):
    """pyModeS (GPL, the optional 'adsb' extra) is not installed."""


def _pymodes() -> ModuleType:
    # Imported lazily: pyModeS is GPL-licensed and only an optional extra.
    try:
        import pyModeS
    except ImportError as e:
        raise AdsbUnavailable(MISSING_EXTRA) from e
    return pyModeS


def _cpr() -> ModuleType:
    from pyModeS import position

    return position


def _reject(code: RejectCode, reason: str, raw: bytes) -> Rejected:
    return Rejected(code=code, reason=reason, raw=raw[:64])


@dataclass
class _Aircraft:
    """What one ICAO address has told us so far."""

    t_last_s: float = -1e18
    cpr: dict[int, tuple[float, int, int]] = field(default_factory=dict)  # parity -> (t, lat, lon)
    pos: tuple[float, float, float] | None = None  # (t, lat_deg, lon_deg)
    callsign: tuple[float, str] | None = None
    emitter_cat: str | None = None
    velocity: tuple[float, float | None, float | None, float | None] | None = None
    geo_minus_baro_ft: tuple[float, float] | None = None
    site_ref_ok: bool = True


class AdsbDecoder:
    """Stateful DF17/18 decoder for one receiver at (``ref_lat``, ``ref_lon``) degrees.

    ``feed`` takes one raw frame (7 or 14 bytes) received at ``t_rx_s`` (UTC
    seconds) and returns a Detection for a position message, a Rejected for a
    bad frame, or None for a valid frame that gives no position (yet).
    Raises :class:`AdsbUnavailable` at construction when pyModeS is missing.
    """

    def __init__(
        self,
        sensor_id: str,
        ref_lat: float,
        ref_lon: float,
        *,
        max_range_m: float = 180.0 * NM_TO_M,
        max_aircraft: int = 10_000,
    ) -> None:
        self._pms = _pymodes()
        self._pos = _cpr()
        self._errors = (self._pms.DecodeError, ValueError, IndexError, KeyError, TypeError)
        self.sensor_id = sensor_id
        self.ref_lat = float(ref_lat)
        self.ref_lon = float(ref_lon)
        self.max_range_m = float(max_range_m)
        self.max_aircraft = int(max_aircraft)
        self.ignored: Counter[str] = Counter()
        self._aircraft: dict[str, _Aircraft] = {}

    def __len__(self) -> int:
        return len(self._aircraft)

    def feed(self, frame: bytes, t_rx_s: float) -> Detection | Rejected | None:
        """One raw Mode-S frame (bytes, 7 or 14 long) -> Detection | Rejected | None."""
        if len(frame) not in (7, 14):
            return _reject(
                RejectCode.SYNTAX, f"adsb-length: {len(frame)} bytes is not a Mode-S frame", frame
            )
        df = frame[0] >> 3
        if df not in (17, 18):
            self.ignored[f"DF{df}"] += 1
            return None
        if len(frame) != 14:
            return _reject(RejectCode.SYNTAX, f"adsb-length: DF{df} frame of 7 bytes", frame)
        try:
            msg = self._pms.decode(frame.hex().upper())
        except self._errors as e:
            return _reject(RejectCode.SYNTAX, f"adsb-decode: {type(e).__name__}", frame)
        if not msg.get("crc_valid"):
            return _reject(RejectCode.CHECKSUM, "adsb-crc: parity check failed", frame)
        icao = str(msg.get("icao") or "").lower()
        if len(icao) != 6:
            return _reject(RejectCode.INVALID, "adsb-icao: no address", frame)
        ac = self._aircraft.get(icao)
        if ac is None:
            self._forget(t_rx_s)
            ac = self._aircraft[icao] = _Aircraft()
        ac.t_last_s = t_rx_s
        tc = msg.get("typecode") or 0
        if 1 <= tc <= 4:
            cs = str(msg.get("callsign") or "").strip("_ #")
            if cs:
                ac.callsign = (t_rx_s, cs)
            ca = msg.get("category")
            # The category names the airframe, so it is kept for as long as the aircraft is.
            if isinstance(ca, int) and 1 <= ca <= 7:
                ac.emitter_cat = f"{'DCBA'[tc - 1]}{ca}"
            return None
        if tc == 19:
            self._velocity(ac, msg, t_rx_s)
            return None
        if 9 <= tc <= 18 or 20 <= tc <= 22:
            return self._position(icao, ac, msg, t_rx_s, frame, geometric=tc >= 20)
        self.ignored[f"TC{tc}"] += 1
        return None

    def _forget(self, t_s: float) -> None:
        if len(self._aircraft) < self.max_aircraft:
            return
        old = [k for k, a in self._aircraft.items() if t_s - a.t_last_s > FORGET_S]
        for k in old:
            del self._aircraft[k]
        if len(self._aircraft) >= self.max_aircraft:
            # Still full of live aircraft: drop the longest silent one.
            del self._aircraft[min(self._aircraft, key=lambda k: self._aircraft[k].t_last_s)]

    def _velocity(self, ac: _Aircraft, msg: dict[str, Any], t_rx_s: float) -> None:
        vr = msg.get("vertical_rate")
        vrate = None if vr is None else float(vr) * FPM_TO_MPS
        speed = track = None
        if msg.get("subtype") in (1, 2) and msg.get("groundspeed") is not None:
            speed = float(msg["groundspeed"]) * KT_TO_MPS
            track = None if msg.get("track") is None else float(msg["track"]) % 360.0
        ac.velocity = (t_rx_s, speed, track, vrate)
        diff = msg.get("geo_minus_baro")
        if diff is not None:
            ac.geo_minus_baro_ft = (t_rx_s, float(diff))
        return None

    def _position(
        self,
        icao: str,
        ac: _Aircraft,
        msg: dict[str, Any],
        t_rx_s: float,
        frame: bytes,
        *,
        geometric: bool,
    ) -> Detection | Rejected | None:
        parity, lat_raw, lon_raw = msg.get("cpr_format"), msg.get("cpr_lat"), msg.get("cpr_lon")
        alt_ft = msg.get("altitude")
        if parity not in (0, 1) or lat_raw is None or lon_raw is None:
            return _reject(
                RejectCode.INVALID, "adsb-cpr: position message without CPR fields", frame
            )
        ac.cpr[parity] = (t_rx_s, int(lat_raw), int(lon_raw))
        if alt_ft is None:
            self.ignored["no altitude"] += 1
            return None
        latlon, how = self._resolve(ac, parity, int(lat_raw), int(lon_raw), t_rx_s)
        if how == "wait":
            self.ignored["awaiting CPR pair"] += 1
            return None
        if latlon is None:
            return _reject(
                RejectCode.NO_DETECTION, "adsb-cpr: even/odd pair straddles a latitude zone", frame
            )
        lat, lon = latlon
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return _reject(RejectCode.INVALID, "adsb-cpr: position out of range", frame)
        if self._range_m(lat, lon) > self.max_range_m:
            if how == "pair":
                # Unambiguous and too far: receiver-referenced decoding would
                # be wrong for this aircraft, so use only pairs from now on.
                ac.site_ref_ok = False
                ac.pos = None
            return _reject(
                RejectCode.INVALID, "adsb-range: position beyond the receiver's range", frame
            )
        ac.pos = (t_rx_s, lat, lon)
        alt_m = float(alt_ft) * FT_TO_M
        if not geometric and ac.geo_minus_baro_ft is not None:
            t_d, diff_ft = ac.geo_minus_baro_ft
            if t_rx_s - t_d <= GEO_DIFF_MAX_AGE_S:
                alt_m = (float(alt_ft) + diff_ft) * FT_TO_M
        if not -1_000.0 <= alt_m <= 100_000.0:
            return _reject(RejectCode.INVALID, "adsb-alt: altitude out of range", frame)
        speed = track = vrate = None
        if ac.velocity is not None and t_rx_s - ac.velocity[0] <= ATTR_MAX_AGE_S:
            _, speed, track, vrate = ac.velocity
        callsign = None
        if ac.callsign is not None and t_rx_s - ac.callsign[0] <= ATTR_MAX_AGE_S:
            callsign = ac.callsign[1]
        return Detection(
            t=t_rx_s,
            sensor=self.sensor_id,
            icao24=icao,
            lat=lat,
            lon=lon,
            alt_m=alt_m,
            callsign=callsign,
            emitter_cat=ac.emitter_cat,
            speed_mps=speed,
            track_deg=track,
            vrate_mps=vrate,
        )

    def _resolve(
        self, ac: _Aircraft, parity: int, lat_raw: int, lon_raw: int, t_rx_s: float
    ) -> tuple[tuple[float, float] | None, str]:
        """(lat, lon) or None, and how: "pair", "track" (own last position), "site" or "wait"."""
        other = ac.cpr.get(1 - parity)
        if other is not None and 0.0 <= t_rx_s - other[0] <= CPR_PAIR_MAX_S:
            if parity == 0:
                pair = self._pos.airborne_position_pair(
                    lat_raw, lon_raw, other[1], other[2], even_is_newer=True
                )
            else:
                pair = self._pos.airborne_position_pair(
                    other[1], other[2], lat_raw, lon_raw, even_is_newer=False
                )
            return pair, "pair"
        if ac.pos is not None and t_rx_s - ac.pos[0] <= LOCAL_REF_MAX_AGE_S:
            ref_lat, ref_lon, how = ac.pos[1], ac.pos[2], "track"
        elif ac.site_ref_ok:
            ref_lat, ref_lon, how = self.ref_lat, self.ref_lon, "site"
        else:
            return None, "wait"
        lat, lon = self._pos.airborne_position_with_ref(parity, lat_raw, lon_raw, ref_lat, ref_lon)
        return (lat, (lon + 180.0) % 360.0 - 180.0), how

    def _range_m(self, lat: float, lon: float) -> float:
        # Great-circle distance on a sphere is plenty for a plausibility gate.
        p1, p2 = math.radians(self.ref_lat), math.radians(lat)
        dp, dl = p2 - p1, math.radians(lon - self.ref_lon)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2.0 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


# --- AVR text -------------------------------------------------------------------


def parse_avr(line: str) -> tuple[bytes, float | None, int | None] | Rejected | None:
    """One AVR line -> (frame, t_s or None, ticks_12mhz or None); None for blank/comment.

    Accepted forms: ``*HEX;``, ``@TTTTTTTTTTTTHEX;`` (48-bit MLAT ticks) and
    either of them after a leading UTC time in seconds and a space (how
    skywarden logs a feed).
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    t_s: float | None = None
    if text[0] not in "*@":
        head, _, text = text.partition(" ")
        try:
            t_s = float(head)
        except ValueError:
            return Rejected(
                code=RejectCode.SYNTAX,
                reason="avr-syntax: not an AVR line",
                raw=line.encode(errors="replace")[:64],
            )
        if not (0.0 <= t_s <= 1e11):  # also false for NaN
            return Rejected(
                code=RejectCode.INVALID,
                reason="avr-time: time out of range",
                raw=line.encode(errors="replace")[:64],
            )
        text = text.strip()
    if len(text) < 2 or text[0] not in "*@" or not text.endswith(";"):
        return Rejected(
            code=RejectCode.SYNTAX,
            reason="avr-syntax: not an AVR line",
            raw=line.encode(errors="replace")[:64],
        )
    body = text[1:-1]
    ticks: int | None = None
    try:
        if text[0] == "@":
            ticks, body = int(body[:12], 16), body[12:]
        frame = bytes.fromhex(body)
    except ValueError:
        return Rejected(
            code=RejectCode.SYNTAX,
            reason="avr-hex: not hexadecimal",
            raw=line.encode(errors="replace")[:64],
        )
    return frame, t_s, ticks


def read_avr(
    source: str | os.PathLike[str] | Iterable[str],
    *,
    decoder: AdsbDecoder,
    t0_s: float = 0.0,
) -> Iterator[Detection | Rejected]:
    """Detections and rejections from AVR lines (a file path or an iterable of lines).

    Frame time: the line's leading UTC time if present; else ``t0_s`` plus the
    MLAT ticks since the first timed frame; else the latest known time (or
    ``t0_s``), since a bare ``*HEX;`` line carries no time at all.
    """
    lines: Iterable[str]
    if isinstance(source, (str, os.PathLike)):
        lines = Path(source).read_text(encoding="utf-8", errors="replace").splitlines()
    else:
        lines = source
    clock = _TickClock(t0_s)
    t_last = t0_s
    for lineno, line in enumerate(lines, 1):
        parsed = parse_avr(line)
        if parsed is None:
            continue
        if isinstance(parsed, Rejected):
            yield Rejected(code=parsed.code, reason=parsed.reason, raw=parsed.raw, line=lineno)
            continue
        frame, t_s, ticks = parsed
        if t_s is None:
            t_s = clock.time(ticks) if ticks is not None else t_last
        t_last = t_s
        out = decoder.feed(frame, t_s)
        if isinstance(out, Rejected):
            yield Rejected(code=out.code, reason=out.reason, raw=out.raw, line=lineno)
        elif out is not None:
            yield out


# --- Beast binary ---------------------------------------------------------------


@dataclass
class _TickClock:
    """Maps a free-running 48-bit 12 MHz counter to UTC seconds from ``t0_s``."""

    t0_s: float
    first: int | None = None
    last: int = 0
    wraps: int = 0

    def time(self, ticks: int) -> float:
        if self.first is None:
            self.first = self.last = ticks
        if ticks < self.last and self.last - ticks > 1 << 47:
            self.wraps += 1  # counter wrapped through 2^48
        self.last = ticks
        return self.t0_s + (ticks + (self.wraps << 48) - self.first) / BEAST_CLOCK_HZ


def encode_beast(frame: bytes, ticks: int, signal: int = 0) -> bytes:
    """One Mode-S frame (7 or 14 bytes) as a Beast record with ``0x1A`` escaping."""
    kind = {2: 0x31, 7: 0x32, 14: 0x33}[len(frame)]
    body = (ticks & ((1 << 48) - 1)).to_bytes(6, "big") + bytes([signal & 0xFF]) + frame
    return bytes([0x1A, kind]) + body.replace(b"\x1a", b"\x1a\x1a")


BeastRecord = tuple[int, int, int, bytes]


def _split_beast(data: bytes, final: bool) -> tuple[list[BeastRecord | Rejected], int]:
    """Records of ``data`` and how many bytes were consumed.

    When not ``final``, a record running into the end of ``data`` is left
    unconsumed (its rest may still arrive) instead of being rejected.
    """
    out: list[BeastRecord | Rejected] = []
    n = len(data)
    i = data.find(b"\x1a")
    if i < 0:
        if n:
            out.append(
                Rejected(
                    code=RejectCode.SYNTAX, reason="beast-sync: no 0x1A in the data", raw=data[:64]
                )
            )
        return out, n
    if i > 0:
        out.append(
            Rejected(
                code=RejectCode.SYNTAX,
                reason="beast-sync: bytes before the first 0x1A",
                raw=data[:i][:64],
            )
        )
    while i < n:
        if i + 1 >= n:
            if not final:
                return out, i
            out.append(
                Rejected(
                    code=RejectCode.TRUNCATED,
                    reason="beast-truncated: record cut short",
                    raw=data[i:],
                )
            )
            return out, n
        kind = data[i + 1]
        size = _BEAST_LEN.get(kind)
        if size is None:
            out.append(
                Rejected(
                    code=RejectCode.UNSUPPORTED,
                    reason=f"beast-type: unknown record type 0x{kind:02x}",
                    raw=data[i : i + 2],
                )
            )
            nxt = data.find(b"\x1a", i + 1)
            i = n if nxt < 0 else nxt
            continue
        need = 7 + size
        body = bytearray()
        j = i + 2
        while j < n and len(body) < need:
            b = data[j]
            if b == 0x1A:
                if j + 1 >= n and not final:
                    break  # cannot tell an escape from a new record yet
                if j + 1 < n and data[j + 1] == 0x1A:
                    body.append(0x1A)
                    j += 2
                    continue
                break  # an unescaped 0x1A starts the next record
            body.append(b)
            j += 1
        if len(body) < need:
            if j >= n - 1 and not final and (j >= n or data[j] == 0x1A):
                return out, i
            out.append(
                Rejected(
                    code=RejectCode.TRUNCATED,
                    reason="beast-truncated: record cut short",
                    raw=bytes(data[i:j][:64]),
                )
            )
        else:
            out.append((kind, int.from_bytes(body[:6], "big"), body[6], bytes(body[7:])))
        nxt = data.find(b"\x1a", j)
        if nxt < 0:
            if j < n:
                out.append(
                    Rejected(
                        code=RejectCode.SYNTAX,
                        reason="beast-sync: bytes after a record",
                        raw=data[j:][:64],
                    )
                )
            return out, n
        if nxt > j:
            out.append(
                Rejected(
                    code=RejectCode.SYNTAX,
                    reason="beast-sync: bytes after a record",
                    raw=data[j:nxt][:64],
                )
            )
        i = nxt
    return out, n


def split_beast(data: bytes) -> list[BeastRecord | Rejected]:
    """Beast records in ``data`` -> (type byte, ticks, signal, frame) or a Rejected.

    Stray bytes outside records and a record cut short by the next unescaped
    ``0x1A`` (or by the end of the data) are rejected; decoding
    resynchronises on that ``0x1A``.
    """
    return _split_beast(data, final=True)[0]


class BeastSplitter:
    """Incremental :func:`split_beast` for a TCP stream: ``feed`` chunks as they arrive."""

    def __init__(self, max_pending: int = 4096) -> None:
        self.max_pending = max_pending
        self._buf = b""

    def feed(self, chunk: bytes) -> list[BeastRecord | Rejected]:
        data = self._buf + chunk
        out, used = _split_beast(data, final=False)
        self._buf = data[used:]
        if len(self._buf) > self.max_pending:  # no record is this long: garbage
            out.append(
                Rejected(
                    code=RejectCode.TOO_LARGE,
                    reason="beast-sync: oversized partial record",
                    raw=self._buf[:64],
                )
            )
            self._buf = b""
        return out


def read_beast(
    source: str | os.PathLike[str] | bytes,
    *,
    decoder: AdsbDecoder,
    t0_s: float = 0.0,
) -> Iterator[Detection | Rejected]:
    """Detections and rejections from Beast binary (a file path or the bytes).

    Beast ticks are a free-running 12 MHz counter, not a clock: a frame's time
    is ``t0_s`` plus the ticks since the first record. Mode A/C and status
    records are ignored.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    clock = _TickClock(t0_s)
    for rec in split_beast(data):
        if isinstance(rec, Rejected):
            yield rec
            continue
        kind, ticks, _signal, frame = rec
        if kind not in (0x32, 0x33):
            decoder.ignored["beast Mode-AC/status"] += 1
            continue
        out = decoder.feed(frame, clock.time(ticks))
        if out is not None:
            yield out


# --- Live feed (dump1090-style TCP: AVR on 30002, Beast on 30005) --------------------


async def run_feed(
    host: str,
    port: int,
    *,
    fmt: Literal["avr", "beast"],
    decoder: AdsbDecoder,
    on_detection: Callable[[Detection], None],
    rejections: RejectionCounter,
    clock: Callable[[], float] = time.time,
) -> None:
    """Connect to a receiver's raw feed and decode until it closes the connection.

    Frames are timed by ``clock`` on arrival (Beast ticks are not a clock;
    an AVR line's own leading time wins). Reconnecting is the caller's job.
    """
    source = f"adsb {host}:{port}"
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if fmt == "beast":
            splitter = BeastSplitter()
            while chunk := await reader.read(65_536):
                t_s = clock()
                for rec in splitter.feed(chunk):
                    if isinstance(rec, Rejected):
                        rejections.add(source, rec)
                    elif rec[0] in (0x32, 0x33):
                        _deliver(decoder.feed(rec[3], t_s), on_detection, rejections, source)
            return
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a line over the stream limit: the rest is dropped by asyncio
                rejections.add(
                    source, Rejected(code=RejectCode.TOO_LARGE, reason="avr-syntax: overlong line")
                )
                continue
            if not line:
                return
            parsed = parse_avr(line.decode("ascii", errors="replace"))
            if parsed is None:
                continue
            if isinstance(parsed, Rejected):
                rejections.add(source, parsed)
                continue
            frame, t_line, _ = parsed
            t_s = clock() if t_line is None else t_line
            _deliver(decoder.feed(frame, t_s), on_detection, rejections, source)
    finally:
        writer.close()


def _deliver(
    out: Detection | Rejected | None,
    on_detection: Callable[[Detection], None],
    rejections: RejectionCounter,
    source: str,
) -> None:
    if isinstance(out, Rejected):
        rejections.add(source, out)
    elif out is not None:
        on_detection(out)
