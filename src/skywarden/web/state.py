"""The live picture held in memory for the web map, with pub/sub for WebSocket clients.

The pipeline calls :meth:`LiveState.apply` once per scan. Each scan holds every
current track (confirmed and coasting; deleted ones once), so the picture is
replaced as a whole and tracks missing from a scan are gone. Alert events are
published before the scan's tracks, so a client hears of an alert at once.

Messages to clients are JSON text, encoded once per event and shared by all
subscribers. Each subscriber has a bounded queue that drops its *oldest*
message when full; :attr:`DropOldestQueue.dropped` tells the WebSocket handler
to resend a full snapshot, which supersedes whatever was lost.

Thread safety: the state is guarded by a lock and a subscriber's queue is fed
through its own event loop, so a feeder in another thread (tests, a replay
thread) may call :meth:`apply` as safely as the pipeline's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import orjson

from ..store import Ack, Escalation, zone_to_feature
from ..types import AlertLine, Level, ScanOutput, Sensor, SensorDeclared, SiteEvent, TrackLine, Zone

log = logging.getLogger(__name__)

SensorStatusName = Literal["ok", "silent", "degraded", "unknown"]


@dataclass(frozen=True, slots=True)
class SensorStatus:
    """A sensor's health as last reported; ``t`` UTC seconds (``None`` never reported)."""

    status: SensorStatusName
    t: float | None


class DropOldestQueue(asyncio.Queue):
    """A bounded queue whose ``offer`` drops the oldest item when full, counting drops."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.dropped = 0

    def offer(self, item: Any) -> None:
        """Put without waiting; when full, drop the oldest item first."""
        if self.full():
            self.get_nowait()
            self.dropped += 1
        self.put_nowait(item)


def alert_sort_key(alert: Mapping[str, Any]) -> tuple[int, float, float]:
    """Urgency order: critical first, then soonest time to arrival, then newest."""
    tta = alert.get("tta_s")
    level = str(alert.get("level"))
    return (
        -Level.of(level) if level.upper() in Level.__members__ else 1,
        float(tta) if tta is not None else float("inf"),
        -float(alert.get("t", 0.0)),
    )


class LiveState:
    """Current picture: tracks with short trails, open alerts, sensor status, zones.

    ``trail_len`` positions are kept per track. ``queue_size`` bounds each
    subscriber's queue. Hooks the pipeline may set: ``on_zones_changed`` (called
    with the new zone list before an edit is accepted; raising ``ValueError``
    refuses the edit) and ``metrics_provider`` (returns extra metric name -> value;
    names ending ``_total`` are counters, the rest gauges).
    """

    def __init__(
        self,
        sensors: list[Sensor],
        zones: list[Zone],
        *,
        trail_len: int = 30,
        queue_size: int = 256,
    ) -> None:
        self.sensors: dict[str, Sensor] = {s.id: s for s in sensors}
        self.sensor_status: dict[str, SensorStatus] = {
            s.id: SensorStatus("unknown", None) for s in sensors
        }
        self.zones: dict[str, Zone] = {z.id: z for z in zones}
        self.tracks: dict[str, TrackLine] = {}
        self.trails: dict[str, deque[tuple[float, float, float, float]]] = {}
        self.alerts: dict[str, AlertLine] = {}
        self.acks: dict[str, Ack] = {}
        self.escalations: dict[str, Escalation] = {}
        self.t_s: float | None = None
        self.trail_len = trail_len
        self.queue_size = queue_size
        self.scans_applied = 0
        self.on_zones_changed: Callable[[list[Zone]], None] | None = None
        self.metrics_provider: Callable[[], Mapping[str, float]] | None = None
        self._lock = threading.RLock()
        self._subs: dict[DropOldestQueue, asyncio.AbstractEventLoop] = {}

    # --- pub/sub ---

    def subscribe(self) -> DropOldestQueue:
        """A new subscriber queue of JSON text messages; call from the event loop that reads it."""
        q = DropOldestQueue(self.queue_size)
        with self._lock:
            self._subs[q] = asyncio.get_running_loop()
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        """Stop feeding ``q``."""
        with self._lock:
            self._subs.pop(q, None)  # type: ignore[call-overload]

    @property
    def n_subscribers(self) -> int:
        return len(self._subs)

    @property
    def dropped_messages(self) -> int:
        """Messages dropped so far across the current subscribers."""
        return sum(q.dropped for q in list(self._subs))

    def _publish(self, msg: dict[str, Any]) -> None:
        text = orjson.dumps(msg).decode()
        with self._lock:
            subs = list(self._subs.items())
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for q, loop in subs:
            if loop is here:
                q.offer(text)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(q.offer, text)

    # --- updates from the pipeline ---

    def apply(self, scan: ScanOutput) -> None:
        """Take one scan's output: alert events first (published one by one), then the tracks."""
        for a in scan.alerts:
            with self._lock:
                if a.state == "cleared":
                    self.alerts.pop(a.id, None)
                    ack = self.acks.pop(a.id, None)
                    esc = self.escalations.pop(a.id, None)
                else:
                    self.alerts[a.id] = a
                    ack = self.acks.get(a.id)
                    esc = self.escalations.get(a.id)
            self._publish({"type": "alert", "alert": _alert_dict(a, ack, esc)})
        with self._lock:
            old = set(self.tracks)
            tracks: dict[str, TrackLine] = {}
            for tl in scan.tracks:
                if tl.status == "deleted":
                    continue
                tracks[tl.id] = tl
                trail = self.trails.get(tl.id)
                if trail is None:
                    trail = self.trails[tl.id] = deque(maxlen=self.trail_len)
                trail.append((tl.lon, tl.lat, tl.alt_m, tl.t))
            removed = sorted(old - set(tracks))
            for tid in removed:
                self.trails.pop(tid, None)
            self.tracks = tracks
            self.t_s = scan.t_s
            self.scans_applied += 1
            msg = {
                "type": "tracks",
                "t": scan.t_s,
                "tracks": [_track_dict(tl) for tl in tracks.values()],
                "removed": removed,
            }
        self._publish(msg)

    def restore(self, alerts: Iterable[AlertLine], acks: Iterable[Ack]) -> None:
        """Reload open alerts and their acknowledgements after a restart (from the store)."""
        with self._lock:
            for a in alerts:
                if a.state != "cleared":
                    self.alerts[a.id] = a
            for k in acks:
                if k.alert_id in self.alerts:
                    self.acks[k.alert_id] = k

    def acknowledge(self, ack: Ack) -> None:
        """Mark an alert acknowledged (already committed to the store) and tell clients."""
        with self._lock:
            self.acks[ack.alert_id] = ack
        self._publish({"type": "ack", "alert_id": ack.alert_id, "ack": {"by": ack.by, "t": ack.t}})

    def escalate(self, esc: Escalation) -> None:
        """Mark an open alert escalated (already committed to the store) and tell clients."""
        with self._lock:
            if esc.alert_id not in self.alerts:
                return
            self.escalations[esc.alert_id] = esc
        self._publish({"type": "escalation", "alert_id": esc.alert_id, "escalated": _esc_dict(esc)})

    def set_sensor_status(self, sensor_id: str, status: SensorStatusName, t: float) -> None:
        """Record a sensor's health (``ok``, ``silent`` or ``degraded``) at UTC time ``t``."""
        with self._lock:
            self.sensor_status[sensor_id] = SensorStatus(status, t)
        self._publish({"type": "sensor", "sensor": self._sensor_dict(sensor_id)})

    def on_site_event(self, event: SiteEvent) -> None:
        """The site registry declared a sensor: show it. (Zone edits start here, in
        :meth:`set_zones`, so the registry's zone events need nothing more.)"""
        if isinstance(event, SensorDeclared):
            self.add_sensor(event.sensor)

    def add_sensor(self, sensor: Sensor) -> None:
        """Declare a sensor that appeared while running (e.g. a SAPIENT registration)."""
        with self._lock:
            self.sensors[sensor.id] = sensor
            self.sensor_status.setdefault(sensor.id, SensorStatus("unknown", None))
        self._publish({"type": "sensor", "sensor": self._sensor_dict(sensor.id)})

    def set_zones(self, zones: list[Zone]) -> None:
        """Replace the zones: the ``on_zones_changed`` hook first (it may refuse), then clients."""
        if self.on_zones_changed is not None:
            self.on_zones_changed(list(zones))
        with self._lock:
            self.zones = {z.id: z for z in zones}
        self._publish({"type": "zones", "zones": self.zones_geojson()})

    # --- views (JSON-ready) ---

    def tracks_view(self) -> list[dict[str, Any]]:
        """Current tracks, each with its ``trail`` of ``[lon, lat, alt_m, t]``."""
        with self._lock:
            return [
                {**_track_dict(tl), "trail": [list(p) for p in self.trails.get(tid, ())]}
                for tid, tl in self.tracks.items()
            ]

    def alerts_view(self) -> list[dict[str, Any]]:
        """Open alerts with their acknowledgement, most urgent first."""
        with self._lock:
            out = [
                _alert_dict(a, self.acks.get(a.id), self.escalations.get(a.id))
                for a in self.alerts.values()
            ]
        return sorted(out, key=alert_sort_key)

    def ack_of(self, alert_id: str) -> Ack | None:
        with self._lock:
            return self.acks.get(alert_id)

    def _sensor_dict(self, sensor_id: str) -> dict[str, Any]:
        st = self.sensor_status.get(sensor_id, SensorStatus("unknown", None))
        base = msgspec.to_builtins(self.sensors[sensor_id]) if sensor_id in self.sensors else {}
        base.pop("type", None)
        return {**base, "id": sensor_id, "status": st.status, "t_status": st.t}

    def sensors_view(self) -> list[dict[str, Any]]:
        """Every sensor with its position, coverage and status."""
        with self._lock:
            ids = sorted(set(self.sensors) | set(self.sensor_status))
            return [self._sensor_dict(i) for i in ids]

    def zones_geojson(self) -> dict[str, Any]:
        """The zones as a GeoJSON FeatureCollection."""
        with self._lock:
            zones = list(self.zones.values())
        return {"type": "FeatureCollection", "features": [zone_to_feature(z) for z in zones]}

    def snapshot(self) -> dict[str, Any]:
        """Everything a newly connected client needs (``type: "snapshot"``)."""
        return {
            "type": "snapshot",
            "t": self.t_s,
            "tracks": self.tracks_view(),
            "alerts": self.alerts_view(),
            "sensors": self.sensors_view(),
            "zones": self.zones_geojson(),
        }

    def tracks_message(self) -> dict[str, Any]:
        """The current tracks as a ``tracks`` message (the periodic refresh)."""
        with self._lock:
            return {
                "type": "tracks",
                "t": self.t_s,
                "tracks": [_track_dict(tl) for tl in self.tracks.values()],
                "removed": [],
            }


def _track_dict(tl: TrackLine) -> dict[str, Any]:
    d = msgspec.to_builtins(tl)
    d.pop("type", None)
    return d


def _esc_dict(esc: Escalation) -> dict[str, Any]:
    return {"t": esc.t, "after_s": esc.after_s, "to": esc.channels}


def _alert_dict(a: AlertLine, ack: Ack | None, esc: Escalation | None = None) -> dict[str, Any]:
    d = msgspec.to_builtins(a)
    d.pop("type", None)
    d["ack"] = None if ack is None else {"by": ack.by, "t": ack.t}
    if esc is not None:
        # Only when escalated, so the alert messages of earlier versions stay as they were.
        d["escalated"] = _esc_dict(esc)
    return d
