"""Remote ID decoder: ASTM F3411 / ASD-STAN EN 4709-002 broadcast messages.

Our own decoder of the 25-byte Open Drone ID messages. We found no maintained,
typed and tested decoder of these messages on PyPI (the few packages that
mention Remote ID are whole applications; the reference implementation is the
Open Drone ID project's C library), so the byte layouts are written here from
the standard's field definitions; every multi-byte field is little-endian.

Three layers:

- :func:`decode_message` (one 25-byte message) and :func:`decode_pack` (a
  message pack, type 0xF) are pure: bytes in, a typed message struct or a
  :class:`~skywarden.types.Rejected` out, never an exception.
- :class:`RemoteIdAssembler` keeps a little state per transmitter (BLE advertiser
  address or Wi-Fi source address), because a Location message carries no UAS
  id: it joins Basic ID + Location (+ System for the operator position) into
  ``remoteid`` :class:`~skywarden.types.Detection` s.
- :func:`read_file` and :func:`decode_hex_line` read captures (pcap / pcapng via
  :mod:`skywarden.sources.pcap`) and receiver text lines.

Unknown values use the standard's sentinels and decode to ``None``: direction
361, horizontal speed 255 (with multiplier 1), vertical speed 63 m/s, latitude
and longitude both 0, altitudes -1000 m (raw 0), timestamp 0xFFFF. Geodetic
altitudes are WGS-84 height above the ellipsoid (HAE), as ``alt_m`` everywhere in
skywarden; pressure altitude is referenced to 1013.25 hPa.
"""

from __future__ import annotations

import logging
import math
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from ..types import Detection, RejectCode, Rejected
from . import pcap
from .droneid import DroneIdDecoder

log = logging.getLogger(__name__)

MESSAGE_SIZE = 25
PACK_MAX_MESSAGES = 9
#: Protocol versions in use: 0 F3411-19, 1 EN 4709-002 / F3411-20 draft, 2 F3411-22.
SUPPORTED_VERSIONS = frozenset({0, 1, 2})

TYPE_BASIC_ID = 0x0
TYPE_LOCATION = 0x1
TYPE_AUTH = 0x2
TYPE_SELF_ID = 0x3
TYPE_SYSTEM = 0x4
TYPE_OPERATOR_ID = 0x5
TYPE_PACK = 0xF

ID_TYPE_NONE = 0
ID_TYPE_SERIAL = 1  # ANSI/CTA-2063-A serial number
ID_TYPE_CAA = 2  # civil aviation authority registration
ID_TYPE_UTM_UUID = 3
ID_TYPE_SESSION = 4  # specific session id; first byte is the ICAO-managed type

#: Drones told apart behind one transmitter address (a relay); the oldest is forgotten.
MAX_DRONES_PER_ADDRESS = 64
#: Which Basic ID the assembler prefers as ``uas_id`` when a UA sends several.
ID_TYPE_PREFERENCE = (ID_TYPE_SERIAL, ID_TYPE_CAA, ID_TYPE_UTM_UUID, ID_TYPE_SESSION, ID_TYPE_NONE)

#: Horizontal accuracy code -> 95 % bound in metres (None: unknown or reserved).
HORIZONTAL_ACCURACY_M: tuple[float | None, ...] = (
    None,
    18520.0,
    7408.0,
    3704.0,
    1852.0,
    926.0,
    555.6,
    185.2,
    92.6,
    30.0,
    10.0,
    3.0,
    1.0,
) + (None,) * 3
#: Vertical (geodetic or barometric) accuracy code -> 95 % bound in metres.
VERTICAL_ACCURACY_M: tuple[float | None, ...] = (
    None,
    150.0,
    45.0,
    25.0,
    10.0,
    3.0,
    1.0,
) + (None,) * 9
#: Speed accuracy code -> 95 % bound in m/s.
SPEED_ACCURACY_MPS: tuple[float | None, ...] = (None, 10.0, 3.0, 1.0, 0.3) + (None,) * 11

# Seconds from the POSIX epoch to 2019-01-01T00:00:00Z, the epoch of the
# Authentication and System message timestamps.
EPOCH_2019_S = 1_546_300_800

_SPEED_UNKNOWN_RAW = 255  # with multiplier bit set: 255 m/s, "unknown"
_VSPEED_UNKNOWN_RAW = 126  # 63 m/s in 0.5 m/s steps
_VSPEED_MAX_RAW = 124  # |62 m/s| is the largest speed the encoding may carry
_DIR_UNKNOWN = 361
_TS_UNKNOWN = 0xFFFF
_TS_MAX = 36_000  # tenths of a second in one hour

#: Byte layouts of the messages with multi-byte fields (shared with the encoder).
LOCATION_LAYOUT = struct.Struct("<BBBBbiiHHHBBHBB")
SYSTEM_LAYOUT = struct.Struct("<BBiiHBHHBHIB")
AUTH_PAGE0_LAYOUT = struct.Struct("<BBBBI17s")


# --- Typed messages -----------------------------------------------------------


class _Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="msg"):
    """Common head: the protocol version nibble."""

    version: int


class BasicId(_Message, frozen=True, tag="basic_id"):
    """Basic ID (0x0). ``uas_id`` is the text id; binary ids (UTM UUID, session id) as hex."""

    id_type: int
    ua_type: int
    uas_id: str


class Location(_Message, frozen=True, tag="location"):
    """Location/Vector (0x1). Unknown values are ``None``.

    ``track_deg`` true course [0, 360); ``speed_mps`` ground speed; ``vrate_mps``
    positive up; ``lat``/``lon`` degrees; ``alt_m`` geodetic (WGS-84 HAE);
    ``alt_pressure_m`` barometric; ``height_m`` above take-off (``height_type`` 0)
    or ground (1); ``t_hour_s`` seconds after the full UTC hour; accuracy fields
    are the standard's codes (see ``*_ACCURACY_*`` tables); ``t_acc_s`` seconds.
    """

    status: int
    height_type: int
    track_deg: float | None
    speed_mps: float | None
    vrate_mps: float | None
    lat: float | None
    lon: float | None
    alt_pressure_m: float | None
    alt_m: float | None
    height_m: float | None
    h_acc: int
    v_acc: int
    baro_acc: int
    speed_acc: int
    t_hour_s: float | None
    t_acc_s: float | None


class AuthPage(_Message, frozen=True, tag="auth"):
    """One Authentication page (0x2). Page 0 also has the header fields; data is kept raw.

    ``t_s`` is POSIX seconds (UTC), ``None`` on pages other than 0.
    """

    auth_type: int
    page: int
    last_page: int | None
    length: int | None
    t_s: float | None
    data: bytes


class SelfId(_Message, frozen=True, tag="self_id"):
    """Self-ID (0x3): free text and its description type."""

    desc_type: int
    text: str


class System(_Message, frozen=True, tag="system"):
    """System (0x4). Operator position (degrees, metres HAE) and the operating area.

    ``t_s`` POSIX seconds (UTC) of the message, ``None`` when not sent (version < 2).
    """

    operator_location_type: int
    classification_type: int
    operator_lat: float | None
    operator_lon: float | None
    area_count: int
    area_radius_m: float
    area_ceiling_m: float | None
    area_floor_m: float | None
    category_eu: int
    class_eu: int
    operator_alt_m: float | None
    t_s: float | None


class OperatorId(_Message, frozen=True, tag="operator_id"):
    """Operator ID (0x5)."""

    id_type: int
    operator_id: str


RidMessage = BasicId | Location | AuthPage | SelfId | System | OperatorId


# --- Field decoders -------------------------------------------------------------


def _alt(raw: int) -> float | None:
    """Altitude encoding: 0.5 m steps from -1000 m; raw 0 (-1000 m) means unknown."""
    return None if raw == 0 else raw * 0.5 - 1000.0


def _text(raw: bytes) -> str:
    # IDs and texts are NUL-padded ASCII; replacement characters keep junk visible
    # without raising.
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()


def _id_text(raw: bytes, id_type: int) -> str:
    if id_type in (ID_TYPE_UTM_UUID, ID_TYPE_SESSION):
        body = raw.rstrip(b"\x00")
        if body and not all(0x20 < b < 0x7F for b in body):
            return body.hex()
    return _text(raw)


def _reject(code: RejectCode, reason: str, raw: bytes) -> Rejected:
    return Rejected(code=code, reason=reason, raw=bytes(raw))


def _basic_id(msg: bytes, version: int) -> BasicId | Rejected:
    b1 = msg[1]
    id_type = b1 >> 4
    if id_type > ID_TYPE_SESSION:
        return _reject(RejectCode.INVALID, f"basic_id: reserved id type {id_type}", msg)
    return BasicId(
        version=version, id_type=id_type, ua_type=b1 & 0x0F, uas_id=_id_text(msg[2:22], id_type)
    )


def _location(msg: bytes, version: int) -> Location | Rejected:
    (
        _,
        flags,
        dir_raw,
        speed_raw,
        vspeed_raw,
        lat_raw,
        lon_raw,
        baro_raw,
        geo_raw,
        height_raw,
        acc_hv,
        acc_bs,
        ts_raw,
        ts_acc,
        _,
    ) = LOCATION_LAYOUT.unpack_from(msg)
    direction = dir_raw + 180 if flags & 0x02 else dir_raw
    if direction == _DIR_UNKNOWN:
        track_deg = None
    elif direction <= 360:
        track_deg = float(direction % 360)
    else:
        return _reject(
            RejectCode.INVALID,
            f"location: track direction {direction} deg beyond the encoding",
            msg,
        )
    if flags & 0x01:
        speed_mps = None if speed_raw == _SPEED_UNKNOWN_RAW else speed_raw * 0.75 + 63.75
    else:
        speed_mps = speed_raw * 0.25
    if vspeed_raw == _VSPEED_UNKNOWN_RAW:
        vrate_mps = None
    elif -_VSPEED_MAX_RAW <= vspeed_raw <= _VSPEED_MAX_RAW:
        vrate_mps = vspeed_raw * 0.5
    else:
        return _reject(
            RejectCode.INVALID,
            f"location: vertical speed {vspeed_raw * 0.5} m/s beyond the encoding",
            msg,
        )
    if lat_raw == 0 and lon_raw == 0:
        lat = lon = None
    elif -900_000_000 <= lat_raw <= 900_000_000 and -1_800_000_000 <= lon_raw <= 1_800_000_000:
        lat, lon = lat_raw / 1e7, lon_raw / 1e7
    else:
        return _reject(
            RejectCode.INVALID,
            f"location: latitude/longitude {lat_raw * 1e-7}/{lon_raw * 1e-7} deg",
            msg,
        )
    if ts_raw == _TS_UNKNOWN:
        t_hour_s = None
    elif ts_raw <= _TS_MAX:
        t_hour_s = ts_raw * 0.1
    else:
        return _reject(
            RejectCode.INVALID, f"location: timestamp {ts_raw * 0.1} s after the hour", msg
        )
    tacc = ts_acc & 0x0F
    return Location(
        version=version,
        status=flags >> 4,
        height_type=(flags >> 2) & 0x01,
        track_deg=track_deg,
        speed_mps=speed_mps,
        vrate_mps=vrate_mps,
        lat=lat,
        lon=lon,
        alt_pressure_m=_alt(baro_raw),
        alt_m=_alt(geo_raw),
        height_m=_alt(height_raw),
        h_acc=acc_hv & 0x0F,
        v_acc=acc_hv >> 4,
        baro_acc=acc_bs >> 4,
        speed_acc=acc_bs & 0x0F,
        t_hour_s=t_hour_s,
        t_acc_s=tacc * 0.1 if tacc else None,
    )


def _auth(msg: bytes, version: int) -> AuthPage:
    b1 = msg[1]
    page = b1 & 0x0F
    if page == 0:
        _, _, last_page, length, ts, data = AUTH_PAGE0_LAYOUT.unpack_from(msg)
        return AuthPage(
            version=version,
            auth_type=b1 >> 4,
            page=0,
            last_page=last_page,
            length=length,
            t_s=float(EPOCH_2019_S + ts) if ts else None,
            data=data,
        )
    return AuthPage(
        version=version,
        auth_type=b1 >> 4,
        page=page,
        last_page=None,
        length=None,
        t_s=None,
        data=bytes(msg[2:25]),
    )


def _system(msg: bytes, version: int) -> System | Rejected:
    (
        _,
        flags,
        lat_raw,
        lon_raw,
        area_count,
        radius_raw,
        ceil_raw,
        floor_raw,
        cat_class,
        op_alt_raw,
        ts,
        _,
    ) = SYSTEM_LAYOUT.unpack_from(msg)
    if lat_raw == 0 and lon_raw == 0:
        lat = lon = None
    elif -900_000_000 <= lat_raw <= 900_000_000 and -1_800_000_000 <= lon_raw <= 1_800_000_000:
        lat, lon = lat_raw / 1e7, lon_raw / 1e7
    else:
        return _reject(
            RejectCode.INVALID,
            f"system: operator latitude/longitude {lat_raw * 1e-7}/{lon_raw * 1e-7}",
            msg,
        )
    return System(
        version=version,
        operator_location_type=flags & 0x03,
        classification_type=(flags >> 2) & 0x07,
        operator_lat=lat,
        operator_lon=lon,
        area_count=area_count,
        area_radius_m=radius_raw * 10.0,
        area_ceiling_m=_alt(ceil_raw),
        area_floor_m=_alt(floor_raw),
        category_eu=cat_class >> 4,
        class_eu=cat_class & 0x0F,
        operator_alt_m=_alt(op_alt_raw),
        t_s=float(EPOCH_2019_S + ts) if ts else None,
    )


def decode_message(msg25: bytes) -> RidMessage | Rejected:
    """Decode one 25-byte Open Drone ID message (not a pack; see :func:`decode_pack`).

    Returns the typed message, or ``Rejected`` for a wrong length, an unsupported
    protocol version, an unknown type or a value the encoding cannot carry.
    """
    if len(msg25) != MESSAGE_SIZE:
        return _reject(
            RejectCode.SYNTAX, f"length: {len(msg25)} bytes, a message has {MESSAGE_SIZE}", msg25
        )
    head = msg25[0]
    version = head & 0x0F
    if version not in SUPPORTED_VERSIONS:
        return _reject(
            RejectCode.UNSUPPORTED, f"version: protocol version {version} not supported", msg25
        )
    mtype = head >> 4
    if mtype == TYPE_LOCATION:
        return _location(msg25, version)
    if mtype == TYPE_BASIC_ID:
        return _basic_id(msg25, version)
    if mtype == TYPE_SYSTEM:
        return _system(msg25, version)
    if mtype == TYPE_AUTH:
        return _auth(msg25, version)
    if mtype == TYPE_SELF_ID:
        return SelfId(version=version, desc_type=msg25[1], text=_text(msg25[2:25]))
    if mtype == TYPE_OPERATOR_ID:
        return OperatorId(version=version, id_type=msg25[1], operator_id=_text(msg25[2:22]))
    if mtype == TYPE_PACK:
        return _reject(
            RejectCode.SYNTAX, "type: a message pack where a single message was expected", msg25
        )
    return _reject(RejectCode.UNSUPPORTED, f"type: unknown message type {mtype:#x}", msg25)


def decode_pack(data: bytes) -> list[RidMessage | Rejected] | Rejected:
    """Decode a message pack (type 0xF): header, size 25, count <= 9, then the messages.

    Trailing padding after the last message is allowed (BLE 5 and Wi-Fi senders
    pad). Returns the decoded messages in order (a bad one as ``Rejected``), or
    one ``Rejected`` when the pack itself is malformed.
    """
    if len(data) < 3:
        return _reject(
            RejectCode.TRUNCATED, f"pack: {len(data)} bytes, shorter than its header", data
        )
    head = data[0]
    if head >> 4 != TYPE_PACK:
        return _reject(RejectCode.SYNTAX, f"type: {head >> 4:#x} is not a message pack", data)
    if head & 0x0F not in SUPPORTED_VERSIONS:
        return _reject(
            RejectCode.UNSUPPORTED, f"version: protocol version {head & 0x0F} not supported", data
        )
    size, count = data[1], data[2]
    if size != MESSAGE_SIZE:
        return _reject(
            RejectCode.SYNTAX, f"pack: message size {size}, must be {MESSAGE_SIZE}", data
        )
    if count > PACK_MAX_MESSAGES:
        return _reject(
            RejectCode.TOO_LARGE, f"pack: {count} messages, at most {PACK_MAX_MESSAGES}", data
        )
    end = 3 + MESSAGE_SIZE * count
    if len(data) < end:
        return _reject(RejectCode.TRUNCATED, f"pack: truncated, {len(data)} of {end} bytes", data)
    return [decode_message(data[i : i + MESSAGE_SIZE]) for i in range(3, end, MESSAGE_SIZE)]


def decode_payload(data: bytes) -> list[RidMessage | Rejected]:
    """A transport payload that is either one 25-byte message or a message pack."""
    if data and data[0] >> 4 == TYPE_PACK:
        out = decode_pack(data)
        return out if isinstance(out, list) else [out]
    return [decode_message(data)]


# --- Assembly into detections ---------------------------------------------------


@dataclass(slots=True)
class _Transmitter:
    """What one transmitter address has told us so far (times are receive times, UTC s)."""

    ids: dict[int, tuple[str, float]] = field(default_factory=dict)
    system: System | None = None
    t_system_s: float = -math.inf
    last_location_raw: bytes = b""
    t_last_location_s: float = -math.inf
    pending: tuple[Location, float] | None = None
    #: UAS ids seen together in one pack (one drone each: uas_id -> id type) and when.
    groups: list[tuple[dict[str, int], float]] = field(default_factory=list)
    #: Last time this address was seen carrying two different UAS ids (two drones).
    t_conflict_s: float = -math.inf
    #: Last time a Location from this address was reported anonymous.
    t_anonymous_s: float = -math.inf


class RemoteIdAssembler:
    """Joins one transmitter's Basic ID, Location and System messages into Detections.

    State is kept per transmitter address (BLE advertiser address, Wi-Fi source
    address, or the UDP peer / file of a receiver's hex lines) for at most
    ``max_transmitters`` addresses (least recently heard dropped first).

    Identity comes from the broadcast that carries it: a Location in a message pack
    that holds a Basic ID takes that pack's id (serial before CAA registration
    before UTM UUID before session id), never an id stored from another pack. A
    Location sent alone (BLE 4 legacy adverts rotate single messages) takes the
    address's Basic IDs of the last ``id_ttl_s`` seconds, unless the address
    carried two different drones in that time (packs whose ids never travel
    together, or two ids of one type): then it cannot be attributed and is
    ``Rejected("uas_id_ambiguous: ...")``.

    A Location with no Basic ID at all is held (one per address) for up to
    ``max_pending_s`` in case the id follows; when it does not, the Location is
    reported anyway as an *anonymous* Remote ID detection: ``uas_id`` None (no
    cooperative identity, so the track is not excused as a known drone) and ``id``
    ``"rid-anon:<address>"``. A broadcast without a Basic ID does not comply with
    F3411 / EN 4709-002; :attr:`anonymous` counts such detections per address and
    a warning is logged once per address. :meth:`flush` releases held Locations
    at the end of a file.

    An identical repeat of the last Location message within ``dup_window_s`` (the
    same advertisement caught on several channels) is dropped silently. The
    detection time ``t`` is the Location timestamp resolved against the receive
    time's hour when ``use_message_time`` is set and it lies within
    ``max_time_offset_s`` of the receive time; otherwise the receive time.
    """

    def __init__(
        self,
        sensor_id: str,
        *,
        id_ttl_s: float = 60.0,
        max_pending_s: float = 3.0,
        dup_window_s: float = 1.0,
        use_message_time: bool = True,
        max_time_offset_s: float = 10.0,
        max_transmitters: int = 10_000,
    ) -> None:
        self.sensor_id = sensor_id
        self.id_ttl_s = id_ttl_s
        self.max_pending_s = max_pending_s
        self.dup_window_s = dup_window_s
        self.use_message_time = use_message_time
        self.max_time_offset_s = max_time_offset_s
        self.max_transmitters = max_transmitters
        self._tx: OrderedDict[str, _Transmitter] = OrderedDict()
        #: Anonymous detections (Location without any Basic ID) per transmitter address.
        self.anonymous: Counter[str] = Counter()
        #: DJI DroneID beacon elements arrive on the same Wi-Fi receivers.
        self.droneid = DroneIdDecoder(sensor_id)

    def __len__(self) -> int:
        return len(self._tx)

    def _state(self, address: str) -> _Transmitter:
        st = self._tx.get(address)
        if st is None:
            st = self._tx[address] = _Transmitter()
            if len(self._tx) > self.max_transmitters:
                self._tx.popitem(last=False)
        else:
            self._tx.move_to_end(address)
        return st

    def feed_payload(
        self, address: str, payload: bytes, t_rx_s: float
    ) -> list[Detection | Rejected]:
        """One transport payload (a message or a pack) from ``address`` received at ``t_rx_s``."""
        if not math.isfinite(t_rx_s):
            return [
                _reject(RejectCode.INVALID, f"time: receive time {t_rx_s} is not finite", payload)
            ]
        st = self._state(address)
        pack_id: str | None = None
        if payload and payload[0] >> 4 == TYPE_PACK:
            decoded = decode_pack(payload)
            if isinstance(decoded, Rejected):
                return [decoded]
            raws = [
                payload[i : i + MESSAGE_SIZE]
                for i in range(3, 3 + MESSAGE_SIZE * len(decoded), MESSAGE_SIZE)
            ]
            pairs = list(zip(decoded, raws, strict=True))
            basic = [m for m in decoded if isinstance(m, BasicId)]
            pack_id = self._pack_identity(st, basic, t_rx_s)
            # System first, so that the pack's own Location finds the operator position.
            pairs.sort(key=lambda p: isinstance(p[0], Location))
        else:
            pairs = [(decode_message(payload), payload)]
        out: list[Detection | Rejected] = []
        if pack_id is not None:
            out.extend(self._release(address, st, t_rx_s, pack_id))
        for msg, raw in pairs:
            if isinstance(msg, Location):
                if (
                    raw == st.last_location_raw
                    and t_rx_s - st.t_last_location_s < self.dup_window_s
                ):
                    continue
                st.last_location_raw, st.t_last_location_s = bytes(raw), t_rx_s
                out.extend(self._location(address, st, msg, t_rx_s, pack_id))
            elif isinstance(msg, BasicId) and pack_id is not None:
                continue  # already taken as the pack's identity
            else:
                out.extend(self._feed(address, st, msg, t_rx_s))
        return out

    def feed(
        self, address: str, msg: RidMessage | Rejected, t_rx_s: float
    ) -> list[Detection | Rejected]:
        """One decoded message from ``address``; returns the detections/rejections it completes."""
        if not math.isfinite(t_rx_s):
            return [_reject(RejectCode.INVALID, f"time: receive time {t_rx_s} is not finite", b"")]
        st = self._state(address)
        if isinstance(msg, Location):
            return self._location(address, st, msg, t_rx_s, None)
        return self._feed(address, st, msg, t_rx_s)

    def flush(self) -> list[Detection]:
        """Report every held Location as anonymous (call at the end of a file)."""
        out: list[Detection] = []
        for address, st in self._tx.items():
            if st.pending is not None:
                loc, t_loc = st.pending
                st.pending = None
                out.append(self._anonymous(address, st, loc, t_loc))
        return out

    def _pack_identity(self, st: _Transmitter, ids: list[BasicId], t_rx_s: float) -> str | None:
        """The pack's own UAS id; the address's stored ids become those of its drone.

        Ids sent together in one pack belong to one drone, so a pack with only some
        of them (a serial one time, serial and CAA another) still names that drone
        by its preferred id. Two drones at one address are two groups of ids.
        """
        own = {m.uas_id: m.id_type for m in ids if m.uas_id}
        if not own:
            return None
        live = [g for g in st.groups if t_rx_s - g[1] <= self.id_ttl_s]
        merged = dict(own)
        rest = []
        for ids_g, t_g in live:
            if ids_g.keys() & own.keys():
                merged = ids_g | merged
            else:
                rest.append((ids_g, t_g))
        st.groups = [*rest[-(MAX_DRONES_PER_ADDRESS - 1) :], (merged, t_rx_s)]
        if rest:
            st.t_conflict_s = t_rx_s
        st.ids = {id_type: (uas_id, t_rx_s) for uas_id, id_type in merged.items()}
        return min(merged, key=lambda u: ID_TYPE_PREFERENCE.index(merged[u]))

    def _feed(
        self, address: str, st: _Transmitter, msg: RidMessage | Rejected, t_rx_s: float
    ) -> list[Detection | Rejected]:
        if isinstance(msg, BasicId):
            if not msg.uas_id:
                return []
            held = st.ids.get(msg.id_type)
            if held is not None and held[0] != msg.uas_id and t_rx_s - held[1] <= self.id_ttl_s:
                # One drone has one id of each type: a second one is another drone.
                st.t_conflict_s = t_rx_s
                st.ids = {}
            st.ids[msg.id_type] = (msg.uas_id, t_rx_s)
            return self._release(address, st, t_rx_s, self._uas_id(st, t_rx_s))
        if isinstance(msg, System):
            st.system, st.t_system_s = msg, t_rx_s
            return []
        if isinstance(msg, Rejected):
            return [msg]
        return []

    def _release(
        self, address: str, st: _Transmitter, t_rx_s: float, uas_id: str | None
    ) -> list[Detection | Rejected]:
        """A Basic ID arrived: the held Location takes it, or is anonymous if it went stale."""
        st.t_anonymous_s = -math.inf
        if st.pending is None:
            return []
        loc, t_loc = st.pending
        st.pending = None
        if uas_id is not None and t_rx_s - t_loc <= self.max_pending_s:
            return [self._detection(st, loc, t_loc, uas_id)]
        return [self._anonymous(address, st, loc, t_loc)]

    def _uas_id(self, st: _Transmitter, t_rx_s: float) -> str | None:
        for id_type in ID_TYPE_PREFERENCE:
            got = st.ids.get(id_type)
            if got is not None and t_rx_s - got[1] <= self.id_ttl_s:
                return got[0]
        return None

    def _location(
        self,
        address: str,
        st: _Transmitter,
        loc: Location,
        t_rx_s: float,
        pack_id: str | None,
    ) -> list[Detection | Rejected]:
        if loc.lat is None or loc.lon is None:
            return [
                _reject(
                    RejectCode.NO_DETECTION,
                    "position_unknown: location message without a position",
                    b"",
                )
            ]
        if loc.alt_m is None:
            return [
                _reject(
                    RejectCode.NO_DETECTION,
                    "altitude_unknown: location message without geodetic altitude",
                    b"",
                )
            ]
        if pack_id is not None:
            return [self._detection(st, loc, t_rx_s, pack_id)]
        if t_rx_s - st.t_conflict_s <= self.id_ttl_s:
            return [
                _reject(
                    RejectCode.NO_DETECTION,
                    "uas_id_ambiguous: location without a Basic ID from an address "
                    "that carried more than one UAS id",
                    b"",
                )
            ]
        uas_id = self._uas_id(st, t_rx_s)
        if uas_id is not None:
            return [self._detection(st, loc, t_rx_s, uas_id)]
        out: list[Detection | Rejected] = []
        if st.pending is not None:
            held, t_held = st.pending
            st.pending = None
            out.append(self._anonymous(address, st, held, t_held))
        if t_rx_s - st.t_anonymous_s <= self.id_ttl_s:
            out.append(self._anonymous(address, st, loc, t_rx_s))
        else:
            st.pending = (loc, t_rx_s)
        return out

    def _anonymous(self, address: str, st: _Transmitter, loc: Location, t_rx_s: float) -> Detection:
        if not self.anonymous[address]:
            log.warning(
                "Remote ID from %s has no Basic ID (not compliant): reported as anonymous",
                address,
            )
        self.anonymous[address] += 1
        st.t_anonymous_s = t_rx_s
        return msgspec.structs.replace(
            self._detection(st, loc, t_rx_s, None), id=f"rid-anon:{address}"[:128]
        )

    def _time(self, loc: Location, t_rx_s: float) -> float:
        if not self.use_message_time or loc.t_hour_s is None:
            return t_rx_s
        t = math.floor(t_rx_s / 3600.0) * 3600.0 + loc.t_hour_s
        # The message says seconds after *some* hour: take the one nearest reception.
        if t - t_rx_s > 1800.0:
            t -= 3600.0
        elif t_rx_s - t > 1800.0:
            t += 3600.0
        return t if abs(t - t_rx_s) <= self.max_time_offset_s else t_rx_s

    def _detection(
        self, st: _Transmitter, loc: Location, t_rx_s: float, uas_id: str | None
    ) -> Detection:
        sysm = st.system if t_rx_s - st.t_system_s <= self.id_ttl_s else None
        return Detection(
            t=self._time(loc, t_rx_s),
            sensor=self.sensor_id,
            uas_id=uas_id,
            lat=loc.lat,
            lon=loc.lon,
            alt_m=loc.alt_m,
            speed_mps=loc.speed_mps,
            track_deg=loc.track_deg,
            vrate_mps=loc.vrate_mps,
            operator_lat=sysm.operator_lat if sysm else None,
            operator_lon=sysm.operator_lon if sysm else None,
        )

    def decode_frame(self, frame: bytes, link: str, t_rx_s: float) -> list[Detection | Rejected]:
        """One link-layer frame (``link`` one of :data:`pcap.LINKS`) received at ``t_rx_s``.

        Frames that carry no Remote ID give ``[]``; broken Remote ID framing gives
        ``Rejected``. 802.11 frames are also searched for DJI DroneID elements
        (:mod:`skywarden.sources.droneid`).
        """
        out: list[Detection | Rejected] = []
        if link in (pcap.LINK_RADIOTAP, pcap.LINK_IEEE80211):
            out.extend(self.droneid.decode_frame(frame, link, t_rx_s))
        for item in pcap.extract(frame, link):
            if isinstance(item, Rejected):
                out.append(item)
            else:
                out.extend(self.feed_payload(item.address, item.payload, t_rx_s))
        return out


# --- Files and receiver lines -------------------------------------------------


def decode_hex_line(
    line: str,
    t_rx_s: float,
    *,
    assembler: RemoteIdAssembler,
    link: str = pcap.LINK_ODID,
    address: str = "hex",
) -> list[Detection | Rejected]:
    """One receiver text line of hex (spaces and colons ignored) received at ``t_rx_s``.

    With ``link="odid"`` the bytes are a 25-byte message or a message pack from
    ``address``; any other link name takes them as that link's frame.
    """
    try:
        raw = bytes.fromhex(line.replace(":", "").replace(" ", "").strip())
    except ValueError:
        return [
            Rejected(
                code=RejectCode.SYNTAX,
                reason="hex: not a hex string",
                raw=line.encode(errors="replace")[:256],
            )
        ]
    if link == pcap.LINK_ODID:
        return assembler.feed_payload(address, raw, t_rx_s)
    return assembler.decode_frame(raw, link, t_rx_s)


def read_file(
    path: str | Path,
    *,
    sensor_id: str,
    assembler: RemoteIdAssembler | None = None,
    link: str = pcap.LINK_ODID,
) -> Iterator[Detection | Rejected]:
    """Detections and rejections from a pcap/pcapng capture or a hex text file.

    Captures: link types 105 (802.11), 127 (radiotap), 251 (BLE LL), 256 (BLE LL
    with PHDR) and 272 (Nordic BLE sniffer); frames are timed by the capture.
    Text: one ``<t_rx_s> <hex>`` per line (``#`` comments and blank lines
    skipped), the hex being of ``link`` (default a bare message or pack). Raises
    ``OSError``/``ValueError`` only for an unreadable file or unknown capture link.
    """
    asm = assembler if assembler is not None else RemoteIdAssembler(sensor_id)
    path = Path(path)
    if pcap.is_capture(path):
        try:
            for t_s, frame_link, frame in pcap.iter_capture(path):
                yield from asm.decode_frame(frame, frame_link, t_s)
        except pcap.CaptureTruncated as e:
            yield Rejected(code=RejectCode.SYNTAX, reason=f"capture: {e}")
        yield from asm.flush()
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, text in enumerate(fh, 1):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            t_str, _, hex_str = text.partition(" ")
            try:
                t_rx_s = float(t_str)
            except ValueError:
                yield Rejected(
                    code=RejectCode.SYNTAX,
                    reason="hex: line does not start with a time",
                    line=lineno,
                )
                continue
            for item in decode_hex_line(hex_str, t_rx_s, assembler=asm, link=link):
                yield (
                    msgspec.structs.replace(item, line=lineno)
                    if isinstance(item, Rejected)
                    else item
                )
    yield from asm.flush()
