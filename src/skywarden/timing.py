"""Time per engine stage, for the scale benchmark (``bench/scale.py``).

The engine and the tracker hold an optional :class:`StageTimer` (``None`` by
default). When it is set, each batch starts the timer and each stage boundary
calls :meth:`StageTimer.lap`, which charges the time since the previous boundary
to the stage just finished: one clock read per boundary, no nesting, nothing at
all when the timer is off (the boundary is a single ``is not None`` test).
Nothing is timed per detection: the reorder buffer's share is what the whole
run took less the stages (:meth:`StageTimer.rest`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The stages, in pipeline order. ``reorder`` is the rest (the reorder buffer and
#: the engine's per-detection work); ``predict`` includes the prediction of the
#: output table; ``update`` includes confirm/coast/delete; ``output`` is the
#: building of the track lines.
STAGES: tuple[str, ...] = (
    "reorder",
    "predict",
    "gate",
    "assign",
    "update",
    "initiate",
    "classify",
    "threat",
    "output",
)


class StageTimer:
    """Seconds spent per stage (``seconds[stage]``), accumulated by laps.

    ``clock`` is wall time by default; ``time.thread_time`` counts only this
    thread's CPU time (what one core spends, whatever else the machine runs).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._last = clock()

    def start(self) -> None:
        """Begin timing here (what happened since the last lap belongs to no stage)."""
        self._last = self.clock()

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap (or :meth:`start`) to ``stage``."""
        now = self.clock()
        self.seconds[stage] += now - self._last
        self._last = now

    def reset(self) -> None:
        """Zero every stage (after a warm-up)."""
        self.seconds = dict.fromkeys(STAGES, 0.0)

    def rest(self, total_s: float) -> dict[str, float]:
        """The stages' seconds with ``reorder`` set to ``total_s`` less all the others."""
        out = dict(self.seconds)
        out["reorder"] = total_s - sum(v for k, v in out.items() if k != "reorder")
        return out
