"""The live picture held in memory for the web map, with pub/sub for WebSocket clients.

The pipeline calls :meth:`LiveState.apply` once per scan (from the engine's
thread: the state is guarded by a lock). Each scan holds every current track
(confirmed and coasting; deleted ones once), so the picture is replaced as a
whole and tracks missing from a scan are gone. Alert events are published
before the scan's tracks, so a client hears of an alert at once.

Clients get the tracks as deltas: each scan is numbered (``seq``) and the state
keeps, for the last ``history_len`` scans, which tracks changed and which went,
plus every current track's JSON, encoded once. A client's feed
(:class:`~skywarden.web.feed.Subscriber`) that is a few scans behind gets one
delta covering them all, built from that JSON without encoding anything again;
one further behind gets the whole picture. Other events (alerts, acknowledgements,
sensors, zones) are JSON text encoded once and queued, in order, to every feed.
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
from .feed import FeedConfig, Subscriber

log = logging.getLogger(__name__)

SensorStatusName = Literal["ok", "silent", "degraded", "unknown"]


@dataclass(frozen=True, slots=True)
class SensorStatus:
    """A sensor's health as last reported; ``t`` UTC seconds (``None`` never reported)."""

    status: SensorStatusName
    t: float | None


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What a client needs to be at scan ``seq`` (time ``t``), as JSON messages:
    a ``delta`` (changed tracks and removed ids) or, when the client is further
    behind than the state remembers, the whole picture (a ``tracks`` message),
    split into parts of about ``part_bytes`` (all but the last say ``more: true``;
    the parts after the first are deltas)."""

    seq: int
    t: float | None
    parts: tuple[str, ...]


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

    ``trail_len`` positions are kept per track; ``history_len`` scans of changes
    are remembered for clients that lag (see the module doc); a track update is
    sent in parts of about ``part_bytes``, so that events can go out between
    them. Hooks the pipeline may set:
    ``on_zones_changed`` (called with the new zone list before an edit is
    accepted; raising ``ValueError`` refuses the edit) and ``metrics_provider``
    (returns extra metric name -> value; names ending ``_total`` are counters,
    the rest gauges).
    """

    def __init__(
        self,
        sensors: list[Sensor],
        zones: list[Zone],
        *,
        trail_len: int = 30,
        history_len: int = 64,
        part_bytes: int = 65_536,
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
        self.part_bytes = part_bytes
        #: Scans applied so far; a scan's number is its ``seq``.
        self.seq = 0
        self.on_zones_changed: Callable[[list[Zone]], None] | None = None
        self.metrics_provider: Callable[[], Mapping[str, float]] | None = None
        self._lock = threading.RLock()
        self._subs: set[Subscriber] = set()
        #: Each current track's JSON object, encoded when the track last changed.
        self._track_json: dict[str, bytes] = {}
        #: (seq, changed ids, removed ids) of the last ``history_len`` scans.
        self._history: deque[tuple[int, tuple[str, ...], tuple[str, ...]]] = deque(
            maxlen=history_len
        )
        #: The latest scan's own delta, shared by every client that is one scan behind.
        self._last_delta: TrackUpdate | None = None
        #: Clients moved to a coarser rate so far (counted by their feeds).
        self.downgrades = 0

    # --- pub/sub ---

    def subscribe(self, config: FeedConfig | None = None) -> Subscriber:
        """A new client feed; call from the event loop that reads it. Its first
        message is a snapshot, then events in order and the tracks as deltas."""
        sub = Subscriber(self, asyncio.get_running_loop(), config or FeedConfig())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Stop feeding ``sub``."""
        with self._lock:
            self._subs.discard(sub)

    @property
    def n_subscribers(self) -> int:
        return len(self._subs)

    @property
    def n_slow(self) -> int:
        """Clients currently sent the tracks at a coarser rate than every scan."""
        return sum(1 for s in list(self._subs) if s.every > 1)

    def _publish(self, msg: dict[str, Any]) -> None:
        """Queue one event (JSON encoded once) to every client, in order."""
        text = orjson.dumps(msg).decode()
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.post(text)

    def _wake_all(self) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.post(None)

    # --- updates from the pipeline ---

    def apply(self, scan: ScanOutput) -> None:
        """Take one scan's output: alert events first (published one by one), then the tracks."""
        self.apply_alerts(scan.alerts)
        self.apply_tracks(scan)

    def apply_tracks(self, scan: ScanOutput) -> None:
        """Take one scan's tracks (its alert events already taken by :meth:`apply_alerts`)."""
        with self._lock:
            old = self.tracks
            tracks: dict[str, TrackLine] = {}
            changed: list[str] = []
            for tl in scan.tracks:
                if tl.status == "deleted":
                    continue
                tracks[tl.id] = tl
                if old.get(tl.id) == tl:
                    continue
                changed.append(tl.id)
                self._track_json[tl.id] = orjson.dumps(_track_dict(tl))
                trail = self.trails.get(tl.id)
                if trail is None:
                    trail = self.trails[tl.id] = deque(maxlen=self.trail_len)
                trail.append((tl.lon, tl.lat, tl.alt_m, tl.t))
            removed = tuple(sorted(old.keys() - tracks.keys()))
            for tid in removed:
                self.trails.pop(tid, None)
                self._track_json.pop(tid, None)
            self.tracks = tracks
            self.t_s = scan.t_s
            self.seq += 1
            self._history.append((self.seq, tuple(changed), removed))
            self._last_delta = TrackUpdate(
                self.seq, scan.t_s, self._parts(b"delta", changed, removed)
            )
        self._wake_all()

    def apply_alerts(self, alerts: Iterable[AlertLine]) -> None:
        """Take alert events that come without a scan (sensor health, a failing
        link, restart clears): the tracks stay as they are."""
        for a in alerts:
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

    @property
    def scans_applied(self) -> int:
        return self.seq

    def track_update(self, since_seq: int) -> TrackUpdate | None:
        """The message that brings a client from scan ``since_seq`` to the latest
        (``None`` when it is there already): the shared delta when it is one scan
        behind, a coalesced delta within the remembered history, else the whole picture."""
        with self._lock:
            if since_seq >= self.seq:
                return None
            last = self._last_delta
            if last is not None and since_seq == self.seq - 1:
                return last
            if not self._history or since_seq + 1 < self._history[0][0]:
                return TrackUpdate(self.seq, self.t_s, self._parts(b"tracks", self._track_json, ()))
            changed: set[str] = set()
            gone: set[str] = set()
            for seq, ch, rm in self._history:
                if seq > since_seq:
                    changed.update(ch)
                    gone.update(rm)
            now = self._track_json
            # A track that came and went within the gap was never seen: naming it is harmless.
            removed = sorted((gone | changed) - now.keys())
            fresh = sorted(changed & now.keys())
            return TrackUpdate(self.seq, self.t_s, self._parts(b"delta", fresh, removed))

    def _parts(self, kind: bytes, tracks: Iterable[str], removed: Iterable[str]) -> tuple[str, ...]:
        """A ``kind`` message of the latest scan with these tracks (ids) and removed
        ids, in parts of about ``part_bytes`` (see :class:`TrackUpdate`)."""
        groups: list[list[bytes]] = [[]]
        size = 0
        for tid in tracks:
            js = self._track_json[tid]
            if groups[-1] and size + len(js) > self.part_bytes:
                groups.append([])
                size = 0
            groups[-1].append(js)
            size += len(js) + 1
        t = orjson.dumps(self.t_s)
        last = len(groups) - 1
        return tuple(
            (
                b'{"type":"%b","t":%b,"seq":%d,"tracks":[%b],"removed":%b%b}'
                % (
                    kind if i == 0 else b"delta",
                    t,
                    self.seq,
                    b",".join(g),
                    orjson.dumps(list(removed)) if i == 0 else b"[]",
                    b',"more":true' if i < last else b"",
                )
            ).decode()
            for i, g in enumerate(groups)
        )

    def snapshot_text(self) -> tuple[int, float | None, str]:
        """Everything a newly connected client needs (a ``snapshot`` message), with
        the scan number and time it shows."""
        with self._lock:
            tracks = b",".join(
                b'%b,"trail":%b}' % (js[:-1], orjson.dumps(list(self.trails.get(tid, ()))))
                for tid, js in self._track_json.items()
            )
            rest = {
                "alerts": self.alerts_view(),
                "sensors": self.sensors_view(),
                "zones": self.zones_geojson(),
            }
            text = b'{"type":"snapshot","t":%b,"seq":%d,"tracks":[%b],%b' % (
                orjson.dumps(self.t_s),
                self.seq,
                tracks,
                orjson.dumps(rest)[1:],
            )
            return self.seq, self.t_s, text.decode()

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
