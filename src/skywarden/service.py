"""The live service: the batch :class:`~skywarden.pipeline.Engine` wired to
transports, clocks, the store, the web map and the outbound sinks with asyncio.

Tasks, each with one job and one bounded queue:
- sources (JSON Lines TCP/UDP, SAPIENT, file replay or the simulator feed)
  put detections on the detection queue; when it is full the oldest
  detection is dropped and counted (a newer picture beats an old one);
- the engine worker takes detections in order of arrival and hands them to
  the engine, which orders them by measurement time;
- the ticker moves the engine's clock on when no data comes (tracks coast
  and are deleted) and checks sensor health;
- every scan's output goes to the live state (web map), the store writer and
  each sink without waiting for any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from .config import SiteConfig
from .health import SensorHealth, sensor_alert, sensor_alert_id
from .runner import build_engine
from .scenario import Header
from .sinks.base import QueueWorker, ScanOutput
from .sinks.config import build_sinks
from .sinks.live import LiveState
from .sinks.store import Store, StoreWriter
from .sinks.web import create_app, serve_app
from .sources.asterix48 import AsterixUdpEndpoint
from .sources.base import RejectionCounter
from .sources.jsonl import JsonlTcpServer, JsonlUdpEndpoint, file_records, replay
from .sources.live import RemoteIdUdpEndpoint, adsb_feed
from .types import AlertLine, Detection, Record, Rejected, Sensor, Zone

if TYPE_CHECKING:
    from .sources.sapient import NodeStatus

log = logging.getLogger(__name__)


@dataclass
class ServiceMetrics:
    """Counters for ``/metrics``."""

    detections_received: int = 0
    detections_dropped_queue: int = 0
    latency_s: list[float] = field(default_factory=list)

    def observe_latency(self, s: float) -> None:
        self.latency_s.append(s)
        if len(self.latency_s) > 10_000:
            del self.latency_s[:5_000]


class Service:
    """One site's live picture: sources → engine → live state, store and sinks."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        config_dir: Path | None = None,
        feed: Iterable[Record] | None = None,
        feed_speed: float = 1.0,
        clock: Callable[[], float] = time.time,
        local_session: bool = False,
    ) -> None:
        self.config = config
        self.clock = clock
        self._feed = feed
        self._feed_speed = feed_speed
        self.metrics = ServiceMetrics()
        self.rejections = RejectionCounter()
        self.store = Store(config.store.path, retention_s=config.store.retention_s)
        zones = self.store.load_zones(config.all_zones(config_dir))
        self.header = Header(
            site=config.site, sensors={s.id: s for s in config.sensors}, zones=list(zones)
        )
        self.engine = build_engine(
            self.header, engine_config=config.engine, tracker_config=config.tracker,
            threat_config=config.threat,
        )  # fmt: skip
        open_alerts = self.store.open_alerts()
        if self.engine.assessor is not None:
            self.engine.assessor.restore([a for a in open_alerts if a.kind != "sensor"])
        self.live = LiveState(list(self.header.sensors.values()), list(zones))
        self.live.restore(open_alerts, self.store.acks())
        self.live.on_zones_changed = self._zones_changed
        self.live.metrics_provider = self._metrics
        self.health = SensorHealth(self.header.sensors, start_s=clock())
        self.writer = StoreWriter(self.store)
        self.sinks: list[QueueWorker] = [
            self.writer,
            *build_sinks(
                config.sinks, self.engine.frame, site_name=config.site.name, zones=list(zones)
            ),
        ]
        web_cfg = config.web
        if local_session and not web_cfg.local_session:
            web_cfg = msgspec.structs.replace(web_cfg, local_session=True)
        self.app = create_app(self.live, self.store, web_cfg)
        self._queue: asyncio.Queue[Detection] = asyncio.Queue(config.sources.queue_size)
        self._tasks: list[asyncio.Task] = []
        self._closers: list[Callable] = []
        self.ports: dict[str, int] = {}
        self._config_sensors = frozenset(s.id for s in config.sensors)
        self.jsonl_tcp: JsonlTcpServer | None = None
        self.jsonl_udp: JsonlUdpEndpoint | None = None
        self._failing_sinks: dict[str, str] = {}

    # --- wiring -------------------------------------------------------------------

    def _on_record(self, rec: Record) -> None:
        """Called by every source for every accepted record (never blocks)."""
        if isinstance(rec, Detection):
            self.metrics.detections_received += 1
            if self._queue.full():
                self._queue.get_nowait()
                self.metrics.detections_dropped_queue += 1
            self._queue.put_nowait(rec)
        elif isinstance(rec, Sensor):
            self.add_sensor(rec)

    def add_sensor(self, sensor: Sensor) -> None:
        """Declare a sensor that appeared live (a JSON sensor line, a SAPIENT registration).

        A sensor of the site config is never replaced from the network.
        """
        if sensor.id in self._config_sensors:
            if sensor != self.header.sensors[sensor.id]:
                reason = (
                    f"sensor '{sensor.id}' is declared in the site config and cannot be redeclared"
                )
                self.rejections.add("sensor registration", Rejected(reason=reason))
            return
        self.header.sensors[sensor.id] = sensor
        self.health.declared(sensor.id, self.clock())
        self.engine.tracker.add_sensor(sensor)
        self.live.add_sensor(sensor)

    def _zones_changed(self, zones: list[Zone]) -> None:
        """An operator edited the zones: the threat stage and the TAK drawings follow."""
        self.engine.set_zones(zones)
        self.header.zones[:] = zones
        for s in self.sinks:
            set_zones = getattr(s, "set_zones", None)
            if set_zones is not None:
                set_zones(zones)

    def _dispatch(self, out: ScanOutput) -> None:
        self.live.apply(out)
        for s in self.sinks:
            s.offer(out)

    def _dispatch_sensor_alerts(self, alerts: list[AlertLine]) -> None:
        if not alerts:
            return
        for a in alerts:
            self.live.set_sensor_status(
                a.sensor or "", "silent" if a.state == "raised" else "ok", a.t
            )
        self._dispatch(ScanOutput(t_s=alerts[0].t, tracks=(), alerts=tuple(alerts)))

    async def _engine_worker(self) -> None:
        while True:
            det = await self._queue.get()
            now = self.clock()
            self._dispatch_sensor_alerts(self.health.heard(det.sensor, now))
            for sid in self.health.take_newly_ok():
                self.live.set_sensor_status(sid, "ok", now)
            self.writer.add_detections([det])
            for out in self.engine.push(det):
                self._dispatch(out)
                self.metrics.observe_latency(self.clock() - out.t_s)

    async def _ticker(self) -> None:
        # Held detections are released as soon as the reorder window has passed.
        period_s = min(0.25, max(0.02, self.engine.reorder.window_s / 4))
        while True:
            await asyncio.sleep(period_s)
            now = self.clock()
            for out in self.engine.tick(now):
                self._dispatch(out)
            self._dispatch_sensor_alerts(self.health.check(now))
            self._check_sinks(now)

    def _check_sinks(self, now: float) -> None:
        """A sink that reports itself failing (a dead webhook endpoint) raises a
        ``sensor`` alert naming it, cleared when it delivers again: never silent."""
        alerts = []
        for s in self.sinks:
            health = getattr(s, "health", None)
            if health is None:
                continue
            h = health()
            failing = h.get("state") == "failing"
            if failing == (s.name in self._failing_sinks):
                continue
            if failing:
                aid = self._failing_sinks[s.name] = sensor_alert_id(s.name, now)
                reason = f"{s.name} failing: {h.get('last_error') or 'no delivery'}"
                alerts.append(sensor_alert(now, aid, s.name, "raised", reason))
            else:
                aid = self._failing_sinks.pop(s.name)
                alerts.append(
                    sensor_alert(now, aid, s.name, "cleared", f"{s.name} delivering again")
                )
        if alerts:
            self._dispatch(ScanOutput(t_s=now, tracks=(), alerts=tuple(alerts)))

    def _metrics(self) -> dict[str, float]:
        e = self.engine
        lat = sorted(self.metrics.latency_s[-2000:])
        m = {
            "skywarden_detections_received_total": self.metrics.detections_received,
            "skywarden_detections_dropped_queue_total": self.metrics.detections_dropped_queue,
            "skywarden_detections_late_total": e.stats.late,
            "skywarden_detections_unknown_sensor_total": e.stats.unknown_sensor,
            "skywarden_scans_total": e.stats.scans,
            "skywarden_tracks_live": len(e.tracker),
            "skywarden_detection_queue_depth": self._queue.qsize(),
            "skywarden_scan_ms_mean": e.stats.ms_per_scan,
        }
        for src_name, n in self.rejections.by_source().items():
            m[f'skywarden_rejected_messages_total{{source="{src_name}"}}'] = n
        if lat:
            m["skywarden_output_latency_p99_s"] = lat[int(0.99 * (len(lat) - 1))]
        # Recording: 0 while the store cannot be written (a "recording stopped" alert is open).
        m["skywarden_recording_ok"] = float(self.writer.recording)
        m["skywarden_store_pending_rows"] = self.writer.pending
        m["skywarden_store_dropped_track_lines_total"] = self.writer.dropped_tracks
        m["skywarden_store_dropped_detections_total"] = self.writer.dropped_detections
        for s in self.sinks:
            m[f'skywarden_sink_dropped_total{{sink="{s.name}"}}'] = s.dropped
            m[f'skywarden_sink_ok{{sink="{s.name}"}}'] = float(s.name not in self._failing_sinks)
            m[f'skywarden_sink_queue_depth{{sink="{s.name}"}}'] = s.queue.qsize()
        return m

    # --- running ------------------------------------------------------------------

    async def start(self) -> None:
        """Start every task and listener; returns once they are up."""
        cfg = self.config
        src = cfg.sources
        spawn = self._tasks.append
        spawn(asyncio.create_task(self._engine_worker(), name="engine"))
        spawn(asyncio.create_task(self._ticker(), name="ticker"))
        for s in self.sinks:
            spawn(asyncio.create_task(s.run(), name=f"sink-{s.name}"))
        listener = {"config_sensors": self._config_sensors, "rejections": self.rejections}
        if src.jsonl_tcp_port is not None:
            tcp = self.jsonl_tcp = JsonlTcpServer(
                self.header, self._on_record, src.jsonl_tcp, **listener
            )
            self.ports["jsonl_tcp"] = await tcp.start(src.host, src.jsonl_tcp_port)
            self._closers.append(tcp.close)
        if src.jsonl_udp_port is not None:
            udp = self.jsonl_udp = JsonlUdpEndpoint(
                self.header, self._on_record, src.jsonl_udp, **listener
            )
            self.ports["jsonl_udp"] = await udp.start(src.host, src.jsonl_udp_port)
            self._closers.append(udp.close)
        if src.sapient_port is not None:
            from .sources.sapient import SapientServer, default_node_id

            sap = SapientServer(
                src.host, src.sapient_port,
                on_detection=lambda report: self._on_record(report.detection),
                on_sensor=self.add_sensor, on_status=self._on_sapient_status,
                fusion_node_id=src.sapient_node_id or default_node_id(f"{cfg.site.name}.skywarden"),
                clock=self.clock, rejections=self.rejections,
            )  # fmt: skip
            await sap.start()
            self.ports["sapient"] = sap.port
            self._closers.append(sap.close)
        for a in src.asterix48:
            ep = AsterixUdpEndpoint(
                self.header.sensors[a.sensor], self._on_record, rejections=self.rejections,
                clock=self.clock, default_alt_m=a.default_alt_m,
            )  # fmt: skip
            _, self.ports[f"asterix48:{a.sensor}"] = await ep.start(src.host, a.port)
            self._closers.append(ep.close)
        for r in src.remoteid:
            rid = RemoteIdUdpEndpoint(
                r.sensor, self._on_record, rejections=self.rejections, clock=self.clock, link=r.link
            )
            self.ports[f"remoteid:{r.sensor}"] = await rid.start(src.host, r.port)
            self._closers.append(rid.close)
        site = cfg.site
        for b in src.adsb:
            # Local CPR decoding is referenced to the receiver, wherever it stands.
            rx = self.header.sensors.get(b.sensor)
            ref = (rx.lat, rx.lon) if rx is not None else (site.lat, site.lon)
            feed = adsb_feed(b, *ref, self._on_record, rejections=self.rejections, clock=self.clock)
            spawn(asyncio.create_task(feed, name=f"adsb-{b.sensor}"))
        records = self._feed
        if records is None and src.replay:
            records = file_records(src.replay)
        if records is not None:
            speed = self._feed_speed if self._feed is not None else src.replay_speed
            spawn(
                asyncio.create_task(
                    replay(records, self._on_record, clock=self.clock, speed=speed), name="replay"
                )
            )

    def _on_sapient_status(self, status: NodeStatus) -> None:
        """A SAPIENT node's own health report (or its disconnection) -> sensor status.

        A node that reports is alive, whether or not it detects anything: each
        status report counts as hearing from its sensors (range-bearing and ``/pos``).
        """
        now = self.clock()
        if status.system != "disconnected":
            for sid in (status.node_id, f"{status.node_id}/pos"):
                if sid in self.header.sensors:
                    self.health.expect_status(sid, status.interval_s)
                    self._dispatch_sensor_alerts(self.health.heard(sid, now))
            for sid in self.health.take_newly_ok():
                self.live.set_sensor_status(sid, "ok", now)
        state = {"ok": "ok", "disconnected": "silent"}.get(status.system, "degraded")
        self.live.set_sensor_status(status.node_id, state, now)  # type: ignore[arg-type]

    async def serve(self, host: str | None = None, port: int | None = None) -> None:
        """Start everything and serve the web map and API until cancelled."""
        await self.start()
        try:
            await serve_app(
                self.app, host or self.config.server.host, port or self.config.server.port
            )
        finally:
            # A second cancellation (another signal) must not cut the stop short:
            # sinks closed and the store committed are what a clean stop is for.
            stopping = asyncio.ensure_future(self.stop())
            try:
                await asyncio.shield(stopping)
            except asyncio.CancelledError:
                await stopping
                raise

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for c in self._closers:
            r = c()
            if asyncio.iscoroutine(r):
                await r
        # The store writer's aclose commits what it still holds.
        for s in self.sinks:
            await s.aclose()
        self.store.close()
