"""The live service: the batch :class:`~skywarden.pipeline.Engine` wired to
transports, clocks, the store, the web map and the outbound sinks with asyncio.

Tasks, each with one job and one bounded queue:
- sources (JSON Lines TCP/UDP, SAPIENT, file replay or the simulator feed)
  hand detections to the engine thread's inbox; when it is full the oldest
  detection is dropped and counted (a newer picture beats an old one);
- the engine runs in a process of its own (:mod:`.engine_process`, the default)
  or on a thread (:mod:`.engine_thread`; ``engine.worker``), so a scan of
  thousands of tracks never holds up the event loop's sources, WebSockets and
  API: it wakes when detections come or when its clock must move on (a held
  scan leaves the reorder window; tracks coast when no data comes). In a
  process, :attr:`Service.engine` runs no scans (it is the site registry, the
  frame and the zone check); the live counters are ``engine_thread.snapshot()``;
- every scan's output goes to the live state (web map; its JSON is encoded on
  the engine's thread, or the thread receiving the process's outputs), then, on
  the event loop, to the store writer and each sink, without waiting for any of them;
- the health check looks for silent sensors and failing sinks twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .config import SiteConfig
from .engine_process import EngineProcess, EngineSetup
from .engine_thread import EngineThread
from .health import SensorHealth, sensor_alert, sensor_alert_id
from .i18n import Messages
from .pipeline import SiteRegistry, build_engine
from .scenario import Header
from .sinks.base import QueueWorker
from .sinks.config import build_sinks
from .sources.base import RejectionCounter
from .sources.jsonl import JsonlTcpServer, JsonlUdpEndpoint, file_records, replay
from .sources.listeners import SourceContext, listeners
from .sources.live import adsb_feed
from .store import Store, StoreWriter
from .types import (
    AlertLine,
    Detection,
    Record,
    RejectCode,
    Rejected,
    ScanOutput,
    Sensor,
    SinkState,
    Zone,
)
from .web import create_app, serve_app
from .web.state import LiveState

if TYPE_CHECKING:
    from .sources.sapient import NodeStatus, SapientServer

log = logging.getLogger(__name__)

_T = TypeVar("_T")
#: The name a ``sensor`` alert about the engine itself carries.
ENGINE = "engine"
#: An engine process that stops is started again at most this many times an hour
#: (an engine that fails on every scan would otherwise flap): then the alert stays.
ENGINE_RESTARTS = 3
#: Longest wait of the store's writer for an idle engine, per chunk of rows (s).
_STORE_PAUSE_S = 0.05

#: Sensors that may appear live (SAPIENT registrations, JSON sensor lines) besides the config's.
MAX_LIVE_SENSORS = 1_000


class ListenError(Exception):
    """A port the site needs cannot be had; the message is one sentence naming it and why."""


def listen_error(what: str, host: str, port: int, e: OSError | UnicodeError) -> ListenError:
    """The one sentence for ``e``, raised binding the ``what`` to ``host``:``port``."""
    if isinstance(e, UnicodeError):  # the IDNA codec refuses the name
        return ListenError(f"cannot resolve the host {host!r} for the {what}: not a valid name")
    if isinstance(e, socket.gaierror):
        return ListenError(f"cannot resolve the host {host!r} for the {what}: {e.strerror or e}")
    if e.errno == errno.EADDRINUSE:
        return ListenError(f"port {port} on {host} ({what}) is already in use")
    return ListenError(f"cannot listen on {host}:{port} for the {what}: {e.strerror or e}")


async def _bind(what: str, host: str, port: int, bind: Awaitable[_T]) -> _T:
    try:
        return await bind
    except (OSError, UnicodeError) as e:
        raise listen_error(what, host, port, e) from None


def bind_tcp(host: str, port: int, send_buffer_bytes: int | None = None) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (its first address), non-blocking;
    ``send_buffer_bytes`` sets the kernel send buffer its connections inherit."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer_bytes is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
        sock.bind(addr)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _threat(alerts: Iterable[AlertLine]) -> list[AlertLine]:
    """The threat alerts among ``alerts`` (not those about sensors, links or the engine)."""
    return [a for a in alerts if a.kind != "sensor"]


def _cleared(a: AlertLine, now_s: float, reason: str, **fields: Any) -> AlertLine:
    """Alert ``a`` cleared at ``now_s`` (never before its last event) for ``reason``."""
    return msgspec.structs.replace(a, t=max(now_s, a.t), state="cleared", reason=reason, **fields)


@dataclass
class ServiceMetrics:
    """Counters for ``/metrics``."""

    detections_received: int = 0
    latency_s: list[float] = field(default_factory=list)

    def observe_latency(self, s: float) -> None:
        self.latency_s.append(s)
        if len(self.latency_s) > 10_000:
            del self.latency_s[:5_000]


class ServiceCollector:
    """Prometheus collector of the pipeline's counters, read at scrape time, with
    labels for what there are many of (sources, rejection reasons, sinks)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        svc = self.service
        e, m = svc.engine_thread.snapshot(), svc.metrics
        for name, doc, value in (
            ("detections_received", "Detections accepted from every source.",
             m.detections_received),
            ("detections_dropped_queue", "Detections dropped from the full input queue.",
             e.dropped),
            ("detections_late", "Detections older than the reorder window.", e.late),
            ("detections_unknown_sensor", "Detections of undeclared sensors.",
             e.unknown_sensor),
            ("scans", "Scans processed by the tracker.", e.scans),
        ):  # fmt: skip
            yield CounterMetricFamily(f"skywarden_{name}", doc, value)
        yield GaugeMetricFamily("skywarden_tracks_live", "Tracks held by the tracker.", e.tracks)
        yield GaugeMetricFamily(
            "skywarden_detection_queue_depth", "Detections waiting for the engine.", e.waiting
        )
        yield GaugeMetricFamily(
            "skywarden_scan_ms_mean", "Mean tracker time per scan, ms.", e.ms_per_scan
        )
        lat = sorted(m.latency_s[-2000:])
        if lat:
            yield GaugeMetricFamily(
                "skywarden_output_latency_p99_s",
                "99th percentile of wall time minus scan time at output, s.",
                lat[int(0.99 * (len(lat) - 1))],
            )
        rej = CounterMetricFamily(
            "skywarden_rejected_messages",
            "Messages refused by a source, by source and reason.",
            labels=["source", "reason"],
        )
        for (source, reason), n in sorted(svc.rejections.counts.items()):
            rej.add_metric([source, reason], n)
        yield rej
        ign = CounterMetricFamily(
            "skywarden_ignored_messages",
            "Messages a source set aside on purpose (not errors), by source and reason.",
            labels=["source", "reason"],
        )
        for source, counts in sorted(svc.ignored.items()):
            for reason, n in sorted(counts.items()):
                ign.add_metric([source, reason], n)
        yield ign
        anon = CounterMetricFamily(
            "skywarden_remoteid_anonymous",
            "Remote ID Locations reported with no Basic ID (a non-compliant broadcast).",
            labels=["source"],
        )
        for source, counts in sorted(svc.anonymous_rid.items()):
            anon.add_metric([source], sum(counts.values()))
        yield anon
        dropped = CounterMetricFamily(
            "skywarden_sink_dropped", "Scans a sink dropped under back-pressure.", labels=["sink"]
        )
        depth = GaugeMetricFamily(
            "skywarden_sink_queue_depth", "Scans waiting in a sink's queue.", labels=["sink"]
        )
        pending = GaugeMetricFamily(
            "skywarden_sink_alerts_pending",
            "Alert events a sink holds until its link delivers (never dropped).",
            labels=["sink"],
        )
        ok = GaugeMetricFamily(
            "skywarden_sink_ok", "1 while a sink delivers, else 0.", labels=["sink"]
        )
        for sink in svc.sinks:
            h = sink.health()
            dropped.add_metric([sink.name], sink.dropped)
            depth.add_metric([sink.name], sink.queue.qsize())
            pending.add_metric([sink.name], h.alerts_pending)
            ok.add_metric([sink.name], 1.0 if h.state is SinkState.OK else 0.0)
        yield from (dropped, depth, pending, ok)
        w = svc.writer
        yield GaugeMetricFamily(
            "skywarden_recording_ok",
            "0 while the store cannot be written (a 'recording stopped' alert is open).",
            float(w.recording),
        )
        yield GaugeMetricFamily(
            "skywarden_store_pending_rows", "Rows waiting for the store writer.", w.pending
        )
        yield CounterMetricFamily(
            "skywarden_store_dropped_track_lines",
            "Track lines dropped past the store writer's bound.",
            w.dropped_tracks,
        )
        yield CounterMetricFamily(
            "skywarden_store_dropped_detections",
            "Detections dropped past the store writer's bound.",
            w.dropped_detections,
        )


class Service:
    """One site's live picture: sources → engine → live state, store and sinks."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        config_dir: Path | None = None,
        feed: Iterable[Record] | None = None,
        feed_speed: float = 1.0,
        feed_t0: float | None = None,
        clock: Callable[[], float] = time.time,
        local_session: bool = False,
    ) -> None:
        self.config = config
        self.clock = clock
        self._feed = feed
        self._feed_speed = feed_speed
        #: Scenario time the feed's clock starts at (see ``replay``); its first detection's if None.
        self._feed_t0 = feed_t0
        self.metrics = ServiceMetrics()
        self.rejections = RejectionCounter()
        self.store = Store(config.store.path, retention_s=config.store.retention_s)
        zones = self.store.load_zones(config.all_zones(config_dir))
        #: The one table of sensors and zones every stage shares (see SiteRegistry).
        self.site = SiteRegistry(config.site, config.sensors, zones)
        #: The sources' table of sensors, kept on the event loop: a sensor registered
        #: live is in it at once (the detections right behind it are taken), while the
        #: registry, which the engine's thread owns, hears of it in order with them.
        self.header = Header(
            site=self.site.site, sensors=dict(self.site.sensors), zones=list(zones)
        )
        first_track_id = self.store.next_track_number()
        self.engine = build_engine(
            self.site, engine_config=config.engine, tracker_config=config.tracker,
            threat_config=config.threat, first_track_id=first_track_id,
        )  # fmt: skip
        self._restart_clears = self._close_restored_alerts(clock())
        # Every stored alert line (the threat stage's ids continue after them).
        history = self.store.alerts()
        if self.engine.assessor is not None:
            self.engine.assessor.restore(history)
        #: The open alert saying the engine stopped (there is no going back but a restart).
        self._engine_alert: str | None = None
        #: When the engine was started again after it stopped (the last hour's).
        self._engine_restarts: list[float] = []
        self._stopping = False
        self.live = LiveState(list(self.site.sensors.values()), list(zones))
        self.live.restore(self.store.open_alerts(), self.store.acks())
        self.live.on_zones_changed = self._zones_changed
        self.site.subscribe(self.live.on_site_event)
        self.health = SensorHealth(self.header.sensors, start_s=clock())
        self.writer = StoreWriter(self.store)
        #: Every user-facing text with the site's own wording (checked with the config).
        self.messages = Messages(config.messages)
        self.sinks: list[QueueWorker] = [
            self.writer,
            *build_sinks(
                config.sinks,
                self.engine.frame,
                site_name=config.site.name,
                zones=list(zones),
                messages=self.messages,
            ),
        ]
        if config.region is not None:
            from .region.publish import RegionPublisher

            self.sinks.append(
                RegionPublisher(
                    config.region, config.site, sensors=config.sensors, zones=zones, clock=clock
                )
            )
        esc = config.sinks.escalation
        channels: list[QueueWorker] = []
        if esc is not None:
            from .sinks.config import SinksConfig
            from .sinks.escalation import Escalator

            channels = build_sinks(
                SinksConfig(
                    webhooks=esc.webhooks, mqtt=esc.mqtt,
                    cap=esc.cap and msgspec.structs.replace(esc.cap, feed=False),
                ),
                self.engine.frame, site_name=config.site.name, zones=list(zones),
                messages=self.messages,
            )  # fmt: skip
            self.sinks.append(
                Escalator(esc, channels, store=self.store, live=self.live, clock=clock)
            )
        for sink in [*self.sinks, *channels]:
            on_site_event = getattr(sink, "on_site_event", None)
            if on_site_event is not None:
                self.site.subscribe(on_site_event)
        web_cfg = config.web
        if local_session and not web_cfg.local_session:
            web_cfg = msgspec.structs.replace(web_cfg, local_session=True)
        self.app = create_app(self.live, self.store, web_cfg, messages=self.messages)
        if config.sinks.cap is not None:
            from .sinks.cap import add_cap_routes

            add_cap_routes(self.app, self.sinks)
        # Alert events reach the store's writer and the live map as soon as the threat
        # stage has them; the scan's tracks, and the other sinks, follow with the whole
        # output (see _early_alerts).
        self.engine.on_alerts = self._early_alerts
        #: ids of the AlertLine objects handed to the store's writer ahead of their scan
        #: (engine thread only): the scan's output goes to it without them.
        self._stored_early: set[int] = set()
        self.engine_thread: EngineThread | EngineProcess
        if config.engine.worker == "process" and clock is time.time:
            self.engine_thread = EngineProcess(
                self.engine, maxsize=config.sources.queue_size, on_outputs=self._engine_outputs,
                setup=EngineSetup(
                    site=self.site.site, sensors=list(self.site.sensors.values()),
                    zones=list(self.site.zones), engine=config.engine, tracker=config.tracker,
                    threat=config.threat, first_track_id=first_track_id,
                    alerts=history, maxsize=config.sources.queue_size,
                ),
            )  # fmt: skip
        else:
            self.engine_thread = EngineThread(
                self.engine, maxsize=config.sources.queue_size, on_outputs=self._engine_outputs,
                clock=clock,
            )  # fmt: skip
        # Each stored row's insert takes the interpreter lock: thousands a second held
        # up the engine's scans (live raid, 2,000 tracks, 2 minutes: detection -> alert
        # p99 293 ms with the writer running freely, 241 with it waiting, 260 with
        # nothing stored). Track lines and detections wait (50 ms at most per chunk)
        # for the engine to be idle; alert events never wait.
        idle = self.engine_thread.idle
        self.writer.pause = lambda: idle.wait(_STORE_PAUSE_S)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._closers: list[Callable] = []
        #: Per source: messages set aside on purpose (ASTERIX CAT034 service messages),
        #: and Remote ID Locations reported with no Basic ID (by transmitter address).
        self.ignored: dict[str, Counter[str]] = {}
        self.anonymous_rid: dict[str, Counter[str]] = {}
        self.ports: dict[str, int] = {}
        self._config_sensors = frozenset(s.id for s in config.sensors)
        #: Every listening input by its key in ``ports`` ("jsonl_tcp", "sapient", ...).
        self.inputs: dict[str, object] = {}
        self._failing_sinks: dict[str, str] = {}
        self.metrics_collector = ServiceCollector(self)
        self.app.state.metrics.register(self.metrics_collector)

    def _close_restored_alerts(self, now_s: float) -> list[AlertLine]:
        """Clear the threat alerts a previous run left open, committed at once.

        Track numbers never repeat across runs and no track outlives the process,
        so no new track is the object such an alert was about: it is cleared with
        that reason (and its acknowledgement goes with it), and a drone seen after
        the restart raises an alert of its own. The assessor is seeded with every
        stored alert id (by the caller), so none is reused. Sensor alerts stay
        open, but for one saying the engine stopped: it runs again.
        """
        open_ = self.store.open_alerts()
        stale = [_cleared(a, now_s, "restart: object not reacquired") for a in _threat(open_)]
        stale += [
            _cleared(a, now_s, "tracking running again (restart)", cause="engine_running")
            for a in open_
            if a.kind == "sensor" and a.cause == "engine_stopped"
        ]
        self.store.write_alerts(stale)
        if stale:
            log.info("cleared %d alert(s) left open by the previous run", len(stale))
        return stale

    @property
    def jsonl_tcp(self) -> JsonlTcpServer | None:
        """The JSON Lines TCP listener, when configured (its statistics and limits)."""
        return cast("JsonlTcpServer | None", self.inputs.get("jsonl_tcp"))

    @property
    def jsonl_udp(self) -> JsonlUdpEndpoint | None:
        """The JSON Lines UDP listener, when configured."""
        return cast("JsonlUdpEndpoint | None", self.inputs.get("jsonl_udp"))

    @property
    def sapient(self) -> SapientServer | None:
        """The SAPIENT listener, when configured."""
        return cast("SapientServer | None", self.inputs.get("sapient"))

    # --- wiring -------------------------------------------------------------------

    def _on_record(self, rec: Record) -> None:
        """Called by every source for every accepted record (never blocks)."""
        if isinstance(rec, Detection):
            self.metrics.detections_received += 1
            now = self.clock()
            self._dispatch_sensor_alerts(self.health.heard(rec.sensor, now))
            for sid in self.health.take_newly_ok():
                self.live.set_sensor_status(sid, "ok", now)
            self.writer.add_detections((rec,))
            self.engine_thread.put(rec)  # drops are counted there (snapshot().dropped)
        elif isinstance(rec, Sensor):
            self.add_sensor(rec)

    def add_sensor(self, sensor: Sensor) -> None:
        """Declare a sensor that appeared live (a JSON sensor line, a SAPIENT registration).

        A sensor of the site config is never replaced from the network.
        """
        known = self.header.sensors
        if sensor.id in self._config_sensors:
            if sensor != known[sensor.id]:
                reason = (
                    f"sensor '{sensor.id}' is declared in the site config and cannot be redeclared"
                )
                self.rejections.add(
                    "sensor registration", Rejected(code=RejectCode.CONFLICT, reason=reason)
                )
            return
        live = len(known) - len(self._config_sensors)
        if sensor.id not in known and live >= MAX_LIVE_SENSORS:
            reason = f"sensor '{sensor.id}': {MAX_LIVE_SENSORS} sensors registered live already"
            self.rejections.add(
                "sensor registration", Rejected(code=RejectCode.REFUSED, reason=reason)
            )
            return
        self.health.declared(sensor.id, self.clock())
        known[sensor.id] = sensor
        # The tracker and spoof check hear of it on the engine's thread, in order
        # with the detections (the live map and the sinks hear of it from there too).
        self.engine_thread.declare(sensor)

    def _zones_changed(self, zones: list[Zone]) -> None:
        """An operator edited the zones: the registry tells the threat stage (which may
        refuse with ZoneError) and then the sinks (TAK drawings), between two scans."""
        with self.engine_thread.lock:
            self.site.replace_zones(zones)

    def _early_alerts(self, alerts: list[AlertLine]) -> None:
        """A tick's alert events, on the engine's thread, before its track lines are
        built: to the store's writer first, then the live map, in that order on the
        event loop (an alert an operator can see and acknowledge is already on its
        way to the store, as it was when both came with the whole output)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            early = ScanOutput(t_s=alerts[0].t, tracks=(), alerts=tuple(alerts))
            loop.call_soon_threadsafe(self.writer.offer, early)
            self._stored_early.update(map(id, alerts))
        self.live.apply_alerts(alerts)

    def _engine_outputs(self, outs: list[ScanOutput]) -> None:
        """The engine's outputs, on its thread: the tracks to the live map first (it
        has had their alert events from the engine already), then the sinks on the
        event loop (the store's writer without the alert events it already has)."""
        for out in outs:
            self.live.apply_tracks(out)
            self.metrics.observe_latency(self.clock() - out.t_s)
        early = self._stored_early
        stored = [
            ScanOutput(
                t_s=o.t_s, tracks=o.tracks, alerts=tuple(a for a in o.alerts if id(a) not in early)
            )
            if o.alerts
            else o
            for o in outs
        ]
        early.clear()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._offer, outs, stored)

    def _offer(self, outs: list[ScanOutput], stored: list[ScanOutput] | None = None) -> None:
        """Every output to every sink; to the store's writer ``stored`` instead, if given."""
        for out, rec in zip(outs, stored or outs, strict=True):
            for s in self.sinks:
                s.offer(rec if s is self.writer else out)

    def dispatch_alerts(self, alerts: list[AlertLine]) -> None:
        """Alert events that come without a scan (a silent sensor, a failing sink), on the
        event loop: to the live map, whose tracks stay as they are, and to every sink."""
        if not alerts:
            return
        self.live.apply_alerts(alerts)
        self._offer([ScanOutput(t_s=alerts[0].t, tracks=(), alerts=tuple(alerts))])

    def _dispatch_sensor_alerts(self, alerts: list[AlertLine]) -> None:
        if not alerts:
            return
        for a in alerts:
            self.live.set_sensor_status(
                a.sensor or "", "silent" if a.state == "raised" else "ok", a.t
            )
        self.dispatch_alerts(alerts)

    async def _health_check(self) -> None:
        # Silence is the absence of events, so it takes a clock: limits are seconds long.
        while True:
            await asyncio.sleep(0.5)
            now = self.clock()
            self._dispatch_sensor_alerts(self.health.check(now))
            self._check_sinks(now)
            if self._check_engine(now):
                await self._restart_engine()

    def _check_engine(self, now: float) -> bool:
        """An engine stopped by an error (its thread, or its process killed) raises a
        ``critical`` alert naming ``engine``: the map would otherwise show the last
        picture as if nothing came, and no drone would raise an alert. True when it
        is to be started again (an engine in a process, a few times an hour)."""
        if self._stopping or self.engine_thread.alive():
            return False
        if self._engine_alert is None:
            self._engine_alert = sensor_alert_id(ENGINE, now)
            log.error("the engine stopped: no new tracks or alerts")
            reason = "tracking stopped: no new tracks or alerts (see the service log)"
            self.dispatch_alerts([
                sensor_alert(now, self._engine_alert, ENGINE, "raised", "engine_stopped", reason,
                             level="critical")
            ])  # fmt: skip
        recent = [t for t in self._engine_restarts if now - t < 3600.0]
        self._engine_restarts = recent
        return isinstance(self.engine_thread, EngineProcess) and len(recent) < ENGINE_RESTARTS

    async def _restart_engine(self) -> None:
        """A new engine process in place of a stopped one; the old one's alerts are
        cleared (its tracks are gone, and no new track continues their objects)."""
        now = self.clock()
        self._engine_restarts.append(now)
        reason = "engine restarted: object not reacquired"
        self.dispatch_alerts([_cleared(a, now, reason) for a in _threat(self.live.alerts.values())])
        worker = cast(EngineProcess, self.engine_thread)
        await asyncio.to_thread(worker.restart)
        log.warning(
            "the engine was started again (%d restart(s) this hour)", len(self._engine_restarts)
        )
        if self._engine_alert is not None:
            line = sensor_alert(
                self.clock(), self._engine_alert, ENGINE, "cleared", "engine_running",
                "tracking running again: the engine was started again after it stopped",
                level="critical",
            )  # fmt: skip
            self.dispatch_alerts([line])
            self._engine_alert = None

    def _check_sinks(self, now: float) -> None:
        """A sink that reports itself failing (a dead webhook endpoint) raises a
        ``sensor`` alert naming it, cleared when it delivers again: never silent."""
        alerts = []
        for s in self.sinks:
            h = s.health()
            failing = h.state is SinkState.FAILING
            if failing == (s.name in self._failing_sinks):
                continue
            if failing:
                aid = self._failing_sinks[s.name] = sensor_alert_id(s.name, now)
                reason = f"{s.name} failing: {h.last_error or 'no delivery'}"
                alerts.append(sensor_alert(now, aid, s.name, "raised", "link_failing", reason))
            else:
                aid = self._failing_sinks.pop(s.name)
                reason = f"{s.name} delivering again"
                alerts.append(sensor_alert(now, aid, s.name, "cleared", "link_delivering", reason))
        self.dispatch_alerts(alerts)

    # --- running ------------------------------------------------------------------

    async def start(self) -> None:
        """Start every task and listener; returns once they are up."""
        cfg = self.config
        src = cfg.sources
        spawn = self._tasks.append
        self._loop = asyncio.get_running_loop()
        self.engine_thread.start()
        spawn(asyncio.create_task(self._health_check(), name="health"))
        for s in self.sinks:
            spawn(asyncio.create_task(s.run(), name=f"sink-{s.name}"))
        if self._restart_clears:
            # Already in the store; the live map and the outbound links hear of them now.
            clears, self._restart_clears = tuple(self._restart_clears), []
            self.live.apply_alerts(clears)
            for s in self.sinks[1:]:
                s.offer(ScanOutput(t_s=clears[0].t, tracks=(), alerts=clears))
        ctx = SourceContext(
            header=self.header, on_record=self._on_record, rejections=self.rejections,
            clock=self.clock, config_sensors=self._config_sensors, add_sensor=self.add_sensor,
            on_status=self._on_sapient_status, site_name=cfg.site.name,
        )  # fmt: skip
        for lst in listeners(src, ctx):
            self._closers.append(lst.close)
            self.inputs[lst.key] = lst.endpoint
            if lst.ignored is not None:
                self.ignored[lst.key] = lst.ignored
            if lst.anonymous is not None:
                self.anonymous_rid[lst.key] = lst.anonymous
            self.ports[lst.key] = await _bind(lst.what, src.host, lst.port, lst.start(src.host))
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
                    replay(
                        records,
                        self._on_record,
                        clock=self.clock,
                        speed=speed,
                        t0=self._feed_t0 if self._feed is not None else None,
                    ),
                    name="replay",
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

    async def serve(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        on_ready: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        """Bind every port, call ``on_ready`` with them, and serve until cancelled.

        Every listener and the web map's port are bound before ``on_ready``
        (where the command line prints the URL); a port that cannot be had
        raises :class:`ListenError` instead, after everything started is stopped.
        """
        host = host or self.config.server.host
        port = self.config.server.port if port is None else port
        sock: socket.socket | None = None
        try:
            await self.start()
            sndbuf = self.config.web.send_buffer_bytes
            sock = await _bind(
                "web map", host, port, asyncio.to_thread(bind_tcp, host, port, sndbuf)
            )
            self.ports["web"] = sock.getsockname()[1]
            if on_ready is not None:
                on_ready(dict(self.ports))
            await serve_app(self.app, sock=sock)
        finally:
            if sock is not None:
                sock.close()
            # A second cancellation (another signal) must not cut the stop short:
            # sinks closed and the store committed are what a clean stop is for.
            stopping = asyncio.ensure_future(self.stop())
            try:
                await asyncio.shield(stopping)
            except asyncio.CancelledError:
                await stopping
                raise

    async def stop(self) -> None:
        self._stopping = True
        # The engine's last outputs reach the sinks (call_soon_threadsafe keeps them
        # ahead of this coroutine's wake-up) before the sinks stop.
        await asyncio.to_thread(self.engine_thread.stop)
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
