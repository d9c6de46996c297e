"""One WebSocket client's feed: every event in order, the tracks at the client's own pace.

A feed never makes the service wait. The live state posts to it without
blocking (from any thread): an event's JSON text (alert, acknowledgement,
escalation, sensor, zones), queued in order and never dropped or merged, or a
bare wake-up for a new scan. :meth:`Subscriber.get` hands out, in this order:
the snapshot (first), the queued events, then the tracks as one message that
brings the client from the scan it last got to the latest (see
:meth:`~skywarden.web.state.LiveState.track_update`): scans that came while the
client was busy are merged into one delta, never queued one by one. A large
update comes in parts (``more: true`` on all but the last) and events go out
between them, so an alert never waits behind a whole picture.

Back-pressure: the time between handing an update's first part out and the
``get`` after its last is the time the client took to accept it (the WebSocket
send waits while the socket's buffer is full). When more than ``every`` scans
came during that time, the client cannot keep up with its rate and is moved to
half of it (tracks at most every ``2 * every`` scans, up to ``max_every``);
after ``recover_after`` updates in a row taken with no scan missed, its rate
doubles again. A client that was sent nothing for a whole push interval is sent
the tracks it is behind on whatever its rate (``get_nowait(any_rate=True)``): it
had the time, and a slowed client must not keep a picture older than the latest
scan when scans stop (the end of a replay, a sensor outage). Events are handed
out as soon as they come, whatever the rate. A client so slow that
``max_pending`` events wait is cut off (:class:`ClientTooSlow`) rather than lose
one or let its queue grow without bound; it reconnects and gets a new snapshot.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import TYPE_CHECKING, Annotated

import msgspec
import orjson

if TYPE_CHECKING:
    from .state import LiveState


class ClientTooSlow(Exception):
    """More than ``max_pending`` events waited for one client: it is cut off."""


class FeedConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a client's feed adapts to a slow client."""

    #: The coarsest rate a slow client is moved to: the tracks once every this many scans.
    max_every: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 16
    #: Updates in a row taken with no scan missed before a slow client's rate doubles.
    recover_after: Annotated[int, msgspec.Meta(ge=1)] = 10
    #: Events waiting for one client beyond which it is cut off (it reconnects).
    max_pending: Annotated[int, msgspec.Meta(ge=1)] = 100_000


class Subscriber:
    """One client's feed from ``live``, read on ``loop`` (see the module doc)."""

    def __init__(
        self, live: LiveState, loop: asyncio.AbstractEventLoop, config: FeedConfig
    ) -> None:
        self.live = live
        self.loop = loop
        self.config = config
        #: Send the tracks at most once every ``every`` scans (1: every scan).
        self.every = 1
        self._overflowed = False
        self._events: deque[str] = deque()
        self._wake = asyncio.Event()
        self._thread = threading.get_ident()
        self._snapshot_due = True
        #: The scan (number, time) the client's picture shows.
        self.seq = 0
        self.t_s: float | None = None
        #: Parts of the track update being sent (see LiveState.track_update).
        self._parts: deque[str] = deque()
        #: The latest scan number when that update was taken (None: judged already).
        self._update_from: int | None = None
        self._good = 0

    # --- fed by the live state (any thread) ---

    def post(self, text: str | None) -> None:
        """Queue an event (``None``: a new scan, nothing to queue) and wake the reader."""
        if threading.get_ident() == self._thread:
            self._take(text)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._take, text)

    def _take(self, text: str | None) -> None:
        if text is not None:
            if len(self._events) >= self.config.max_pending:
                self._overflowed = True
            else:
                self._events.append(text)
        self._wake.set()

    # --- read by the client's sender (its event loop) ---

    def get_nowait(self, *, any_rate: bool = False) -> str | None:
        """The next message, or ``None`` when nothing is due (with ``any_rate``, the
        tracks are due whenever the client is behind, whatever its rate); raises
        :class:`ClientTooSlow` once an event could not be queued."""
        if self._overflowed:
            raise ClientTooSlow(f"{self.config.max_pending} events waited for this client")
        if self._update_from is not None and not self._parts:
            # Every part of the last update was taken: how many scans came meanwhile?
            self._judge(self.live.seq - self._update_from)
            self._update_from = None
        return self._next(any_rate)

    async def get(self) -> str:
        """The next message, waiting until one is due."""
        while True:
            self._wake.clear()
            msg = self.get_nowait()
            if msg is not None:
                return msg
            await self._wake.wait()

    def keepalive(self) -> str:
        """An empty delta at the client's own scan: nothing changed, the link is alive."""
        return (
            b'{"type":"delta","t":%b,"seq":%d,"tracks":[],"removed":[]}'
            % (orjson.dumps(self.t_s), self.seq)
        ).decode()

    def _judge(self, missed: int) -> None:
        """Rate the client on how many scans came while it took the last update."""
        if missed > self.every:
            if self.every < self.config.max_every:
                self.every = min(2 * self.every, self.config.max_every)
                self.live.downgrades += 1
            self._good = 0
        elif missed == 0 and self.every > 1:
            self._good += 1
            if self._good >= self.config.recover_after:
                self.every //= 2
                self._good = 0

    def _next(self, any_rate: bool = False) -> str | None:
        if self._snapshot_due:
            self._snapshot_due = False
            # Whatever was queued before is in the snapshot.
            self._events.clear()
            self.seq, self.t_s, text = self.live.snapshot_text()
            return text
        if self._events:
            return self._events.popleft()
        if self._parts:
            return self._parts.popleft()
        if self.live.seq - self.seq < (1 if any_rate else self.every):
            return None
        update = self.live.track_update(self.seq)
        if update is None:
            return None
        self.seq, self.t_s = update.seq, update.t
        self._update_from = self.live.seq
        self._parts.extend(update.parts)
        return self._parts.popleft()
