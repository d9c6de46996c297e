"""Measurement-time ordering of detections from asynchronous sensors.

Sensors report at their own rates and their messages arrive with different
delays. The buffer holds detections for ``window_s`` of measurement time and
releases them in time order, grouped into batches of one sensor at one time.
A detection older than what has already been released is too late to use in
order: it is rejected and counted.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from ..types import Detection


class ReorderBuffer:
    """Time-orders detections within a window and emits per-sensor batches."""

    def __init__(self, window_s: float) -> None:
        self.window_s = float(window_s)
        self._heap: list[tuple[float, str, int, Detection]] = []
        self._seq = itertools.count()
        self.newest_s = float("-inf")
        self.released_s = float("-inf")
        self.late = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, det: Detection) -> bool:
        """Add a detection; False (and counted) if it is older than released data."""
        if det.t < self.released_s:
            self.late += 1
            return False
        heapq.heappush(self._heap, (det.t, det.sensor, next(self._seq), det))
        if det.t > self.newest_s:
            self.newest_s = det.t
        return True

    def pop_ready(self, now_s: float | None = None) -> Iterator[list[Detection]]:
        """Batches whose time is older than the window (measured from ``now_s``, or
        from the newest detection seen)."""
        edge = (self.newest_s if now_s is None else now_s) - self.window_s
        yield from self._release(edge)

    def flush(self) -> Iterator[list[Detection]]:
        """Every remaining batch, in order."""
        yield from self._release(float("inf"))

    def _release(self, edge: float) -> Iterator[list[Detection]]:
        h = self._heap
        while h and h[0][0] < edge:
            t, sensor, _, det = heapq.heappop(h)
            batch = [det]
            while h and h[0][0] == t and h[0][1] == sensor:
                batch.append(heapq.heappop(h)[3])
            self.released_s = t
            # Arrival order within a batch must not change the result.
            batch.sort(key=_content_key)
            yield batch


def _content_key(d: Detection) -> tuple:
    return (
        d.range_m or 0.0,
        d.az_deg or 0.0,
        d.el_deg or 0.0,
        d.lat or 0.0,
        d.lon or 0.0,
        d.alt_m or 0.0,
        d.uas_id or "",
        d.icao24 or "",
    )
