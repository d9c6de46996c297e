"""What every source shares: the decode contract and the rejection counter.

A decoder is a pure function ``decode(raw: bytes, t_rx_s: float, ...) ->
Detection | Rejected`` (or a short list of them). It does no I/O, reads no clock
and never raises into the pipeline. Transports call it and hand rejections to
a :class:`RejectionCounter`, which counts every one by its code and logs each kind once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..types import Rejected

log = logging.getLogger(__name__)

#: Distinct (source, code) pairs counted separately; more are counted as "other".
MAX_KINDS = 500
#: Latest rejections kept as examples.
SAMPLES = 100
#: Seconds between two summary log lines while rejections keep coming.
LOG_EVERY_S = 10.0


@dataclass
class RejectionCounter:
    """Counts rejections by source and :class:`~skywarden.types.RejectCode`, in bounded memory.

    The first rejection of each (source, code) is logged; after that, at most one summary
    line every ``LOG_EVERY_S`` seconds, however fast rejections come. The last
    ``SAMPLES`` rejections are kept as examples.
    """

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    samples: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    clock: Callable[[], float] = time.monotonic
    _since_log: int = 0
    _last_log: float = -1e18

    def add(self, source: str, rejected: Rejected) -> None:
        key = (source, rejected.code.value)
        now = self.clock()
        if key not in self.counts:
            if len(self.counts) >= MAX_KINDS:
                key = ("other", "other")
            elif now - self._last_log >= LOG_EVERY_S or len(self.counts) < 50:
                log.warning(
                    "%s: rejected message (%s); further ones of this kind are only counted",
                    source, rejected.reason[:200],
                )  # fmt: skip
        self.counts[key] += 1
        self.samples.append((time.time(), source, rejected.reason[:200]))
        self._since_log += 1
        if now - self._last_log >= LOG_EVERY_S:
            if self._since_log > 1:
                log.warning("%d messages rejected in the last %.0f s", self._since_log, LOG_EVERY_S)
            self._last_log = now
            self._since_log = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_source(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (src, _), n in self.counts.items():
            out[src] += n
        return dict(out)
