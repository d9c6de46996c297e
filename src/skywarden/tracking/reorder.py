"""Measurement-time ordering of detections from asynchronous sensors.

Sensors report at their own rates and their messages arrive with different
delays. The buffer holds detections for ``window_s`` of measurement time and
releases them in time order, grouped into batches of one sensor at one time.
A detection older than what has already been released is too late to use in
order: it is rejected and counted.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from ..types import Detection


class ReorderBuffer:
    """Time-orders detections within a window and emits per-sensor batches.

    Detections are kept in one list per (time, sensor) batch, with a heap of the
    batches' keys: a push is a dict look-up and an append, whatever the number of
    detections held.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = float(window_s)
        self._batches: dict[tuple[float, str], list[Detection]] = {}
        self._keys: list[tuple[float, str]] = []  # heap of the keys of _batches
        self._n = 0
        self.newest_s = float("-inf")
        self.released_s = float("-inf")
        self.late = 0

    def __len__(self) -> int:
        return self._n

    def push(self, det: Detection) -> bool:
        """Add a detection; False (and counted) if it is older than released data."""
        t = det.t
        if t < self.released_s:
            self.late += 1
            return False
        key = (t, det.sensor)
        batch = self._batches.get(key)
        if batch is None:
            self._batches[key] = [det]
            heapq.heappush(self._keys, key)
        else:
            batch.append(det)
        self._n += 1
        if t > self.newest_s:
            self.newest_s = t
        return True

    def has_ready(self) -> bool:
        """Whether :meth:`pop_ready` (from the newest detection) would release a batch."""
        return bool(self._keys) and self._keys[0][0] < self.newest_s - self.window_s

    def pop_ready(self, now_s: float | None = None) -> Iterator[list[Detection]]:
        """Batches whose time is older than the window (measured from ``now_s``, or
        from the newest detection seen)."""
        edge = (self.newest_s if now_s is None else now_s) - self.window_s
        yield from self._release(edge)

    def flush(self) -> Iterator[list[Detection]]:
        """Every remaining batch, in order."""
        yield from self._release(float("inf"))

    def _release(self, edge: float) -> Iterator[list[Detection]]:
        keys = self._keys
        while keys and keys[0][0] < edge:
            key = heapq.heappop(keys)
            batch = self._batches.pop(key)
            self._n -= len(batch)
            self.released_s = key[0]
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
