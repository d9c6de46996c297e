"""The live engine on a thread of its own, so that the event loop stays free.

A scan of a few thousand tracks takes the engine tens to hundreds of
milliseconds; run on the event loop, it would hold up every source, every
WebSocket and the API for that long. :class:`EngineThread` runs the engine on
one worker thread instead. The event loop hands it detections through a bounded
inbox (drop-oldest, counted: a newer picture beats an old one) and sensor
declarations through a list that is never dropped; the thread sleeps on a
condition until something comes or the engine's clock must move on:

- when the oldest detection held in the reorder window leaves it (the
  detection's time plus the window), so a scan is released on time when no
  newer data pushes it out;
- at least every ``idle_s`` otherwise, so that tracks coast and are deleted
  when no data comes.

The clock moves on (tracks coast to the wall clock) only when no detection
waits and none has come for ``idle_s``: an engine that is behind, or a feed
that delivers late data (a link catching up), has data still to come, and
coasting the tracks to the wall clock meanwhile would put them ahead of it.
Held scans are released on time either way.

Outputs go to ``on_outputs`` on this thread. Everything that changes the
engine's state from elsewhere (a zone edit) takes :attr:`EngineThread.lock`.
:attr:`EngineThread.idle` is set while the thread waits for work: bulk work on
other threads (the store's track rows) waits for it, so as not to take the
interpreter lock from a scan on its way to an alert.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

import msgspec

from .pipeline import Engine
from .types import Detection, ScanOutput, Sensor

log = logging.getLogger(__name__)


def append_bounded(queue: deque[Detection], dets: Iterable[Detection], maxsize: int) -> int:
    """Append ``dets`` to ``queue``, dropping its oldest beyond ``maxsize`` (a newer
    picture beats an old one); returns how many were dropped."""
    queue.extend(dets)
    over = max(0, len(queue) - maxsize)
    for _ in range(over):
        queue.popleft()
    return over


class EngineSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The live engine's counters, for ``/metrics``."""

    late: int = 0
    unknown_sensor: int = 0
    scans: int = 0
    tracks: int = 0
    ms_per_scan: float = 0.0
    #: Detections dropped from the full inbox, and waiting in it.
    dropped: int = 0
    waiting: int = 0
    #: False once the engine stopped (an error in a scan; the service says so).
    running: bool = True
    #: The number the next new track will get.
    next_track_id: int = 1


class EngineThread:
    """Runs ``engine`` on a worker thread; see the module doc.

    ``maxsize``: detections waiting at most (beyond, the oldest is dropped).
    ``clock``: UTC seconds, the time detections are stamped in.
    ``on_outputs``: called on the worker thread with each step's outputs, in order.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        maxsize: int,
        on_outputs: Callable[[list[ScanOutput]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.maxsize = maxsize
        self.on_outputs = on_outputs
        self.clock = clock
        #: Held while the engine runs; take it to change the engine's state from another thread.
        self.lock = threading.Lock()
        #: Set while the thread waits for work (clear while it runs the engine).
        self.idle = threading.Event()
        #: Detections dropped from the full inbox.
        self.dropped = 0
        output_s = engine.config.output_interval_s
        self.idle_s = min(0.25, max(0.02, output_s / 4))
        self._cond = threading.Condition()
        self._inbox: deque[Detection] = deque()
        self._sensors: list[Sensor] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Times of the detections the reorder window holds (a min-heap).
        self._held: list[float] = []
        self._due = -math.inf
        #: When the last detection came (clock time).
        self._last_put_s = -math.inf

    def qsize(self) -> int:
        """Detections waiting for the engine."""
        return len(self._inbox)

    def snapshot(self) -> EngineSnapshot:
        """The engine's counters now (read without the lock: each is one int or float)."""
        e = self.engine
        return EngineSnapshot(
            late=e.stats.late, unknown_sensor=e.stats.unknown_sensor, scans=e.stats.scans,
            tracks=len(e.tracker), ms_per_scan=e.stats.ms_per_scan, dropped=self.dropped,
            waiting=self.qsize(), next_track_id=e.tracker.next_id,
        )  # fmt: skip

    def put(self, det: Detection) -> bool:
        """Hand a detection over (any thread, never blocks); False when the oldest
        waiting one was dropped to make room."""
        return self.put_many((det,)) == 0

    def put_many(self, dets: Iterable[Detection]) -> int:
        """Hand detections over at once (the engine takes all or none of them);
        returns how many of the oldest waiting were dropped to make room."""
        with self._cond:
            over = append_bounded(self._inbox, dets, self.maxsize)
            self.dropped += over
            self._last_put_s = self.clock()
            self._cond.notify()
        return over

    def declare(self, sensor: Sensor) -> None:
        """Declare a sensor to the site registry on the engine's thread, before the
        detections that follow it."""
        with self._cond:
            self._sensors.append(sensor)
            self._cond.notify()

    def start(self) -> None:
        # The clock first moves on one idle period after the start, not before the
        # first data has had a chance to come (an early tick would coast an empty
        # tracker to now, and data from the recent past would find it ahead).
        self._due = self.clock() + self.idle_s
        self._thread = threading.Thread(target=self._run, name="skywarden-engine", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Whether the engine runs (started, and not stopped by an error)."""
        return self._thread is not None and self._thread.is_alive()

    def join(self) -> None:
        """Wait until the thread ends (stopped, or by an error)."""
        th = self._thread
        if th is not None:
            th.join()

    def stop(self) -> None:
        """Stop the thread and wait for it (what waits in the inbox is not processed)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except Exception:
            # A fault in the engine must not die silently with its thread.
            log.exception("engine thread stopped by an error; no more tracks or alerts")

    def _step(self) -> bool:
        with self._cond:
            # Set only when it really waits: a step that finds work at once (the usual
            # case in a busy sky) must not wake the store's writer for nothing.
            while not (self._stopping or self._inbox or self._sensors):
                wait_s = self._due - self.clock()
                if wait_s <= 0:
                    break
                self.idle.set()
                self._cond.wait(wait_s)
            if self._stopping:
                self.idle.set()
                return False
            self.idle.clear()
            dets, self._inbox = self._inbox, deque()
            sensors, self._sensors = self._sensors, []
        engine = self.engine
        outs: list[ScanOutput] = []
        with self.lock:
            for s in sensors:
                engine.site.declare_sensor(s)
            for d in dets:
                refused = engine.stats.late + engine.stats.unknown_sensor
                outs.extend(engine.push(d))
                if engine.stats.late + engine.stats.unknown_sensor == refused:
                    heapq.heappush(self._held, d.t)
            now = self.clock()
            # Only with nothing waiting: behind a backlog, the clock moving on by itself
            # would coast every track past detections that are still to come.
            if now >= self._due and not self.qsize():
                outs.extend(engine.tick(now, coast=now - self._last_put_s >= self.idle_s))
            self._due = self._next_due(now)
        if outs:
            self.on_outputs(outs)
        return True

    def _next_due(self, now: float) -> float:
        """When the engine's clock must next move on (UTC seconds)."""
        reorder = self.engine.reorder
        held = self._held
        if not len(reorder):
            held.clear()
        # Released detections are those up to the last released time.
        while held and held[0] <= reorder.released_s:
            heapq.heappop(held)
        if held:
            # tick(now) releases what is older than now - window: just after this.
            release = held[0] + reorder.window_s + 1e-3
        elif len(reorder):
            # Held at exactly the last released time (arrived after it was released).
            release = now + reorder.window_s
        else:
            release = math.inf
        return min(release, now + self.idle_s)
