"""What every sink shares: the per-scan output message and a bounded worker.

The pipeline hands each sink one :class:`ScanOutput` per processed scan. Each
sink runs as its own asyncio worker with a bounded queue; when a sink falls
behind, the *oldest* scan is dropped (a newer picture supersedes it), the drop
is counted and logged, and the tracker is never held up. Alerts are not
superseded by later scans, so a sink that must not lose alerts keeps its own
retry queue for them (see the webhook sink).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..types import AlertLine, TrackLine

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScanOutput:
    """Everything one scan produced: confirmed tracks and alert lifecycle events."""

    t_s: float
    tracks: tuple[TrackLine, ...]
    alerts: tuple[AlertLine, ...]


class QueueWorker(ABC):
    """A sink worker: one bounded queue, one ``handle`` coroutine, drop-oldest when full."""

    name = "sink"

    def __init__(self, maxsize: int = 64) -> None:
        self.queue: asyncio.Queue[ScanOutput] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0
        self.handled = 0
        self.errors = 0

    def offer(self, item: ScanOutput) -> None:
        """Enqueue without waiting; drop the oldest item if the queue is full."""
        if self.queue.full():
            self.queue.get_nowait()
            self.queue.task_done()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "%s: queue full, dropped %d oldest scans so far", self.name, self.dropped
                )
        self.queue.put_nowait(item)

    async def run(self) -> None:
        """Consume the queue until cancelled."""
        while True:
            item = await self.queue.get()
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
        """Deliver one scan's output."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most sinks need none
        """Release connections; called once when the pipeline stops."""
