"""ASTERIX CAT062 (SDPS system track data) over UDP, encoded with libasterix.

One record per track per scan, edition 1.20 of the category, with items:

- I062/010 data source (SAC/SIC), I062/015 service id;
- I062/070 time of track information (seconds since UTC midnight, LSB 1/128 s);
- I062/105 WGS-84 position (LSB 180/2^25 degrees);
- I062/100 Cartesian position (LSB 0.5 m) and I062/185 Cartesian velocity
  (LSB 0.25 m/s) in the site's East-North-Up frame: x east, y north, about the
  site origin, which is the system reference point. (CAT062 calls for a
  stereographic plane; the tangent plane of the ENU frame agrees with it to
  centimetres over the few kilometres a site covers.)
- I062/040 track number (the numeric part of ``T<n>``, modulo 2^16);
- I062/080 track status: CNF (tentative), CST (coasting), TSB (first report
  of the track), TSE (last report: the track was deleted), MRH geometric, SRC
  GNSS for cooperative tracks and 3D sensor otherwise;
- I062/200 mode of movement from the change of course, speed and climb since
  the previous scan;
- I062/130 calculated geometric altitude (LSB 6.25 ft), and I062/136 measured
  flight level only when ``flight_level_from_alt`` (see the config).

libasterix is pure Python and costs about a quarter of a millisecond per
record (50 ms for 200 tracks), so the sink encodes in one worker process: in a
thread it would hold the GIL against the tracker. The per-track state (first
report, previous velocity) stays in this process; the worker gets plain rows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import multiprocessing
import socket
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geodesy import LocalFrame
from ..types import ScanOutput, TrackLine
from ..types import track_number as parse_track_label
from .base import QueueWorker
from .config import Asterix62Config

log = logging.getLogger(__name__)

FT_PER_M = 1.0 / 0.3048
SECONDS_PER_DAY = 86_400.0
#: Thresholds of I062/200: a turn slower than this is "constant course", etc.
TURN_RATE_MIN_DPS = 3.0
ACCEL_MIN_MPS2 = 0.5
CLIMB_MIN_MPS = 0.5


def track_number(track_id: str) -> int:
    """I062/040 track number of a skywarden track id: ``T<n>`` -> n mod 2^16, else a CRC."""
    n = parse_track_label(track_id)
    if n is not None:
        return n % 65536
    return zlib.crc32(track_id.encode()) % 65536


def mode_of_movement(
    vel_prev_mps: np.ndarray | None, vel_mps: np.ndarray, dt_s: float
) -> tuple[int, int, int]:
    """I062/200 (TRANS, LONG, VERT) from two ENU velocities (3,) m/s ``dt_s`` apart.

    TRANS: 0 constant course, 1 right turn, 2 left turn, 3 undetermined;
    LONG: 0 constant, 1 increasing, 2 decreasing ground speed, 3 undetermined;
    VERT: 0 level, 1 climb, 2 descent (from the vertical rate, always known).
    """
    vu = float(vel_mps[2])
    vert = 1 if vu > CLIMB_MIN_MPS else (2 if vu < -CLIMB_MIN_MPS else 0)
    speed = math.hypot(vel_mps[0], vel_mps[1])
    if vel_prev_mps is None or dt_s <= 0.0:
        return 3, 3, vert
    speed_prev = math.hypot(vel_prev_mps[0], vel_prev_mps[1])
    accel = (speed - speed_prev) / dt_s
    long_ = 1 if accel > ACCEL_MIN_MPS2 else (2 if accel < -ACCEL_MIN_MPS2 else 0)
    if speed < 1.0 or speed_prev < 1.0:
        return 3, long_, vert  # course of a hovering target is noise
    # Course is clockwise from north, so a growing course is a right turn.
    d_course = math.atan2(vel_mps[0], vel_mps[1]) - math.atan2(vel_prev_mps[0], vel_prev_mps[1])
    d_course = (d_course + math.pi) % (2 * math.pi) - math.pi
    rate_dps = math.degrees(d_course) / dt_s
    trans = 1 if rate_dps > TURN_RATE_MIN_DPS else (2 if rate_dps < -TURN_RATE_MIN_DPS else 0)
    return trans, long_, vert


@dataclass(slots=True)
class _Prev:
    t_s: float
    vel_mps: np.ndarray


#: One track's CAT062 content, plain numbers so that it pickles cheaply to the encoder process:
#: (tod_s, lat_deg, lon_deg, x_m, y_m, vx_mps, vy_mps, track_number, src, cnf, tse, tsb, cst,
#:  trans, long, vert, alt_ft, flight_level or None)
Row = tuple


def encode_datagrams(
    rows: list[Row], sac: int, sic: int, service_id: int, max_bytes: int
) -> list[bytes]:
    """CAT062 records (libasterix, edition 1.20) for ``rows``, packed into data blocks of at most ``max_bytes``.

    Pure function of its arguments, so it can run in a worker process.
    """
    import asterix.generated as gen  # libasterix: imported only where encoding happens

    rec_t = gen.Cat_062_1_20.cv_record
    out: list[bytes] = []
    block: list[bytes] = []
    size = 3
    for r in rows:
        (
            tod,
            lat,
            lon,
            x,
            y,
            vx,
            vy,
            trk,
            src,
            cnf,
            tse,
            tsb,
            cst,
            trans,
            long_,
            vert,
            alt_ft,
            fl,
        ) = r
        items: dict[str, Any] = {
            "010": (("SAC", sac), ("SIC", sic)),
            "015": service_id,
            "070": (tod, "s"),
            "105": (("LAT", (lat, "°")), ("LON", (lon, "°"))),
            "100": (("X", (x, "m")), ("Y", (y, "m"))),
            "185": (("VX", (vx, "m/s")), ("VY", (vy, "m/s"))),
            "040": trk,
            # Groups of the extended item; the trailing None is each group's FX bit.
            "080": (
                (0, 0, 1, src, cnf, None),  # MON SPI MRH SRC CNF
                (0, tse, tsb, 0, 0, 0, 0, None),  # SIM TSE TSB FPC AFF STP KOS
                (0, 0, 0, 0, 0, None),  # AMA MD4 ME MI MD5
                (cst, 0, 0, 0, 0, 0, 0, None),  # CST PSR SSR MDS ADS SUC AAC
            ),
            "200": (("TRANS", trans), ("LONG", long_), ("VERT", vert), ("ADF", 0), 0),
            "130": (alt_ft, "ft"),
        }
        if fl is not None:
            items["136"] = (fl, "FL")
        # libasterix types each category's items as one TypedDict; these are built item by item.
        rec = rec_t.create(items).unparse().to_bytes()  # type: ignore[arg-type]
        if block and size + len(rec) > max_bytes:
            out.append(_block(block, size))
            block, size = [], 3
        block.append(rec)
        size += len(rec)
    if block:
        out.append(_block(block, size))
    return out


def _block(records: list[bytes], size: int) -> bytes:
    # A data block is CAT, a 2-byte big-endian length of the whole block, then the
    # records; framed here so that each record is unparsed by libasterix only once.
    return bytes([62]) + size.to_bytes(2, "big") + b"".join(records)


class Cat062Encoder:
    """Turns tracks into CAT062 rows, remembering each track's last state (first report, turns)."""

    def __init__(self, config: Asterix62Config, frame: LocalFrame) -> None:
        self.cfg = config
        self.frame = frame
        self._prev: dict[str, _Prev] = {}

    def rows(self, tracks: tuple[TrackLine, ...]) -> list[Row]:
        """One row per track; positions to ENU in one vectorised call."""
        if not tracks:
            return []
        enu = self.frame.to_enu(
            np.array([t.lat for t in tracks]),
            np.array([t.lon for t in tracks]),
            np.array([t.alt_m for t in tracks]),
        ).reshape(-1, 3)
        return [self._row(tr, e) for tr, e in zip(tracks, enu, strict=True)]

    def _row(self, tr: TrackLine, enu_m: np.ndarray) -> Row:
        vel = np.asarray(tr.vel_enu_mps, dtype=float)
        prev = self._prev.get(tr.id)
        trans, long_, vert = mode_of_movement(
            None if prev is None else prev.vel_mps, vel, 0.0 if prev is None else tr.t - prev.t_s
        )
        if tr.status == "deleted":
            self._prev.pop(tr.id, None)
        else:
            self._prev[tr.id] = _Prev(tr.t, vel)
        alt_ft = tr.alt_m * FT_PER_M
        return (
            tr.t % SECONDS_PER_DAY,
            tr.lat,
            tr.lon,
            _clip(enu_m[0], 2**22),
            _clip(enu_m[1], 2**22),
            _clip(vel[0], 8191),
            _clip(vel[1], 8191),
            track_number(tr.id),
            1 if tr.identity else 2,  # SRC: GNSS / 3D sensor
            1 if tr.status == "tentative" else 0,
            1 if tr.status == "deleted" else 0,
            1 if prev is None else 0,
            1 if tr.status == "coasting" else 0,
            trans,
            long_,
            vert,
            _clip(alt_ft, 200_000.0),
            _clip(alt_ft / 100.0, 8000.0) if self.cfg.flight_level_from_alt else None,
        )

    def datagrams(self, tracks: tuple[TrackLine, ...]) -> list[bytes]:
        """Encode in this process (tests, tools); the sink encodes in a worker process."""
        c = self.cfg
        return encode_datagrams(self.rows(tracks), c.sac, c.sic, c.service_id, c.max_datagram_bytes)


def _clip(x: float, limit: float) -> float:
    """Clamp to the item's range: one wild track must not make the whole block unencodable."""
    return float(min(max(x, -limit), limit - 1.0))


class Asterix62Sink(QueueWorker):
    """Sends every scan's tracks as CAT062 records to one UDP address (unicast or multicast)."""

    def __init__(self, config: Asterix62Config, frame: LocalFrame) -> None:
        super().__init__(maxsize=config.queue_size)
        self.cfg = config
        self.name = f"asterix62:{config.host}:{config.port}"
        self.encoder = Cat062Encoder(config, frame)
        self._sock: socket.socket | None = None
        self._pool: ProcessPoolExecutor | None = None
        self.sent_datagrams = 0
        self.dropped_datagrams = 0

    def _socket(self) -> socket.socket:
        if self._sock is None:
            fam = socket.AF_INET6 if ":" in self.cfg.host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setblocking(False)
            try:
                if ipaddress.ip_address(self.cfg.host).is_multicast:
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.cfg.multicast_ttl)
            except ValueError:
                pass  # a host name: unicast
            self._sock = s
        return self._sock

    async def handle(self, item: ScanOutput) -> None:
        if not item.tracks:
            return
        c = self.cfg
        rows = self.encoder.rows(item.tracks)
        if self._pool is None:
            # Spawned, not forked: the parent runs an event loop and threads.
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            grams = await asyncio.get_running_loop().run_in_executor(
                self._pool, encode_datagrams, rows, c.sac, c.sic, c.service_id, c.max_datagram_bytes
            )
        except BrokenProcessPool as e:
            self._pool = None
            raise RuntimeError(f"CAT062 encoder process died: {e}") from e
        sock = self._socket()
        for i, g in enumerate(grams):
            try:
                sock.sendto(g, (self.cfg.host, self.cfg.port))
                self.sent_datagrams += 1
            except BlockingIOError:
                # The socket buffer is full: this scan's rest is superseded by the next.
                self.dropped_datagrams += len(grams) - i
                break

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
