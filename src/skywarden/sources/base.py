"""What every source shares: the decode contract and the rejection counter.

A decoder is a pure function ``decode(raw: bytes, t_rx_s: float, ...) ->
Detection | Rejected`` (or a short list of them). It does no I/O, reads no clock
and never raises into the pipeline. Transports call it and hand rejections to
a :class:`RejectionCounter`, which counts every one and logs each kind once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from ..types import Rejected

log = logging.getLogger(__name__)


@dataclass
class RejectionCounter:
    """Counts rejections by source and reason kind; logs the first of each kind."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, source: str, rejected: Rejected) -> None:
        kind = rejected.reason.split(":", 1)[0]
        key = (source, kind)
        if key not in self.counts:
            log.warning(
                "%s: rejected message (%s); further ones of this kind are only counted",
                source,
                rejected.reason,
            )
        self.counts[key] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_source(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (src, _), n in self.counts.items():
            out[src] += n
        return dict(out)
