"""Escalation: an open threat alert nobody acknowledged in time is sent again, elsewhere.

:class:`Escalator` sees every alert event (it is one of the pipeline's sinks).
An open threat alert of a level named in ``after_s`` that is still
unacknowledged ``after_s[level]`` seconds (wall clock) after it was raised is
escalated once: recorded in the store (who: the channels; when), marked on the
live picture (the API's alert JSON and the map show ``escalated``) and offered
to the escalation channels — sinks of their own (a webhook, a CAP receiver, an
MQTT broker) that get nothing else. The channels then hear every later event
of that alert, its all-clear included. An alert that rises to a level with a
shorter time is escalated as soon as that time has passed since it was raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import msgspec

from ..store import Escalation, Store
from ..types import AlertLine, ScanOutput, SinkHealth, SinkState
from ..web.state import LiveState
from .base import QueueWorker
from .config import EscalationConfig

#: How often open alerts are checked against their deadlines (wall clock).
CHECK_PERIOD_S = 1.0


class Escalator(QueueWorker):
    """Escalates unacknowledged alerts to its channels; see the module doc."""

    name = "escalation"
    carries_alerts = True

    def __init__(
        self,
        config: EscalationConfig,
        channels: Sequence[QueueWorker],
        *,
        store: Store,
        live: LiveState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(maxsize=1)
        self.after_s = dict(config.after_s)
        self.channels = list(channels)
        self.store = store
        self.live = live
        self.clock = clock
        #: Open threat alerts: latest event and the wall time it was first seen.
        self._open: dict[str, tuple[AlertLine, float]] = {}
        self.escalated: set[str] = set()
        self._to = ", ".join(c.name for c in self.channels)

    def offer(self, item: ScanOutput) -> None:
        """Follow the scan's alert events; forward those of escalated alerts (no I/O)."""
        now = self.clock()
        forward = []
        for a in item.alerts:
            if a.kind == "sensor":
                continue
            if a.state == "cleared":
                self._open.pop(a.id, None)
            else:
                since = self._open.get(a.id, (a, now))[1]
                self._open[a.id] = (a, since)
            if a.id in self.escalated:
                forward.append(a)
                if a.state == "cleared":
                    self.escalated.discard(a.id)
        if forward:
            self._send(forward)

    async def handle(self, item: ScanOutput) -> None:
        """Nothing to deliver here: the channels deliver."""

    def _send(self, alerts: list[AlertLine]) -> None:
        out = ScanOutput(t_s=alerts[0].t, tracks=(), alerts=tuple(alerts))
        for c in self.channels:
            c.offer(out)

    def check(self, now_s: float) -> list[Escalation]:
        """Escalate every open alert whose time is up; returns what was escalated."""
        acked = self.live.acks
        due = []
        for aid, (a, since) in self._open.items():
            after = self.after_s.get(a.level)
            if aid in self.escalated or aid in acked or after is None:
                continue
            if now_s - since >= after:
                due.append((a, after))
        done = []
        for a, after in due:
            esc = Escalation(
                alert_id=a.id, t=now_s, level=a.level, after_s=after, channels=self._to
            )
            self.store.record_escalation(esc)
            self.live.escalate(esc)
            self.escalated.add(a.id)
            reason = f"escalated: not acknowledged within {after:g} s"
            if a.reason:
                reason = f"{reason}; {a.reason}"
            self._send([msgspec.structs.replace(a, reason=reason)])
            done.append(esc)
        return done

    async def run(self) -> None:
        """Run the channels and check deadlines every second, until cancelled."""
        tasks = [asyncio.create_task(c.run(), name=f"escalation-{c.name}") for c in self.channels]
        try:
            while True:
                await asyncio.sleep(CHECK_PERIOD_S)
                self.check(self.clock())
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    def health(self) -> SinkHealth:
        """Failing while any channel fails."""
        bad = [c for c in self.channels if c.health().state is SinkState.FAILING]
        pending = sum(c.health().alerts_pending for c in self.channels)
        if bad:
            err = "; ".join(f"{c.name}: {c.health().last_error}" for c in bad)
            return SinkHealth(SinkState.FAILING, err, pending)
        return SinkHealth(SinkState.OK, None, pending)

    async def aclose(self) -> None:
        for c in self.channels:
            await c.aclose()
