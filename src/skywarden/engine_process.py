"""The live engine in a process of its own, so that no scan waits for the interpreter lock.

On a thread (:mod:`.engine_thread`) the engine shares the interpreter lock with
the event loop: parsing thousands of detections a second, the store's inserts
and the WebSocket messages all take it from a scan on its way to an alert. In a
process of its own it has a core to itself. :class:`EngineProcess` has the same
face as :class:`~.engine_thread.EngineThread` (``put``, ``declare``, ``start``,
``stop``, ``lock``, ``idle``, ``dropped``, ``qsize``, :meth:`snapshot`), so the
service wires either one. What crosses between the processes:

- to the engine, in order: detections (batched as they come; when more than
  ``maxsize`` wait to be sent, the oldest is dropped and counted), sensor
  declarations and zone changes, each as one MessagePack message on a pipe;
- back, on a pipe of their own: each tick's alert events as soon as the threat
  stage has them, then the scans' outputs with the engine's counters.

The child runs an :class:`~.engine_thread.EngineThread` on its own clock
(``time.time``: a service with any other clock runs the engine on a thread).
Zones are checked in this process first, by the engine this object was built
with (it runs no scans here: it is the site registry, the local frame and the
zone check), so an edit is refused at once and in the same words as on a
thread. The child ends when its pipe closes, so it never outlives the service;
it ignores SIGINT and SIGTERM, which the service's own shutdown handles.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import re
import signal
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from .engine_thread import EngineSnapshot, EngineThread, append_bounded
from .pipeline import Engine, EngineConfig, SiteRegistry, build_engine
from .threat.assess import ThreatConfig
from .tracking.config import TrackerConfig
from .types import AlertLine, Detection, ScanOutput, Sensor, Site, SiteEvent, Zone, ZonesReplaced

log = logging.getLogger(__name__)


class EngineSetup(msgspec.Struct, frozen=True, kw_only=True):
    """What the child needs to build the same engine as the parent's."""

    site: Site
    sensors: list[Sensor]
    zones: list[Zone]
    engine: EngineConfig
    tracker: TrackerConfig
    threat: ThreatConfig
    first_track_id: int
    #: Every stored alert line, for the threat stage's restore (ids never reused).
    alerts: list[AlertLine]
    maxsize: int


# Parent -> child.
class _Dets(msgspec.Struct, array_like=True, tag="d"):
    dets: list[Detection]


class _Declare(msgspec.Struct, array_like=True, tag="s"):
    sensor: Sensor


class _Zones(msgspec.Struct, array_like=True, tag="z"):
    zones: list[Zone]


class _Stop(msgspec.Struct, array_like=True, tag="x"):
    pass


# Child -> parent.
class _Alerts(msgspec.Struct, array_like=True, tag="a"):
    alerts: list[AlertLine]


class _Outputs(msgspec.Struct, array_like=True, tag="o"):
    outs: list[ScanOutput]
    stats: EngineSnapshot


class _Bye(msgspec.Struct, array_like=True, tag="b"):
    pass


_ALERT_ID = re.compile(r"^A(\d+)$")

_ToChild = _Dets | _Declare | _Zones | _Stop
_ToParent = _Alerts | _Outputs | _Bye


class EngineProcess:
    """Runs a copy of ``engine`` in a child process; see the module doc.

    ``engine`` stays here unfed: its site registry (sensors declared here reach
    the live map and sinks through it at once), its frame and its zone check.
    ``on_outputs`` is called on a receiving thread with each step's outputs, in
    order, and ``engine.on_alerts`` (when set) with each tick's alert events
    before them; the alert objects in the outputs are those same objects.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        maxsize: int,
        on_outputs: Callable[[list[ScanOutput]], None],
        setup: EngineSetup,
    ) -> None:
        self.engine = engine
        self.maxsize = maxsize
        self.on_outputs = on_outputs
        self._setup = setup
        #: Held while a zone change is checked and queued (EngineThread's face).
        self.lock = threading.Lock()
        #: Always set: the store's writer never holds up a scan in another process.
        self.idle = threading.Event()
        self.idle.set()
        self._dropped = 0
        self._cond = threading.Condition()
        self._dets: deque[Detection] = deque()
        self._ctrl: list[_ToChild] = []
        self._stopping = False
        self._stats = EngineSnapshot()
        self._early: dict[AlertLine, AlertLine] = {}
        #: The alert event with the highest id number the engine has made.
        self._last_alert: AlertLine | None = None
        self._last_alert_n = 0
        self._proc: Any = None
        self._threads: list[threading.Thread] = []
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        engine.site.subscribe(self._on_site_event)

    # --- the EngineThread face -----------------------------------------------------

    @property
    def dropped(self) -> int:
        """Detections dropped here (waiting to be sent) and in the child's inbox."""
        return self._dropped + self._stats.dropped

    def qsize(self) -> int:
        """Detections waiting to be sent and waiting in the child's inbox."""
        return len(self._dets) + self._stats.waiting

    def snapshot(self) -> EngineSnapshot:
        """The engine's counters as of its last output."""
        return msgspec.structs.replace(self._stats, dropped=self.dropped, waiting=self.qsize())

    def put(self, det: Detection) -> bool:
        """Hand a detection over (any thread, never blocks); False when the oldest
        waiting one was dropped to make room."""
        with self._cond:
            over = append_bounded(self._dets, (det,), self.maxsize)
            self._dropped += over
            self._cond.notify()
        return over == 0

    def declare(self, sensor: Sensor) -> None:
        """Declare a sensor: here at once (live map, sinks), in the child in order
        with the detections."""
        self.engine.site.declare_sensor(sensor)
        self._send_ctrl(_Declare(sensor))

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        child_in, self._to_child = ctx.Pipe(duplex=False)
        self._from_child, child_out = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child_main,
            args=(child_in, child_out, msgspec.msgpack.encode(self._setup)),
            name="skywarden-engine",
            daemon=True,
        )
        self._proc.start()
        # The child holds its own ends; closing ours lets either side see the other end.
        child_in.close()
        child_out.close()
        for target, name in ((self._send_loop, "send"), (self._recv_loop, "recv")):
            th = threading.Thread(target=target, name=f"skywarden-engine-{name}", daemon=True)
            th.start()
            self._threads.append(th)

    def alive(self) -> bool:
        """Whether the engine runs: its process, its engine thread and the threads
        here that feed it and receive its outputs."""
        return (
            self._proc is not None
            and self._proc.is_alive()
            and all(th.is_alive() for th in self._threads)
            and self._stats.running
        )

    def restart(self) -> None:
        """Stop what is left of the engine and start a new one: the site's sensors and
        zones as they are now, track and alert numbers after the old engine's (never
        reused). The old engine's tracks and alerts are gone with it."""
        self.stop()
        site = self.engine.site
        # A cleared line only numbers what follows (restore reopens nothing from it).
        last = self._last_alert
        tail = [msgspec.structs.replace(last, state="cleared")] if last is not None else []
        self._setup = msgspec.structs.replace(
            self._setup,
            sensors=list(site.sensors.values()),
            zones=list(site.zones),
            first_track_id=max(self._setup.first_track_id, self._stats.next_track_id),
            alerts=[*self._setup.alerts, *tail],
        )
        with self._cond:
            self._stopping = False
            self._ctrl.clear()  # the sensors and zones are in the new setup
        self._dropped += self._stats.dropped
        self._stats = EngineSnapshot(next_track_id=self._setup.first_track_id)
        self._early.clear()
        self.start()

    def stop(self) -> None:
        """Stop the child and wait for it (what waits to be sent is not processed;
        the outputs it has made still arrive)."""
        with self._cond:
            self._stopping = True
            self._dets.clear()
            self._cond.notify()
        for th in self._threads:
            th.join(timeout=10.0)
        self._threads = []
        if self._proc is not None:
            self._proc.join(timeout=10.0)
            if self._proc.is_alive():
                log.error("engine process did not stop; killed")
                self._proc.kill()
                self._proc.join()
            self._proc = None

    # --- here ----------------------------------------------------------------------

    def _on_site_event(self, event: SiteEvent) -> None:
        # Reached only once every stage before it accepted the zones (the engine
        # here refuses bad ones by raising): the child gets what was accepted.
        if isinstance(event, ZonesReplaced):
            self._send_ctrl(_Zones(list(event.zones)))

    def _send_ctrl(self, msg: _ToChild) -> None:
        with self._cond:
            self._ctrl.append(msg)
            self._cond.notify()

    def _send_loop(self) -> None:
        conn = self._to_child
        assert conn is not None
        enc = msgspec.msgpack.Encoder()
        try:
            while True:
                with self._cond:
                    while not (self._stopping or self._dets or self._ctrl):
                        self._cond.wait()
                    ctrl, self._ctrl = self._ctrl, []
                    dets, self._dets = self._dets, deque()
                    stopping = self._stopping
                for msg in ctrl:
                    conn.send_bytes(enc.encode(msg))
                if dets:
                    conn.send_bytes(enc.encode(_Dets(list(dets))))
                if stopping:
                    conn.send_bytes(enc.encode(_Stop()))
                    return
        except OSError:
            if not self._stopping:
                log.error("engine process pipe closed; detections are no longer tracked")
        finally:
            conn.close()

    def _recv_loop(self) -> None:
        conn = self._from_child
        assert conn is not None
        dec = msgspec.msgpack.Decoder(_ToParent)
        try:
            while True:
                try:
                    msg = dec.decode(conn.recv_bytes())
                except EOFError:
                    code = None
                    if self._proc is not None:
                        self._proc.join(timeout=1.0)  # its pipe closes before it is reaped
                        code = self._proc.exitcode
                    log.error("engine process ended (exit code %s): no more tracks or alerts", code)
                    return
                if isinstance(msg, _Alerts):
                    self._early.update((a, a) for a in msg.alerts)
                    for a in msg.alerts:
                        m = _ALERT_ID.match(a.id)
                        if m and int(m.group(1)) > self._last_alert_n:
                            self._last_alert, self._last_alert_n = a, int(m.group(1))
                    on_alerts = self.engine.on_alerts
                    if on_alerts is not None:
                        on_alerts(msg.alerts)
                elif isinstance(msg, _Outputs):
                    self._stats = msg.stats
                    outs = [self._same_alerts(o) for o in msg.outs]
                    self._early.clear()
                    if outs:
                        self.on_outputs(outs)
                else:
                    return
        except Exception:
            log.exception("engine outputs stopped by an error; no more tracks or alerts")
        finally:
            conn.close()

    def _same_alerts(self, out: ScanOutput) -> ScanOutput:
        """``out`` with the alert objects handed to ``on_alerts`` already (the
        service tells which it has passed on by identity, as on a thread)."""
        if not out.alerts or not self._early:
            return out
        early = self._early
        return ScanOutput(
            t_s=out.t_s, tracks=out.tracks, alerts=tuple(early.pop(a, a) for a in out.alerts)
        )


def _child_main(conn_in: Connection, conn_out: Connection, setup_raw: bytes) -> None:
    """The child: builds the engine, runs it on an EngineThread, and feeds it from the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    setup = msgspec.msgpack.decode(setup_raw, type=EngineSetup)
    site = SiteRegistry(setup.site, setup.sensors, setup.zones)
    engine = build_engine(
        site, engine_config=setup.engine, tracker_config=setup.tracker,
        threat_config=setup.threat, first_track_id=setup.first_track_id,
    )  # fmt: skip
    if engine.assessor is not None:
        engine.assessor.restore(setup.alerts)
    enc = msgspec.msgpack.Encoder()
    send_lock = threading.Lock()

    def send(msg: _ToParent) -> None:
        raw = enc.encode(msg)
        with send_lock:
            conn_out.send_bytes(raw)

    th: EngineThread

    def on_outputs(outs: list[ScanOutput]) -> None:
        send(_Outputs(outs, th.snapshot()))

    def report_stopped() -> None:
        # The engine thread ends only when stopped or by an error (logged there):
        # in the second case the parent must hear of it.
        th.join()
        if not stopping.is_set():
            send(_Outputs([], msgspec.structs.replace(th.snapshot(), running=False)))

    engine.on_alerts = lambda alerts: send(_Alerts(alerts))
    th = EngineThread(engine, maxsize=setup.maxsize, on_outputs=on_outputs)
    # As in `serve`: what exists now lives as long as the process, out of the
    # collector's full passes, which stop the engine for tens of milliseconds.
    gc.collect()
    gc.freeze()
    stopping = threading.Event()
    th.start()
    threading.Thread(target=report_stopped, name="skywarden-engine-watch", daemon=True).start()
    dec = msgspec.msgpack.Decoder(_ToChild)
    try:
        while True:
            try:
                msg = dec.decode(conn_in.recv_bytes())
            except EOFError:
                break  # the service is gone
            if isinstance(msg, _Dets):
                # At once: a scan taken half-delivered could be released, and the
                # rest of it refused as late, when the inbox runs empty between two.
                th.put_many(msg.dets)
            elif isinstance(msg, _Declare):
                th.declare(msg.sensor)
            elif isinstance(msg, _Zones):
                with th.lock:
                    try:
                        site.replace_zones(msg.zones)
                    except ValueError:
                        # Checked by the parent's engine first; never expected here.
                        log.exception("engine process refused a zone change the service took")
            else:
                break
    finally:
        stopping.set()
        th.stop()
        with send_lock, contextlib.suppress(OSError):
            conn_out.send_bytes(enc.encode(_Bye()))
        conn_out.close()
