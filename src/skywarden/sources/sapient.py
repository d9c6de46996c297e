"""SAPIENT (BSI Flex 335 v2.0): skywarden as the fusion node that sensor nodes report to.

Wire format: each message is a 4-byte little-endian length, then a protobuf
``SapientMessage``. The bindings are those of the ``sapient-py`` package
(module ``sapient_msg.bsi_flex_335_v2_0``); its descriptors are field for field
the same as ``sapient-msg`` 0.2.1's, which ships the same v2.0 .proto files
(``sapient-proto`` 0.1.0 also has them, but needs protobuf >= 7).

Handled, from a sensor node:

- ``Registration``: the node's type becomes a skywarden sensor kind
  (radar/lidar -> ``radar``, camera -> ``camera``, passive RF and acoustic ->
  ``rf``); the reply is a ``RegistrationAck``.
- ``StatusReport``: health (``NodeStatus``) and the node's location, which
  with its kind makes a ``Sensor`` declaration (id = the node id).
- ``DetectionReport``: ``range_bearing`` -> a Detection of the node's kind
  (radar needs range, azimuth and elevation; camera azimuth and elevation;
  rf azimuth); ``location`` -> a Detection of a ``position`` sensor
  ``<node id>/pos``. Reported errors, confidence and classes travel beside
  the Detection in a :class:`SapientReport`.

skywarden answers as a node with its own UUID (version 4, ``sources.sapient_node_id``
or derived from the site name, see :func:`default_node_id`). The status interval a
node registers (``status_definition.status_interval``) travels with its
``NodeStatus`` so that health can expect its reports at that pace.

skywarden never sends ``Task`` messages: it does not command sensors or
effectors. Tasks, alerts and anything else from a node are rejected with a
reason. Bearings must be true (or unspecified, taken as true); magnetic, grid
and platform-relative ones are rejected, as are UTM positions. Altitudes are
taken as above the ellipsoid; a WGS84_G (geoid) datum is accepted as an
approximation (the geoid undulation, up to ~100 m, is not applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec
from google.protobuf.message import DecodeError
from sapient_msg.bsi_flex_335_v2_0 import (
    location_pb2,
    range_bearing_pb2,
    registration_ack_pb2,
    registration_pb2,
    sapient_message_pb2,
    status_report_pb2,
)
from sapient_py import encode_frame

from ..types import Detection, RejectCode, Rejected, Sensor
from .base import RejectionCounter
from .jsonl import TokenBucket
from .live import SapientListenerConfig

log = logging.getLogger(__name__)

HEADER_BYTES = 4
#: Largest message read from a file, bytes; a longer length prefix means a broken stream.
MAX_MESSAGE_BYTES = 1 << 20
ICD_VERSION = "BSI Flex 335 v2.0"

_NodeType = registration_pb2.Registration.NodeType
_KIND_BY_NODE_TYPE: dict[int, str] = {
    _NodeType.NODE_TYPE_RADAR: "radar",
    _NodeType.NODE_TYPE_LIDAR: "radar",
    _NodeType.NODE_TYPE_CAMERA: "camera",
    _NodeType.NODE_TYPE_PASSIVE_RF: "rf",
    _NodeType.NODE_TYPE_ACOUSTIC: "rf",
}
_LCS = location_pb2.LocationCoordinateSystem
_RBCS = range_bearing_pb2.RangeBearingCoordinateSystem
_RBD = range_bearing_pb2.RangeBearingDatum
_SYSTEM = status_report_pb2.StatusReport.System
_TIME_UNITS_S = {
    registration_pb2.Registration.TIME_UNITS_NANOSECONDS: 1e-9,
    registration_pb2.Registration.TIME_UNITS_MICROSECONDS: 1e-6,
    registration_pb2.Registration.TIME_UNITS_MILLISECONDS: 1e-3,
    registration_pb2.Registration.TIME_UNITS_SECONDS: 1.0,
    registration_pb2.Registration.TIME_UNITS_MINUTES: 60.0,
    registration_pb2.Registration.TIME_UNITS_HOURS: 3600.0,
    registration_pb2.Registration.TIME_UNITS_DAYS: 86_400.0,
}
#: Longest status interval taken from a registration (a day); longer is ignored.
MAX_STATUS_INTERVAL_S = 86_400.0
_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def is_uuid4(text: str) -> bool:
    """Whether ``text`` is a canonical (lower-case, hyphenated) UUID of version 4."""
    return _UUID4.fullmatch(text) is not None


def default_node_id(name: str) -> str:
    """skywarden's SAPIENT node UUID when the configuration gives none: version 4 in layout.

    Its 122 free bits are a hash of ``name`` (the site name) instead of fresh
    random bits, so the id is the same on every start without a state file.
    """
    return str(uuid.UUID(bytes=hashlib.blake2b(name.encode(), digest_size=16).digest(), version=4))


def check_node_id(node_id: str) -> str:
    """``node_id`` if it is a UUID version 4 (strict BSI Flex 335 v2.0 validation); else ValueError."""
    if not is_uuid4(node_id):
        raise ValueError(f"SAPIENT node_id {node_id!r} is not a lower-case UUID version 4")
    return node_id


#: The node id used when none is given (decoding a recorded file sends no reply).
DEFAULT_FUSION_NODE_ID = default_node_id("skywarden")


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the fusion node knows of one sensor node; ``None`` until told."""

    node_id: str
    node_type: str | None = None
    kind: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    pos_declared: bool = False
    status_interval_s: float | None = None

    @property
    def registered(self) -> bool:
        return self.node_type is not None


@dataclass(frozen=True, slots=True)
class SapientReport:
    """A Detection and what SAPIENT said beside it.

    ``errors`` one-sigma values by name (``range_m``, ``az_deg``, ``el_deg``,
    ``x``/``y`` in the position's units, ``z_m``); ``classes`` (type, confidence)
    pairs; ``confidence`` the detection confidence in [0, 1] when given.
    """

    detection: Detection
    object_id: str | None = None
    errors: dict[str, float] = field(default_factory=dict)
    classes: tuple[tuple[str, float], ...] = ()
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node's health at ``t``: ``system`` is ok, warning, error, goodbye, unspecified or disconnected.

    ``interval_s`` is the status interval the node registered, when it gave one.
    """

    node_id: str
    t: float
    system: str
    mode: str | None = None
    messages: tuple[str, ...] = ()
    interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A framed message to send back to the node (a RegistrationAck)."""

    frame: bytes


Output = SapientReport | Sensor | NodeStatus | Reply | Rejected


@dataclass(frozen=True, slots=True)
class Decoded:
    """Result of one message: the sender's updated state (if any) and what it gave."""

    node: NodeInfo | None
    outputs: tuple[Output, ...]


def _reject(code: RejectCode, reason: str, raw: bytes | None = None) -> Decoded:
    return Decoded(
        None, (Rejected(reason=reason, code=code, raw=None if raw is None else raw[:64]),)
    )


def _name(enum: Any, value: int, prefix: str) -> str:
    """An enum value's name without its prefix; proto3 enums are open, so unknown values occur."""
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return f"UNKNOWN_{value}"


class FrameSplitter:
    """Splits a byte stream into SAPIENT message payloads.

    ``feed`` returns complete payloads (and a Rejected for an absurd length,
    after which the stream is unusable: ``broken`` is set and further input
    is ignored, since the next message boundary cannot be found).
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.broken = False
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | Rejected]:
        if self.broken:
            return []
        self._buf += data
        out: list[bytes | Rejected] = []
        buf = self._buf
        i = 0
        while len(buf) - i >= HEADER_BYTES:
            n = int.from_bytes(buf[i : i + HEADER_BYTES], "little")
            if n == 0 or n > self.max_bytes:
                out.append(
                    Rejected(
                        code=RejectCode.TOO_LARGE, reason=f"sapient-length: message length {n}"
                    )
                )
                self.broken = True
                buf.clear()
                return out
            if len(buf) - i - HEADER_BYTES < n:
                break
            out.append(bytes(buf[i + HEADER_BYTES : i + HEADER_BYTES + n]))
            i += HEADER_BYTES + n
        del buf[:i]
        return out


def _time(msg: Any, t_rx_s: float) -> float | None:
    has = msg.HasField("timestamp")
    t = msg.timestamp.seconds + msg.timestamp.nanos * 1e-9 if has else t_rx_s
    return t if math.isfinite(t) and 0.0 <= t <= 1.0e11 else None


def _convert(obj: dict[str, Any], cls: type[Any]) -> Any:
    """Build and validate a record (msgspec checks the field constraints); a reason on failure."""
    try:
        return msgspec.convert(obj, cls)
    except msgspec.ValidationError as e:
        return str(e)


def _sensor(node: NodeInfo, sensor_id: str, kind: str) -> Sensor | str:
    return _convert(
        {
            "type": "sensor",
            "id": sensor_id,
            "kind": kind,
            "lat": node.lat,
            "lon": node.lon,
            "alt_m": node.alt_m,
        },
        Sensor,
    )


def _location(loc: Any) -> tuple[float, float, float] | str:
    """A SAPIENT Location -> (lat_deg, lon_deg, alt_m), or a reason."""
    cs = (
        loc.coordinate_system
        if loc.HasField("coordinate_system")
        else _LCS.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    )
    if cs == _LCS.LOCATION_COORDINATE_SYSTEM_UTM_M:
        return "sapient-location: UTM coordinates are not supported"
    if not (loc.HasField("x") and loc.HasField("y")):
        return "sapient-location: missing x or y"
    # SAPIENT puts longitude in x and latitude in y.
    lon, lat = loc.x, loc.y
    if cs == _LCS.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M:
        lon, lat = math.degrees(lon), math.degrees(lat)
    alt = loc.z if loc.HasField("z") else math.nan
    if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(alt)):
        return "sapient-location: coordinates missing or not finite"
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return "sapient-location: latitude or longitude out of range"
    return lat, lon, alt


def _registration(msg: Any, node: NodeInfo, t_s: float, fusion_node_id: str) -> Decoded:
    reg = msg.registration
    node_type = _NodeType.NODE_TYPE_UNSPECIFIED
    if reg.node_definition:
        node_type = reg.node_definition[0].node_type
    name = _name(_NodeType, node_type, "NODE_TYPE_")
    interval = reg.status_definition.status_interval
    interval_s = _TIME_UNITS_S.get(interval.units, math.nan) * interval.value
    node = replace(
        node,
        node_type=name,
        kind=_KIND_BY_NODE_TYPE.get(node_type),
        status_interval_s=interval_s if 0.0 < interval_s <= MAX_STATUS_INTERVAL_S else None,
    )
    ack = sapient_message_pb2.SapientMessage(
        node_id=fusion_node_id,
        destination_id=node.node_id,
        registration_ack=registration_ack_pb2.RegistrationAck(acceptance=True),
    )
    ack.timestamp.FromNanoseconds(int(t_s * 1e9))
    outputs: list[Output] = [Reply(encode_frame(ack))]
    if node.kind is not None and node.lat is not None:
        s = _sensor(node, node.node_id, node.kind)
        outputs.append(
            s
            if isinstance(s, Sensor)
            else Rejected(code=RejectCode.INVALID, reason=f"sapient-sensor: {s}")
        )
    return Decoded(node, tuple(outputs))


def _status(msg: Any, node: NodeInfo, t_s: float) -> Decoded:
    rep = msg.status_report
    system = (
        _name(_SYSTEM, rep.system, "SYSTEM_").lower() if rep.HasField("system") else "unspecified"
    )
    texts = tuple(s.status_value for s in rep.status if s.status_value)
    # The sensor declaration goes first: its health then applies to the status.
    outputs: list[Output] = []
    if rep.HasField("node_location"):
        loc = _location(rep.node_location)
        if isinstance(loc, str):
            outputs.append(Rejected(code=RejectCode.INVALID, reason=loc))
        elif loc != (node.lat, node.lon, node.alt_m):
            node = replace(node, lat=loc[0], lon=loc[1], alt_m=loc[2])
            if node.kind is not None:
                s = _sensor(node, node.node_id, node.kind)
                outputs.append(
                    s
                    if isinstance(s, Sensor)
                    else Rejected(code=RejectCode.INVALID, reason=f"sapient-sensor: {s}")
                )
    outputs.append(
        NodeStatus(
            node_id=node.node_id,
            t=t_s,
            system=system,
            mode=rep.mode if rep.HasField("mode") else None,
            messages=texts,
            interval_s=node.status_interval_s,
        )
    )
    return Decoded(node, tuple(outputs))


_RB_SCALE = {
    _RBCS.RANGE_BEARING_COORDINATE_SYSTEM_UNSPECIFIED: (1.0, 1.0),
    _RBCS.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M: (1.0, 1.0),
    _RBCS.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M: (math.degrees(1.0), 1.0),
    _RBCS.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM: (1.0, 1000.0),
    _RBCS.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM: (math.degrees(1.0), 1000.0),
}


def _detection(msg: Any, node: NodeInfo, t_s: float) -> Decoded:
    rep = msg.detection_report
    det: dict[str, Any] = {"type": "detection", "t": t_s}
    if rep.HasField("report_id") and 0 < len(rep.report_id) <= 128:
        det["id"] = rep.report_id
    errors: dict[str, float] = {}
    outputs: list[Output] = []
    which = rep.WhichOneof("location_oneof")
    if which == "range_bearing":
        rb = rep.range_bearing
        if node.kind is None:
            return _reject(
                RejectCode.UNSUPPORTED,
                f"sapient-kind: range/bearing report from a {node.node_type} node",
            )
        if node.lat is None:
            return _reject(
                RejectCode.INVALID, "sapient-location: node location unknown (no StatusReport yet)"
            )
        datum = rb.datum if rb.HasField("datum") else _RBD.RANGE_BEARING_DATUM_TRUE
        if datum not in (_RBD.RANGE_BEARING_DATUM_TRUE, _RBD.RANGE_BEARING_DATUM_UNSPECIFIED):
            return _reject(
                RejectCode.UNSUPPORTED,
                f"sapient-datum: {_name(_RBD, datum, 'RANGE_BEARING_DATUM_')} bearings are not supported",
            )
        cs = rb.coordinate_system if rb.HasField("coordinate_system") else 1
        if cs not in _RB_SCALE:
            return _reject(
                RejectCode.UNSUPPORTED, f"sapient-units: range/bearing coordinate system {cs}"
            )
        ang, dist = _RB_SCALE[cs]
        values = {
            "az_deg": rb.azimuth * ang if rb.HasField("azimuth") else None,
            "el_deg": rb.elevation * ang if rb.HasField("elevation") else None,
            "range_m": rb.range * dist if rb.HasField("range") else None,
        }
        for key, v in values.items():
            if v is not None and not math.isfinite(v):
                return _reject(RejectCode.INVALID, f"sapient-value: {key} is not finite")
        need = {
            "radar": ("range_m", "az_deg", "el_deg"),
            "camera": ("az_deg", "el_deg"),
            "rf": ("az_deg",),
        }[node.kind]
        for key in need:
            if values[key] is None:
                return _reject(
                    RejectCode.INVALID, f"sapient-missing: {node.kind} report without {key}"
                )
        for key, v in values.items():
            if v is not None and (key in need or key == "el_deg"):
                det[key] = v % 360.0 if key == "az_deg" else v
        for name, key, scale in (
            ("range_error", "range_m", dist),
            ("azimuth_error", "az_deg", ang),
            ("elevation_error", "el_deg", ang),
        ):
            if rb.HasField(name) and math.isfinite(getattr(rb, name)):
                errors[key] = getattr(rb, name) * scale
        det["sensor"] = node.node_id
    elif which == "location":
        loc = _location(rep.location)
        if isinstance(loc, str):
            return _reject(RejectCode.INVALID, loc)
        det["lat"], det["lon"], det["alt_m"] = loc
        for name, key in (("x_error", "x"), ("y_error", "y"), ("z_error", "z_m")):
            if rep.location.HasField(name) and math.isfinite(getattr(rep.location, name)):
                errors[key] = getattr(rep.location, name)
        det["sensor"] = f"{node.node_id}/pos"
        if not node.pos_declared:
            at = (
                node
                if node.lat is not None
                else replace(node, lat=loc[0], lon=loc[1], alt_m=loc[2])
            )
            s = _sensor(at, det["sensor"], "position")
            if isinstance(s, str):
                return _reject(RejectCode.INVALID, f"sapient-sensor: {s}")
            outputs.append(s)
            node = replace(node, pos_declared=True)
    else:
        return _reject(
            RejectCode.INVALID,
            "sapient-missing: detection report without range/bearing or location",
        )
    d = _convert(det, Detection)
    if isinstance(d, str):
        return _reject(RejectCode.INVALID, f"sapient-value: {d}")
    classes = tuple(
        (c.type, float(c.confidence))
        for c in rep.classification
        if c.type and math.isfinite(c.confidence)
    )
    conf = rep.detection_confidence if rep.HasField("detection_confidence") else None
    outputs.append(
        SapientReport(
            detection=d,
            object_id=rep.object_id if rep.HasField("object_id") else None,
            errors=errors,
            classes=classes,
            confidence=conf if conf is not None and math.isfinite(conf) else None,
        )
    )
    return Decoded(node, tuple(outputs))


def decode_message(
    payload: bytes,
    t_rx_s: float,
    nodes: Mapping[str, NodeInfo],
    *,
    fusion_node_id: str = DEFAULT_FUSION_NODE_ID,
) -> Decoded:
    """One SapientMessage payload (no length prefix) received at ``t_rx_s`` (UTC s).

    ``nodes`` is what is known of each node so far (by node id); the result
    carries the sender's updated :class:`NodeInfo` (store it back) and the
    outputs. Pure: no I/O, no clock, never raises. Messages without a
    timestamp take ``t_rx_s`` (NaN when there is none: they are rejected).
    """
    msg = sapient_message_pb2.SapientMessage()
    try:
        msg.ParseFromString(payload)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        return _reject(RejectCode.SYNTAX, f"sapient-protobuf: {type(e).__name__}", payload)
    if not msg.node_id or len(msg.node_id) > 128:
        return _reject(RejectCode.INVALID, "sapient-node: missing or overlong node_id", payload)
    t_s = _time(msg, t_rx_s)
    if t_s is None:
        return _reject(
            RejectCode.INVALID, "sapient-time: timestamp missing or out of range", payload
        )
    node = nodes.get(msg.node_id) or NodeInfo(node_id=msg.node_id)
    content = msg.WhichOneof("content")
    if content == "registration":
        return _registration(msg, node, t_s, fusion_node_id)
    if not node.registered:
        return _reject(RejectCode.REFUSED, f"sapient-unregistered: {content} before registration")
    if content == "status_report":
        return _status(msg, node, t_s)
    if content == "detection_report":
        return _detection(msg, node, t_s)
    if content == "task":
        return _reject(
            RejectCode.UNSUPPORTED, "sapient-task: skywarden neither accepts nor sends tasks"
        )
    return _reject(RejectCode.UNSUPPORTED, f"sapient-unhandled: {content or 'no content'}")


def iter_payloads(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[bytes | Rejected]:
    """The payloads of a recorded session (length-prefixed messages back to back)."""
    splitter = FrameSplitter(max_bytes)
    yield from splitter.feed(data)
    if splitter.pending:
        yield Rejected(
            code=RejectCode.TRUNCATED,
            reason=f"sapient-truncated: {splitter.pending} bytes after the last message",
        )


def read_file(
    path: str | os.PathLike[str], *, fusion_node_id: str = DEFAULT_FUSION_NODE_ID
) -> Iterator[SapientReport | Sensor | NodeStatus | Rejected]:
    """Reports, sensor declarations, statuses and rejections from a recorded session.

    Every message must carry its timestamp (a file has no receive time).
    """
    nodes: dict[str, NodeInfo] = {}
    for p in iter_payloads(Path(path).read_bytes()):
        if isinstance(p, Rejected):
            yield p
            continue
        res = decode_message(p, math.nan, nodes, fusion_node_id=fusion_node_id)
        if res.node is not None:
            nodes[res.node.node_id] = res.node
        for o in res.outputs:
            if not isinstance(o, Reply):
                yield o


# --- The fusion-node server ------------------------------------------------------

OnReport = Callable[[SapientReport], None]
OnSensor = Callable[[Sensor], None]
OnStatus = Callable[[NodeStatus], None]


class SapientServer:
    """Asyncio TCP server that sensor nodes connect to (skywarden in the fusion/DMM role).

    Node state survives disconnection: a node that reconnects (and registers
    again, or simply carries on) keeps its kind and location. A disconnect is
    reported as a ``NodeStatus`` with ``system="disconnected"``. A connection
    whose stream is broken (absurd length) is closed; others are unaffected.
    What a peer can take is bounded by ``config`` (:class:`SapientListenerConfig`):
    connections beyond the cap and connections idle too long are closed, and
    messages over the rate are dropped; each is a counted rejection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_detection: OnReport,
        on_sensor: OnSensor,
        on_status: OnStatus,
        *,
        fusion_node_id: str = DEFAULT_FUSION_NODE_ID,
        clock: Callable[[], float] = time.time,
        config: SapientListenerConfig | None = None,
        rejections: RejectionCounter | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.on_detection = on_detection
        self.on_sensor = on_sensor
        self.on_status = on_status
        self.fusion_node_id = check_node_id(fusion_node_id)
        self.clock = clock
        self.config = config or SapientListenerConfig()
        self.rejections = rejections if rejections is not None else RejectionCounter()
        self.nodes: dict[str, NodeInfo] = {}
        #: Connections taken since start, open now, refused over the cap, closed as idle.
        self.connections = 0
        self.open_connections = 0
        self.refused = 0
        self.idle_closed = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind and listen; ``port`` holds the bound port afterwards (useful with 0)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SAPIENT fusion node listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._conns):
            task.cancel()
        for task in list(self._conns):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> SapientServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _reject(self, peer: str, r: Rejected) -> None:
        self.rejections.add(f"sapient {peer.rsplit(':', 1)[0]}", r)

    def _idle_timeout_s(self, seen: set[str]) -> float:
        """The configured idle timeout, stretched to three status intervals of the
        connection's nodes: a node that reports as often as it said it would is not idle."""
        intervals = (self.nodes[n].status_interval_s or 0.0 for n in seen if n in self.nodes)
        return max(self.config.idle_timeout_s, 3.0 * max(intervals, default=0.0))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        cfg = self.config
        if self.open_connections >= cfg.max_connections:
            self.refused += 1
            reason = f"sapient-connections: more than {cfg.max_connections} connections; closed"
            self._reject(peer, Rejected(code=RejectCode.REFUSED, reason=reason))
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        self.connections += 1
        self.open_connections += 1
        bucket = TokenBucket(cfg.max_messages_per_s, max(1.0, cfg.max_messages_per_s))
        seen: set[str] = set()
        try:
            while True:
                idle_s = self._idle_timeout_s(seen)
                try:
                    # The whole message must arrive in time: a trickle does not hold a slot.
                    async with asyncio.timeout(idle_s):
                        head = await reader.readexactly(HEADER_BYTES)
                        n = int.from_bytes(head, "little")
                        if n == 0 or n > cfg.max_message_bytes:
                            reason = f"sapient-length: message length {n}"
                            self._reject(peer, Rejected(code=RejectCode.TOO_LARGE, reason=reason))
                            break
                        payload = await reader.readexactly(n)
                except TimeoutError:
                    self.idle_closed += 1
                    reason = f"sapient-idle: no complete message for {idle_s:g} s; closed"
                    self._reject(peer, Rejected(code=RejectCode.REFUSED, reason=reason))
                    break
                except asyncio.IncompleteReadError as e:
                    if e.partial:
                        self._reject(
                            peer,
                            Rejected(
                                code=RejectCode.TRUNCATED,
                                reason="sapient-truncated: connection closed mid-message",
                            ),
                        )
                    break
                if not bucket.take():
                    reason = f"sapient-rate: over {cfg.max_messages_per_s:g} messages/s"
                    self._reject(peer, Rejected(code=RejectCode.RATE_LIMIT, reason=reason))
                    continue
                res = decode_message(
                    payload, self.clock(), self.nodes, fusion_node_id=self.fusion_node_id
                )
                if res.node is not None:
                    self.nodes[res.node.node_id] = res.node
                    seen.add(res.node.node_id)
                for out in res.outputs:
                    await self._dispatch(peer, out, writer)
        except (ConnectionError, OSError) as e:
            log.info("SAPIENT connection %s lost: %s", peer, e)
        except asyncio.CancelledError:
            # Only close() cancels a connection; ending quietly spares the log an
            # asyncio traceback (3.11 streams ask a cancelled handler for its exception).
            log.debug("SAPIENT connection %s closed at shutdown", peer)
        finally:
            self.open_connections -= 1
            t = self.clock()
            for node_id in sorted(seen):
                self.on_status(NodeStatus(node_id=node_id, t=t, system="disconnected"))
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            if task is not None:
                self._conns.discard(task)

    async def _dispatch(self, peer: str, out: Output, writer: asyncio.StreamWriter) -> None:
        if isinstance(out, Reply):
            writer.write(out.frame)
            await writer.drain()
        elif isinstance(out, SapientReport):
            self.on_detection(out)
        elif isinstance(out, Sensor):
            self.on_sensor(out)
        elif isinstance(out, NodeStatus):
            self.on_status(out)
        else:
            self._reject(peer, out)
