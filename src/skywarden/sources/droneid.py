"""DJI DroneID over Wi-Fi: the vendor-specific element (OUI 26:37:12) in 802.11 beacons.

DJI drones that fly on "enhanced Wi-Fi" (Spark, Mavic Air, Mavic Pro in Wi-Fi
mode and others) add a vendor-specific information element (id 221, OUI
``26:37:12``) to their beacons. DJI never published the format; the layout used
here is the one reverse-engineered by Freek van Tienen and Jan Dumon and
published as Kismet's field description (``dot11_ie_221_dji_droneid.ksy``,
record version 1) and by Schiller et al., *Drone Security and the Mysterious
Case of DJI's DroneID*, NDSS 2023 (RUB-SysSec, record version 2, the same
record DJI sends over OcuSync). The code is ours. Element body after the OUI::

    vendor type u8, two unknown bytes, subcommand u8 (0x10 flight telemetry,
    0x11 flight purpose: user-entered text, ignored here), then the record.

Flight telemetry record (little-endian; both versions share the first 39 bytes)::

    version u8, sequence u16, state flags u16, serial 16 × ASCII (NUL padded),
    longitude s32, latitude s32 (radians × 1e7), altitude s16 (m),
    height above take-off s16 (m), velocity north / east / up s16 each (cm/s),
    v1: pitch s16, roll s16, yaw s16 (0.01°), home longitude s32, home latitude s32,
    v2: yaw s16 (0.01°), GPS time u64 (ms since the epoch), pilot (app) latitude
        s32, pilot longitude s32, home longitude s32, home latitude s32,
    then product type u8, UUID length u8, UUID 20 × ASCII.

Known uncertainty, stated in the docs: the published sources agree on the field
order and the radian scaling, but the NDSS code converts altitude and height as
feet for OcuSync, while Kismet and the Wi-Fi record write-ups take metres; we
take metres. The meaning of most state-flag bits is guessed in every source, so
validity is judged from the values (a zero position is "no position"), not the
flags.

:func:`decode_element` is pure and never raises. :class:`DroneIdDecoder` turns
802.11 / radiotap frames into ``remoteid``-kind :class:`~skywarden.types.Detection`
s with ``uas_id`` ``dji:<serial>`` and the pilot position as the operator
position; :func:`read_file` reads pcap/pcapng captures.
"""

from __future__ import annotations

import logging
import math
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterator
from pathlib import Path

import msgspec

from ..types import Detection, RejectCode, Rejected
from . import pcap

log = logging.getLogger(__name__)

DJI_OUI = b"\x26\x37\x12"
SUBCMD_FLIGHT = 0x10
SUBCMD_PURPOSE = 0x11

_HEAD = struct.Struct("<BHH16siihhhhh")  # version .. v_up, common to both versions
_V1_TAIL = struct.Struct("<hhhiiB")  # pitch, roll, yaw, home lon, home lat, product
_V2_TAIL = struct.Struct("<hQiiiiB")  # yaw, GPS time, app lat, app lon, home lon, home lat, product
_U16 = struct.Struct("<H")

#: Product type codes as listed by the published decoders (a selection; others stay numeric).
PRODUCT_NAMES: dict[int, str] = {
    16: "Mavic Pro",
    21: "Spark",
    24: "Mavic Air",
    41: "Mavic 2",
    53: "Mavic Mini",
    58: "Mavic Air 2",
    63: "Mini 2",
    66: "Air 2S",
    68: "Mavic 3",
    70: "Mini SE",
}


class DjiFlight(msgspec.Struct, frozen=True, kw_only=True):
    """One decoded flight telemetry record; angles in degrees, SI otherwise, ``None`` when unknown."""

    version: int
    seq: int
    state: int
    serial: str
    lat: float | None
    lon: float | None
    alt_m: float
    height_m: float
    v_north_mps: float
    v_east_mps: float
    v_up_mps: float
    yaw_deg: float
    pitch_deg: float | None = None
    roll_deg: float | None = None
    gps_time_s: float | None = None
    pilot_lat: float | None = None
    pilot_lon: float | None = None
    home_lat: float | None = None
    home_lon: float | None = None
    product_type: int
    uuid: str = ""

    @property
    def product(self) -> str:
        """Product name, or ``type <n>`` for a code we have no name for."""
        return PRODUCT_NAMES.get(self.product_type, f"type {self.product_type}")


def _reject(code: RejectCode, reason: str, raw: bytes) -> Rejected:
    return Rejected(code=code, reason=f"droneid: {reason}", raw=raw[:256])


def _latlon(raw_lat: int, raw_lon: int) -> tuple[float | None, float | None]:
    """Radians × 1e7 -> degrees; ``(None, None)`` for the 0/0 "no position" value."""
    if raw_lat == 0 and raw_lon == 0:
        return None, None
    return math.degrees(raw_lat * 1e-7), math.degrees(raw_lon * 1e-7)


def _ascii(raw: bytes) -> str | None:
    """NUL-padded printable ASCII -> text; ``None`` when it holds anything else."""
    text = raw.split(b"\0", 1)[0]
    if not all(0x21 <= b <= 0x7E for b in text):
        return None
    return text.decode("ascii")


def decode_element(body: bytes) -> DjiFlight | Rejected | int:
    """The bytes of a DJI vendor element after its OUI -> a flight record.

    An ``int`` (the subcommand) for a record that is not flight telemetry;
    ``Rejected`` with a reason for a short or inconsistent record. Never raises.
    """
    if len(body) < 4:
        return _reject(RejectCode.TRUNCATED, "element shorter than its 4-byte header", body)
    if body[3] != SUBCMD_FLIGHT:
        return body[3]
    rec = body[4:]
    if len(rec) < _HEAD.size:
        return _reject(
            RejectCode.TRUNCATED, f"flight record of {len(rec)} bytes is truncated", body
        )
    version, seq, state, serial_raw, lon_r, lat_r, alt, height, vn, ve, vu = _HEAD.unpack_from(rec)
    tail_fmt = {1: _V1_TAIL, 2: _V2_TAIL}.get(version)
    if tail_fmt is None:
        return _reject(RejectCode.UNSUPPORTED, f"unsupported flight record version {version}", body)
    if len(rec) < _HEAD.size + tail_fmt.size:
        return _reject(
            RejectCode.TRUNCATED, f"flight record v{version} of {len(rec)} bytes is truncated", body
        )
    serial = _ascii(serial_raw)
    if serial is None:
        return _reject(RejectCode.INVALID, "serial number is not printable ASCII", body)
    lat, lon = _latlon(lat_r, lon_r)
    if lat is not None and (abs(lat) > 90.0 or abs(lon) > 180.0):  # type: ignore[arg-type]
        return _reject(RejectCode.INVALID, "position out of range", body)
    fields: dict = {}
    if version == 1:
        pitch, roll, yaw, hlon, hlat, product = _V1_TAIL.unpack_from(rec, _HEAD.size)
        fields.update(pitch_deg=pitch / 100.0, roll_deg=roll / 100.0)
    else:
        yaw, gps_ms, alat, alon, hlon, hlat, product = _V2_TAIL.unpack_from(rec, _HEAD.size)
        plat, plon = _latlon(alat, alon)
        if plat is not None and abs(plat) <= 90.0 and abs(plon) <= 180.0:  # type: ignore[arg-type]
            fields.update(pilot_lat=plat, pilot_lon=plon)
        if gps_ms:
            fields["gps_time_s"] = gps_ms / 1000.0
    home_lat, home_lon = _latlon(hlat, hlon)
    if home_lat is not None and abs(home_lat) <= 90.0 and abs(home_lon) <= 180.0:  # type: ignore[arg-type]
        fields.update(home_lat=home_lat, home_lon=home_lon)
    uuid_at = _HEAD.size + tail_fmt.size
    if len(rec) > uuid_at:
        n = min(rec[uuid_at], 20, len(rec) - uuid_at - 1)
        fields["uuid"] = _ascii(rec[uuid_at + 1 : uuid_at + 1 + n]) or ""
    return DjiFlight(
        version=version,
        seq=seq,
        state=state,
        serial=serial,
        lat=lat,
        lon=lon,
        alt_m=float(alt),
        height_m=float(height),
        v_north_mps=vn / 100.0,
        v_east_mps=ve / 100.0,
        v_up_mps=vu / 100.0,
        yaw_deg=yaw / 100.0,
        product_type=product,
        **fields,
    )


def find_elements(dot11: bytes) -> Iterator[tuple[str, bytes]]:
    """``(transmitter address, element body after the OUI)`` of every DJI element in a beacon
    or probe response; other frames give nothing. Stops at a truncated element."""
    if len(dot11) < 24 or (dot11[0] >> 2) & 0x03 != 0 or (dot11[0] >> 4) not in (5, 8):
        return
    address = dot11[10:16].hex(":")
    i = (28 if dot11[1] & 0x80 else 24) + 12  # + HT control; skip timestamp, interval, caps
    n = len(dot11)
    while i + 2 <= n:
        eid, elen = dot11[i], dot11[i + 1]
        if i + 2 + elen > n:
            return
        if eid == 0xDD and elen >= 3 and dot11[i + 2 : i + 5] == DJI_OUI:
            yield address, bytes(dot11[i + 5 : i + 2 + elen])
        i += 2 + elen


class DroneIdDecoder:
    """802.11 frames -> ``remoteid``-kind detections of DJI drones.

    ``ignored`` counts records that are valid but carry no position (flight
    purpose records, other subcommands, telemetry without a GPS fix) and
    repeats: a record identical to the last one kept from its transmitter
    within ``dup_window_s`` (the same beacon caught twice or on another
    channel) is dropped, as the Open Drone ID path drops repeated Locations.
    At most ``max_transmitters`` addresses are remembered for that.
    """

    def __init__(
        self, sensor_id: str, *, dup_window_s: float = 1.0, max_transmitters: int = 10_000
    ) -> None:
        self.sensor_id = sensor_id
        self.dup_window_s = dup_window_s
        self.max_transmitters = max_transmitters
        self.ignored: Counter[str] = Counter()
        self._last: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def _repeat(self, address: str, body: bytes, t_rx_s: float) -> bool:
        """Whether ``body`` repeats the last record kept from ``address`` (else remember it)."""
        last = self._last.get(address)
        if last is not None and last[0] == body and t_rx_s - last[1] < self.dup_window_s:
            return True
        self._last[address] = (body, t_rx_s)
        self._last.move_to_end(address)
        if len(self._last) > self.max_transmitters:
            self._last.popitem(last=False)
        return False

    def detection(self, flight: DjiFlight, address: str, t_rx_s: float) -> Detection | None:
        """The detection of one record; ``None`` (and counted) when it has no position."""
        if flight.lat is None or flight.lon is None:
            self.ignored["DJI DroneID telemetry without a position"] += 1
            return None
        speed = math.hypot(flight.v_north_mps, flight.v_east_mps)
        track = math.degrees(math.atan2(flight.v_east_mps, flight.v_north_mps)) % 360.0
        return Detection(
            t=t_rx_s,
            sensor=self.sensor_id,
            lat=flight.lat,
            lon=flight.lon,
            alt_m=flight.alt_m,
            uas_id=f"dji:{flight.serial}" if flight.serial else None,
            # A drone in DJI's privacy mode sends no serial: keyed by its address.
            id=None if flight.serial else f"dji-anon:{address}",
            speed_mps=speed,
            track_deg=track if speed > 0.0 else None,
            vrate_mps=flight.v_up_mps,
            operator_lat=flight.pilot_lat,
            operator_lon=flight.pilot_lon,
        )

    def decode_dot11(self, dot11: bytes, t_rx_s: float) -> list[Detection | Rejected]:
        """One 802.11 frame (no radiotap) received at ``t_rx_s``."""
        out: list[Detection | Rejected] = []
        for address, body in find_elements(dot11):
            got = decode_element(body)
            if isinstance(got, Rejected):
                out.append(got)
            elif isinstance(got, int):
                what = "flight purpose" if got == SUBCMD_PURPOSE else f"subcommand 0x{got:02x}"
                self.ignored[f"DJI DroneID {what} record"] += 1
            elif self._repeat(address, body, t_rx_s):
                self.ignored["DJI DroneID repeat of the last record"] += 1
            else:
                det = self.detection(got, address, t_rx_s)
                if det is not None:
                    out.append(det)
        return out

    def decode_frame(self, frame: bytes, link: str, t_rx_s: float) -> list[Detection | Rejected]:
        """One captured frame of ``link`` (radiotap or ieee80211; other links give ``[]``)."""
        try:
            if link == pcap.LINK_RADIOTAP:
                dot11 = pcap.radiotap_payload(frame)
                return [] if dot11 is None else self.decode_dot11(dot11, t_rx_s)
            if link == pcap.LINK_IEEE80211:
                return self.decode_dot11(frame, t_rx_s)
        except (IndexError, struct.error):
            return [_reject(RejectCode.SYNTAX, "malformed 802.11 frame", frame)]
        return []


def read_file(path: str | Path, *, decoder: DroneIdDecoder) -> Iterator[Detection | Rejected]:
    """Detections and rejections from a pcap/pcapng capture of 802.11 (radiotap) frames.

    Raises ``OSError``/``ValueError`` for an unreadable file, a file that is not
    a capture, or a capture link type that is not 802.11.
    """
    path = Path(path)
    if not pcap.is_capture(path):
        raise ValueError("dji-droneid reads pcap/pcapng captures of 802.11 frames")
    try:
        for t_s, link, frame in pcap.iter_capture(path):
            if link not in (pcap.LINK_RADIOTAP, pcap.LINK_IEEE80211):
                raise ValueError(f"{path}: link type {link} is not 802.11")
            yield from decoder.decode_frame(frame, link, t_s)
    except pcap.CaptureTruncated as e:
        yield Rejected(code=RejectCode.TRUNCATED, reason=f"capture: {e}")
