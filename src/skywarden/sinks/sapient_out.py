"""SAPIENT out: skywarden as a fusion node reporting to a higher-level SAPIENT node.

Protocol (BSI Flex 335 v2.0) over TCP, each message a 4-byte little-endian
length and a protobuf ``SapientMessage``. The bindings are ``sapient-py``
(module ``sapient_msg.bsi_flex_335_v2_0``, generated from the Dstl
SAPIENT-Proto-Files for v2.0; the same module the SAPIENT source uses).

- On connect: ``Registration`` (node type fusion node, tracking with re-id,
  capabilities, configuration data, one permanent mode that takes no task), then
  wait for ``RegistrationAck``; refused or no answer -> reconnect later.
- Identifiers follow the ICD's validation rules (the ``is_uuid`` / ``is_ulid`` /
  ``is_mandatory`` options of the v2.0 .proto files, as Dstl's Apex middleware
  checks them): ``node_id`` is a UUID version 4; report, object, alert and
  region ids are ULIDs. An alert keeps its ULID across all its events, a zone
  its region ULID for the whole run; skywarden's own alert and zone names go in
  the text fields.
- Every ``status_period_s``: ``StatusReport`` (system OK, node location).
- Every scan: one ``DetectionReport`` per track (WGS-84 location, ENU
  velocity, classification with confidence; ``object_id`` stable per track)
  and one ``Alert`` per alert lifecycle event.
- Reconnects with exponential backoff; while down, detection reports are
  dropped (the next scan supersedes them) and counted, and alert events wait in
  the alert lane (:mod:`.base`) and go out right after the next registration.

skywarden commands no sensor or effector: this sink never sends a ``Task``,
and any ``Task`` it receives is refused with a ``TaskAck`` of status rejected
and a logged refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import DecodeError
from sapient_msg.bsi_flex_335_v2_0 import (
    alert_pb2,
    location_pb2,
    registration_pb2,
    sapient_message_pb2,
    status_report_pb2,
    task_ack_pb2,
)

from .. import __version__
from ..geodesy import LocalFrame
from ..sources.sapient import check_node_id
from ..types import AlertLine, ScanOutput, TrackLine
from .base import QueueWorker
from .config import SapientOutConfig

log = logging.getLogger(__name__)

ICD_VERSION = "BSI Flex 335 v2.0"
MAX_FRAME_BYTES = 1 << 20
M_PER_DEG_LAT = 111_320.0
REFUSAL = "skywarden is a warning-only node: it accepts no tasking of sensors or effectors"

#: skywarden class -> (SAPIENT class type, sub-class type or None). Names follow
#: the BSI Flex 335 v2.0 taxonomy's top level (Air Vehicle, Animal, Unknown).
SAPIENT_CLASS: dict[str, tuple[str, str | None]] = {
    "drone": ("Air Vehicle", "UAV"),
    "aircraft": ("Air Vehicle", "Fixed Wing"),
    "helicopter": ("Air Vehicle", "Rotary Wing"),
    "bird": ("Animal", "Bird"),
    "unknown": ("Unknown", None),
}
ALERT_TYPE = {
    "info": alert_pb2.Alert.ALERT_TYPE_INFORMATION,
    "warning": alert_pb2.Alert.ALERT_TYPE_WARNING,
    "critical": alert_pb2.Alert.ALERT_TYPE_CRITICAL,
}
ALERT_PRIORITY = {
    "info": alert_pb2.Alert.DISCRETE_PRIORITY_LOW,
    "warning": alert_pb2.Alert.DISCRETE_PRIORITY_MEDIUM,
    "critical": alert_pb2.Alert.DISCRETE_PRIORITY_HIGH,
}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(t_s: float, rand80: int) -> str:
    """A ULID (26 Crockford base-32 chars): 48-bit milliseconds since the epoch, 80 bits given."""
    v = ((int(t_s * 1000.0) & ((1 << 48) - 1)) << 80) | (rand80 & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(v >> (5 * i)) & 31] for i in range(25, -1, -1))


def _hash_int(text: str, n_bytes: int) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=n_bytes).digest())


def frame_message(msg: Any) -> bytes:
    """A message with its 4-byte little-endian length prefix."""
    payload = msg.SerializeToString()
    return len(payload).to_bytes(4, "little") + payload


async def read_message(reader: asyncio.StreamReader) -> Any:
    """Read one framed ``SapientMessage``; raises ``ValueError`` on a bad frame."""
    n = int.from_bytes(await reader.readexactly(4), "little")
    if n > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {n} bytes is larger than {MAX_FRAME_BYTES}")
    msg = sapient_message_pb2.SapientMessage()
    try:
        msg.ParseFromString(await reader.readexactly(n))
    except DecodeError as e:
        raise ValueError(f"undecodable SapientMessage: {e}") from e
    return msg


class SapientEncoder:
    """Builds SAPIENT messages for one node (pure apart from its id counters)."""

    def __init__(self, config: SapientOutConfig, frame: LocalFrame, node_id: str) -> None:
        check_node_id(node_id)
        if config.destination_id is not None:
            uuid.UUID(config.destination_id)  # ValueError when it is no UUID
        self.cfg = config
        self.frame = frame
        self.node_id = node_id
        self._seq = itertools.count(1)
        self._node_hash = _hash_int(node_id, 4)
        self._object_ids: dict[str, str] = {}
        self._alert_ids: dict[str, str] = {}
        self._region_ids: dict[str, str] = {}

    def _msg(self, t_s: float) -> Any:
        m = sapient_message_pb2.SapientMessage(node_id=self.node_id)
        m.timestamp.FromNanoseconds(round(t_s * 1e9))
        if self.cfg.destination_id:
            m.destination_id = self.cfg.destination_id
        return m

    def report_id(self, t_s: float) -> str:
        # Unique per node and message: node hash in the high bits, a counter below.
        return ulid(t_s, (self._node_hash << 48) | (next(self._seq) & ((1 << 48) - 1)))

    def object_id(self, track_id: str, t_s: float) -> str:
        """The ULID of a track, fixed at its first report and kept until it is deleted."""
        oid = self._object_ids.get(track_id)
        if oid is None:
            h = hashlib.blake2b(f"{self.node_id}/{track_id}".encode(), digest_size=10).digest()
            oid = self._object_ids[track_id] = ulid(t_s, int.from_bytes(h))
        return oid

    def alert_ulid(self, alert_id: str, t_s: float) -> str:
        """The ULID of an alert: made at its first event, kept until it is cleared."""
        aid = self._alert_ids.get(alert_id)
        if aid is None:
            aid = self._alert_ids[alert_id] = ulid(
                t_s, _hash_int(f"{self.node_id}/alert/{alert_id}", 10)
            )
        return aid

    def region_ulid(self, zone_id: str) -> str:
        """The ULID of a zone: all 128 bits from the node and zone ids, so the same on every run."""
        rid = self._region_ids.get(zone_id)
        if rid is None:
            v = _hash_int(f"{self.node_id}/zone/{zone_id}", 16)
            rid = self._region_ids[zone_id] = ulid((v >> 80) / 1000.0, v)
        return rid

    def _location(
        self, loc: Any, lat: float, lon: float, alt_m: float, std_m: float | None
    ) -> None:
        loc.x, loc.y, loc.z = lon, lat, alt_m
        loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        loc.datum = location_pb2.LOCATION_DATUM_WGS84_E  # heights above the ellipsoid
        if std_m is not None:
            loc.y_error = std_m / M_PER_DEG_LAT
            loc.x_error = std_m / (M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 1e-6))
            loc.z_error = std_m

    def registration(self, t_s: float) -> Any:
        m = self._msg(t_s)
        r = m.registration
        nd = r.node_definition.add()
        nd.node_type = registration_pb2.Registration.NODE_TYPE_FUSION_NODE
        r.icd_version = ICD_VERSION
        r.name = self.cfg.name
        r.short_name = self.cfg.short_name
        sd = r.status_definition
        sd.status_interval.units = registration_pb2.Registration.TIME_UNITS_SECONDS
        sd.status_interval.value = float(self.cfg.status_period_s)
        sd.location_definition.location_units = (
            location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        )
        sd.location_definition.location_datum = location_pb2.LOCATION_DATUM_WGS84_E
        mode = r.mode_definition.add()
        mode.mode_name = "default"
        mode.mode_type = registration_pb2.Registration.MODE_TYPE_PERMANENT
        mode.mode_description = "warning only; accepts no tasking"
        mode.tracking_type = registration_pb2.Registration.TRACKING_TYPE_TRACK_WITH_RE_ID
        mode.scan_type = registration_pb2.Registration.SCAN_TYPE_FIXED
        mode.settle_time.units = registration_pb2.Registration.TIME_UNITS_SECONDS
        mode.settle_time.value = 0.0
        # The mandatory task definition states that no task is taken: no concurrent
        # task, no command; the region definition says what the alerts are about.
        task = mode.task
        task.concurrent_tasks = 0
        region = task.region_definition
        region.region_type.append(registration_pb2.Registration.REGION_TYPE_AREA_OF_INTEREST)
        area = region.region_area.add()
        area.location_units = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        area.location_datum = location_pb2.LOCATION_DATUM_WGS84_E
        for category, typ in (("Detection", "Fused track"), ("Alert", "Zone arrival warning")):
            cap = r.capabilities.add()
            cap.category, cap.type = category, typ
        cfg = r.config_data.add()
        cfg.manufacturer = "skywarden project"
        cfg.model = "skywarden"
        cfg.software_version = __version__
        return m

    def status_report(self, t_s: float) -> Any:
        m = self._msg(t_s)
        s = m.status_report
        s.report_id = self.report_id(t_s)
        s.system = status_report_pb2.StatusReport.SYSTEM_OK
        s.info = status_report_pb2.StatusReport.INFO_NEW
        s.mode = "default"
        self._location(
            s.node_location, self.frame.lat_deg, self.frame.lon_deg, self.frame.alt_m, None
        )
        return m

    def detection_report(self, tr: TrackLine) -> Any:
        m = self._msg(tr.t)
        d = m.detection_report
        d.report_id = self.report_id(tr.t)
        d.object_id = self.object_id(tr.id, tr.t)
        if tr.status == "deleted":
            self._object_ids.pop(tr.id, None)
        # Free text in the ICD; our track status says whether the object is still held.
        d.state = tr.status
        self._location(d.location, tr.lat, tr.lon, tr.alt_m, tr.pos_std_m)
        d.enu_velocity.east_rate, d.enu_velocity.north_rate, d.enu_velocity.up_rate = (
            float(v) for v in tr.vel_enu_mps
        )
        d.detection_confidence = float(tr.class_p.get(tr.class_, 0.0)) if tr.class_p else 0.0
        for cls, p in sorted(tr.class_p.items(), key=lambda kv: -kv[1]):
            typ, sub = SAPIENT_CLASS.get(cls, ("Unknown", None))
            c = d.classification.add()
            c.type, c.confidence = typ, float(p)
            if sub is not None:
                sc = c.sub_class.add()
                sc.type, sc.confidence, sc.level = sub, float(p), 1
        for k, v in sorted((tr.identity or {}).items()):
            info = d.object_info.add()
            info.type, info.value = k, v
        return m

    def alert(self, a: AlertLine, track: TrackLine | None) -> Any:
        m = self._msg(a.t)
        al = m.alert
        al.alert_id = self.alert_ulid(a.id, a.t)
        if a.state == "cleared":
            self._alert_ids.pop(a.id, None)
        al.alert_type = ALERT_TYPE[a.level]
        al.priority = ALERT_PRIORITY[a.level]
        al.status = (
            alert_pb2.Alert.ALERT_STATUS_CLEAR
            if a.state == "cleared"
            else alert_pb2.Alert.ALERT_STATUS_ACTIVE
        )
        if a.kind == "sensor":
            al.description = f"sensor {a.sensor} {a.state}" + (f": {a.reason}" if a.reason else "")
        else:
            tta = "inside" if a.tta_s == 0 else f"time to arrival {a.tta_s:.0f} s"
            al.description = f"{a.class_ or 'object'} {a.track} -> zone {a.zone}, {tta}" + (
                f" ({a.reason})" if a.reason else ""
            )
            if a.zone is not None:
                al.region_id = self.region_ulid(a.zone)
        if a.entry_lat is not None and a.entry_lon is not None:
            self._location(al.location, a.entry_lat, a.entry_lon, 0.0, None)
        elif track is not None:
            self._location(al.location, track.lat, track.lon, track.alt_m, track.pos_std_m)
        if a.track is not None:
            ad = al.associated_detection.add()
            ad.node_id = self.node_id
            ad.object_id = self.object_id(a.track, a.t)
            ad.timestamp.FromNanoseconds(round(a.t * 1e9))
        info = f"skywarden_alert={a.id}" + (f"; zone={a.zone}" if a.zone is not None else "")
        if a.tta_s is not None:
            info += f"; tta_s={a.tta_s:.1f}"
        al.additional_information = info
        return m

    def task_refusal(self, task_id: str, t_s: float) -> Any:
        m = self._msg(t_s)
        m.task_ack.task_id = task_id
        m.task_ack.task_status = task_ack_pb2.TaskAck.TASK_STATUS_REJECTED
        m.task_ack.reason.append(REFUSAL)
        return m


class SapientOutSink(QueueWorker):
    """Reports tracks and alerts to one higher-level SAPIENT node; see the module doc."""

    carries_alerts = True

    def __init__(
        self,
        config: SapientOutConfig,
        frame: LocalFrame,
        *,
        node_id: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        super().__init__(maxsize=config.queue_size)
        self.cfg = config
        self.name = f"sapient:{config.host}:{config.port}"
        self.encoder = SapientEncoder(config, frame, node_id)
        self.clock, self.sleep = clock, sleep
        self._writer: asyncio.StreamWriter | None = None
        self.registered = asyncio.Event()
        self.connects = 0
        self.sent_messages = 0
        self.dropped_reports = 0
        self.tasks_refused = 0
        # The alert's track as of its latest event: where its SAPIENT alert is located.
        self._alert_track: dict[str, TrackLine] = {}

    async def run(self) -> None:
        """Keep the link up in the background while consuming the scan queue."""
        link = asyncio.create_task(self._link(), name=f"{self.name}-link")
        try:
            await super().run()
        finally:
            link.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link
            await self._close()

    async def _link(self) -> None:
        backoff_s = self.cfg.backoff_initial_s
        while True:
            try:
                if await self._session():
                    backoff_s = self.cfg.backoff_initial_s
            except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as e:
                self.failing, self.last_error = True, f"link down: {e}"
                log.warning("%s: link down (%s)", self.name, e)
            finally:
                self.registered.clear()
                await self._close()
            log.info("%s: reconnecting in %.1f s", self.name, backoff_s)
            await self.sleep(backoff_s)
            backoff_s = min(backoff_s * 2.0, self.cfg.backoff_max_s)

    async def _session(self) -> bool:
        """One connection: register, then status and reading until it fails. True if registered."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.cfg.host, self.cfg.port), self.cfg.connect_timeout_s
        )
        self._writer = writer
        self.connects += 1
        await self._write([self.encoder.registration(self.clock())])
        ack = await asyncio.wait_for(self._await_ack(reader), self.cfg.registration_timeout_s)
        if not ack.acceptance:
            log.warning(
                "%s: registration refused: %s", self.name, "; ".join(ack.ack_response_reason)
            )
            return False
        log.info("%s: registered as %s", self.name, self.encoder.node_id)
        self.registered.set()
        self.failing, self.last_error = False, None
        self.wake()  # alerts that waited for the link go now
        status = asyncio.create_task(self._status_loop())
        try:
            while True:
                await self._on_message(await read_message(reader))
        finally:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status

    async def _await_ack(self, reader: asyncio.StreamReader) -> Any:
        while True:
            msg = await read_message(reader)
            if msg.HasField("registration_ack"):
                return msg.registration_ack
            await self._on_message(msg)

    async def _on_message(self, msg: Any) -> None:
        kind = msg.WhichOneof("content")
        if kind == "task":
            self.tasks_refused += 1
            log.warning(
                "%s: refused task %r from %s: skywarden tasks no sensor or effector",
                self.name, msg.task.task_id, msg.node_id,
            )  # fmt: skip
            await self._write([self.encoder.task_refusal(msg.task.task_id, self.clock())])
        elif kind == "alert_ack":
            log.info("%s: alert %s acknowledged", self.name, msg.alert_ack.alert_id)
        elif kind == "error":
            log.warning("%s: peer error: %s", self.name, "; ".join(msg.error.error_message))
        else:
            log.debug("%s: ignored %s message", self.name, kind)

    async def _status_loop(self) -> None:
        while True:
            await self._write([self.encoder.status_report(self.clock())])
            await self.sleep(self.cfg.status_period_s)

    async def _write(self, msgs: list[Any]) -> None:
        w = self._writer
        if w is None:
            raise ConnectionError("not connected")
        w.write(b"".join(frame_message(m) for m in msgs))
        await w.drain()
        self.sent_messages += len(msgs)

    async def _close(self) -> None:
        w, self._writer = self._writer, None
        if w is not None:
            w.close()
            with contextlib.suppress(OSError, ConnectionError):
                await w.wait_closed()

    def note_scan(self, item: ScanOutput) -> None:
        """Remember each alert's track as of the alert's latest event."""
        by_id = {t.id: t for t in item.tracks}
        for a in item.alerts:
            tr = by_id.get(a.track or "")
            if tr is not None:
                self._alert_track[a.id] = tr

    def offer(self, item: ScanOutput) -> None:
        self.note_scan(item)
        super().offer(item)

    async def send_alerts(self, alerts: list[AlertLine]) -> bool:
        if not self.registered.is_set():
            return False
        try:
            await self._write([self.encoder.alert(a, self._alert_track.get(a.id)) for a in alerts])
        except (OSError, ConnectionError) as e:
            log.warning("%s: alert send failed, kept for the next link: %s", self.name, e)
            return False
        for a in alerts:
            if a.state == "cleared":
                self._alert_track.pop(a.id, None)
        return True

    async def handle(self, item: ScanOutput) -> None:
        if item.alerts:  # called directly, not through the worker: alerts take the lane too
            self.note_scan(item)
            self.alerts.add(item.alerts)
        await self.flush_alerts()
        msgs = [self.encoder.detection_report(t) for t in item.tracks]
        if not msgs:
            return
        if not self.registered.is_set():
            self.dropped_reports += len(msgs)
            return
        try:
            await self._write(msgs)
        except (OSError, ConnectionError) as e:
            self.dropped_reports += len(msgs)
            log.warning("%s: send failed: %s", self.name, e)

    async def aclose(self) -> None:
        await self._close()
