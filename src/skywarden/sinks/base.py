"""What every sink shares: a bounded scan queue and an alert lane that never drops.

The pipeline hands each sink one :class:`~skywarden.types.ScanOutput` per
processed scan. Each sink runs as its own asyncio worker, and :meth:`QueueWorker.offer`
splits the scan in two:

- its **tracks** go to a bounded queue; when the sink falls behind, the *oldest*
  scan is dropped (a newer picture supersedes it), counted and logged, and the
  tracker is never held up;
- its **alert events** go to the :class:`AlertLane`, which never drops: it keeps
  the latest undelivered event of every alert (and its ``cleared`` event), so it is
  bounded by the number of alerts, not by time. The worker sends the lane
  before any scan; when the link is down (or sending fails) it keeps the lane
  whole and tries again at the next scan or when the link comes back
  (:meth:`QueueWorker.wake`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

import msgspec

from ..types import AlertLine, ScanOutput, SinkHealth, SinkState

__all__ = ["AlertLane", "QueueWorker"]

log = logging.getLogger(__name__)


class AlertLane:
    """Undelivered alert events, at most two per alert, oldest alert first.

    Per alert it keeps its latest undelivered non-clearing event (a newer
    ``updated`` replaces the waiting one: the peer needs the alert's current
    state, not its history; if the waiting one was ``raised`` the replacement
    keeps ``state: raised``, so the peer's first news of an alert says so) and,
    once the alert is cleared, the ``cleared`` event after it: an alert raised
    and cleared while the link was down is still told, in order.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, list[AlertLine]] = {}

    def add(self, alerts: Iterable[AlertLine]) -> None:
        for a in alerts:
            events = self._waiting.setdefault(a.id, [])
            if a.state == "cleared" or not events or events[-1].state == "cleared":
                events.append(a)
                continue
            if events[-1].state == "raised":
                a = msgspec.structs.replace(a, state="raised")
            events[-1] = a

    def peek(self) -> list[AlertLine]:
        """Every waiting event, in order (nothing is removed)."""
        return [a for events in self._waiting.values() for a in events]

    def done(self, delivered: Iterable[AlertLine]) -> None:
        """Forget delivered events (a newer event of the same alert stays)."""
        for a in delivered:
            events = self._waiting.get(a.id)
            if events is None:
                continue
            for i, e in enumerate(events):
                if e is a:
                    del events[i]
                    break
            if not events:
                del self._waiting[a.id]

    def __len__(self) -> int:
        return sum(len(events) for events in self._waiting.values())


class QueueWorker(ABC):
    """A sink worker: a drop-oldest scan queue and, if it carries alerts, an alert lane.

    A sink that carries alerts sets ``carries_alerts`` and implements
    :meth:`send_alerts`; :meth:`note_alerts` sees every alert event at once (for
    state such as which tracks are hostile), whether or not the link is up.
    """

    name = "sink"
    #: Whether this sink's protocol carries alert events.
    carries_alerts: ClassVar[bool] = False

    def __init__(self, maxsize: int = 64) -> None:
        self.queue: asyncio.Queue[ScanOutput] = asyncio.Queue(maxsize=maxsize)
        self.alerts = AlertLane()
        self.dropped = 0
        self.handled = 0
        self.errors = 0
        self.alerts_sent = 0
        #: Set by the sink when its link fails, cleared when it delivers again.
        self.failing = False
        self.last_error: str | None = None
        self._wakeup = asyncio.Event()

    def offer(self, item: ScanOutput) -> None:
        """Take one scan without waiting: alerts to the lane, tracks to the queue."""
        if item.alerts and self.carries_alerts:
            self.note_alerts(item.alerts)
            self.alerts.add(item.alerts)
            item = ScanOutput(t_s=item.t_s, tracks=item.tracks, alerts=())
            self._wakeup.set()
            if not item.tracks:
                return
        if self.queue.full():
            self.queue.get_nowait()
            self.queue.task_done()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "%s: queue full, dropped %d oldest scans so far", self.name, self.dropped
                )
        self.queue.put_nowait(item)
        self._wakeup.set()

    def wake(self) -> None:
        """Try the waiting alerts again now (the link has come back)."""
        self._wakeup.set()

    def note_alerts(self, alerts: tuple[AlertLine, ...]) -> None:  # noqa: B027 - optional hook
        """See alert events as they are offered (before delivery)."""

    async def send_alerts(self, alerts: list[AlertLine]) -> bool:
        """Deliver these alert events, in order; True when they all went out."""
        raise NotImplementedError(f"{self.name} carries no alerts")

    def health(self) -> SinkHealth:
        """Whether the link delivers, its last error, and the alert events waiting."""
        return SinkHealth(
            state=SinkState.FAILING if self.failing else SinkState.OK,
            last_error=self.last_error,
            alerts_pending=len(self.alerts),
        )

    async def flush_alerts(self) -> bool:
        """Send the alert lane once; True when nothing is left waiting."""
        if not len(self.alerts):
            return True
        batch = self.alerts.peek()
        try:
            ok = await self.send_alerts(batch)
        except (OSError, ValueError, RuntimeError) as e:
            log.warning("%s: failed to send %d alert events: %s", self.name, len(batch), e)
            ok = False
        if ok:
            self.alerts.done(batch)
            self.alerts_sent += len(batch)
        return ok and not len(self.alerts)

    async def run(self) -> None:
        """Send alerts first, then scans, until cancelled; alerts wait out a dead link."""
        while True:
            self._wakeup.clear()
            await self.flush_alerts()
            if self.queue.empty():
                await self._wakeup.wait()
                continue
            item = self.queue.get_nowait()
            try:
                await self.handle(item)
                self.handled += 1
            except (OSError, ValueError, RuntimeError) as e:
                self.errors += 1
                log.warning("%s: failed to handle scan at t=%.3f: %s", self.name, item.t_s, e)
            finally:
                self.queue.task_done()

    @abstractmethod
    async def handle(self, item: ScanOutput) -> None:
        """Deliver one scan's tracks."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most sinks need none
        """Release connections; called once when the pipeline stops."""
