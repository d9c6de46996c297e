"""The store as a pipeline sink: alert events committed at once, track lines per scan.

Writes run off the event loop (``asyncio.to_thread``); when the database cannot
be written nothing is thrown away, the writer keeps it pending and retries.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable

from ..sinks.base import QueueWorker
from ..types import AlertLine, Detection, ScanOutput, SinkHealth, SinkState, TrackLine
from .db import Store

log = logging.getLogger(__name__)


class StoreWriter(QueueWorker):
    """The store as a pipeline sink: writes what the pipeline produced, off the event loop.

    :meth:`offer` moves a scan's track lines and alert events into pending buffers
    and wakes the worker, which writes everything pending at once: alert events
    committed on their own first, then track lines and detections in one
    transaction. When the database cannot be written (another process holds a
    lock, the disk is full) nothing is thrown away: the worker keeps it pending
    and retries with backoff (``retry_initial_s`` doubling up to ``retry_max_s``),
    and :meth:`health` says ``failing`` ("recording stopped") until a write
    succeeds, which the service raises as a ``sensor`` alert and ``/metrics`` shows.

    Bounds while it cannot write: the newest ``max_pending_tracks`` track lines and
    ``max_pending_detections`` detections wait; older ones are dropped and counted
    (``dropped_tracks``, ``dropped_detections``). Alert events are never dropped.
    ``prune_interval_s`` (scan time) is how often retention runs.

    ``pause`` (if set) is called on the writing thread before each chunk of track
    lines and detections (never before alert events): the live service has it wait,
    briefly, for the engine to be idle (see :meth:`Service.__init__`). One write
    spends at most ``pause_budget_s`` in it, so an engine that is never idle slows
    the record down but cannot stop it.
    """

    name = "store"

    def __init__(
        self,
        store: Store,
        *,
        max_pending_tracks: int = 200_000,
        max_pending_detections: int = 200_000,
        prune_interval_s: float = 60.0,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 5.0,
    ) -> None:
        # The queue carries only wake-ups; the data waits in the pending buffers,
        # which are bounded by rows rather than by scans.
        super().__init__(maxsize=1)
        self.store = store
        self.max_pending_tracks = max_pending_tracks
        self.max_pending_detections = max_pending_detections
        self.prune_interval_s = prune_interval_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.pause: Callable[[], object] | None = None
        self.pause_budget_s = 0.25
        self._alerts: list[AlertLine] = []
        self._tracks: deque[TrackLine] = deque()
        self._detections: deque[Detection] = deque()
        self._t_s = -float("inf")
        self._last_prune_t = -float("inf")
        self.dropped_tracks = 0
        self.dropped_detections = 0
        self.write_failures = 0
        #: Why the last write failed; ``None`` while recording works.
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Alert events, track lines and detections waiting to be written."""
        return len(self._alerts) + len(self._tracks) + len(self._detections)

    @property
    def recording(self) -> bool:
        """``False`` from a failed write until the next write succeeds."""
        return self.last_error is None

    def health(self) -> SinkHealth:
        """Whether recording works, its last error, and the alert events waiting.
        (Queued rows and drops: ``pending``, ``dropped_tracks``, ``dropped_detections``.)"""
        return SinkHealth(
            state=SinkState.OK if self.recording else SinkState.FAILING,
            last_error=self.last_error,
            alerts_pending=len(self._alerts),
        )

    def offer(self, item: ScanOutput) -> None:
        """Take a scan's alerts and track lines (no I/O, no waiting) and wake the worker."""
        self._take(item)
        if self.queue.empty():
            self.queue.put_nowait(ScanOutput(t_s=self._t_s, tracks=(), alerts=()))
        self._wakeup.set()

    def _take(self, item: ScanOutput) -> None:
        self._alerts.extend(item.alerts)
        self._tracks.extend(item.tracks)
        self.dropped_tracks += _trim(self._tracks, self.max_pending_tracks)
        self._t_s = max(self._t_s, item.t_s)

    def add_detections(self, detections: Iterable[Detection]) -> None:
        """Hold detections for the next write; the oldest go when too many wait."""
        self._detections.extend(detections)
        self.dropped_detections += _trim(self._detections, self.max_pending_detections)

    async def handle(self, item: ScanOutput) -> None:
        """Write ``item`` and everything pending; on a database error keep it all and
        retry with backoff until it is written."""
        self._take(item)
        delay = self.retry_initial_s
        while not await self._flush_once():
            await asyncio.sleep(delay)
            delay = min(2.0 * delay, self.retry_max_s)

    async def _flush_once(self) -> bool:
        alerts, self._alerts = self._alerts, []
        tracks, self._tracks = list(self._tracks), deque()
        dets, self._detections = list(self._detections), deque()
        done: list[str] = []
        fut = asyncio.ensure_future(
            asyncio.to_thread(self._write, alerts, tracks, dets, self._t_s, done)
        )
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            # The thread cannot be stopped: wait for it, so that what it wrote is known.
            await asyncio.gather(fut, return_exceptions=True)
            self._put_back(alerts, tracks, dets, done)
            raise
        except sqlite3.Error as e:
            self._put_back(alerts, tracks, dets, done)
            self.write_failures += 1
            if self.last_error is None:
                log.error("store: recording stopped (%s); keeping data and retrying", e)
            self.last_error = f"recording stopped ({e})"
            return False
        if self.last_error is not None:
            log.warning("store: recording resumed after %d failed writes", self.write_failures)
            self.last_error = None
        return True

    def _put_back(
        self,
        alerts: list[AlertLine],
        tracks: list[TrackLine],
        dets: list[Detection],
        done: list[str],
    ) -> None:
        """Return an unwritten batch to the front of the buffers (what came meanwhile follows)."""
        if "alerts" not in done:
            self._alerts[:0] = alerts
        if "tracks" not in done:
            self._tracks.extendleft(reversed(tracks))
            self._detections.extendleft(reversed(dets))
            self.dropped_tracks += _trim(self._tracks, self.max_pending_tracks)
            self.dropped_detections += _trim(self._detections, self.max_pending_detections)

    def _write(
        self,
        alerts: list[AlertLine],
        tracks: list[TrackLine],
        dets: list[Detection],
        t_s: float,
        done: list[str],
    ) -> None:
        self.store.write_alerts(alerts)
        done.append("alerts")
        self.store.write_tracks(tracks, dets, self._budgeted_pause())
        done.append("tracks")
        if self.store.retention_s is not None and t_s - self._last_prune_t >= self.prune_interval_s:
            self._last_prune_t = t_s
            try:
                self.store.prune(now_s=t_s)
            except sqlite3.Error as e:
                log.warning("store: retention pruning failed (retried later): %s", e)

    def _budgeted_pause(self) -> Callable[[], None] | None:
        """``pause``, until this write has spent ``pause_budget_s`` in it."""
        pause = self.pause
        if pause is None:
            return None
        spent = 0.0

        def budgeted() -> None:
            nonlocal spent
            if spent < self.pause_budget_s:
                t = time.monotonic()
                pause()
                spent += time.monotonic() - t

        return budgeted

    async def aclose(self) -> None:
        """Write what is still pending (a few tries), else log what could not be written."""
        delay = self.retry_initial_s
        for _ in range(3):
            if await self._flush_once():
                return
            await asyncio.sleep(delay)
            delay = min(2.0 * delay, self.retry_max_s)
        log.error(
            "store: at shutdown %d alert events, %d track lines and %d detections could not "
            "be written: %s",
            len(self._alerts), len(self._tracks), len(self._detections), self.last_error,
        )  # fmt: skip


def _trim(buf: deque, maxlen: int) -> int:
    """Drop the oldest items of ``buf`` beyond ``maxlen``; returns how many went."""
    n = max(0, len(buf) - maxlen)
    for _ in range(n):
        buf.popleft()
    return n
