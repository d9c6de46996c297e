"""Alert events POSTed to one HTTP endpoint, in order, retried with backoff until delivered.

Shared by the webhook sink (:mod:`.webhook`) and the CAP receivers (:mod:`.cap`):
a subclass says how an alert event becomes a request body (:meth:`HttpAlertPoster.request`);
this class owns the order, the retries and the health. Nothing is given up on:
every failure (a connection error, any non-2xx answer) is retried with
exponential backoff and jitter, capped at ``backoff_max_s``, for as long as it
takes; an event still undelivered after ``max_attempts`` is logged at error
level and kept. The events wait in the alert lane (:class:`~.base.AlertLane`),
which never drops and keeps each alert's latest state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import numpy as np

from ..types import AlertLine
from .base import QueueWorker


class HttpAlertPoster(QueueWorker):
    """Posts alert events to ``url`` one at a time, oldest first; see the module doc."""

    carries_alerts = True

    def __init__(
        self,
        *,
        url: str,
        timeout_s: float,
        max_attempts: int,
        backoff_initial_s: float,
        backoff_max_s: float,
        queue_size: int,
        rng: np.random.Generator,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        super().__init__(maxsize=queue_size)
        self.url = url
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.rng = rng
        self.clock, self.sleep = clock, sleep
        # Logged under the subclass's module, so each sink's messages stay its own.
        self.log = logging.getLogger(type(self).__module__)
        self.delivered = 0
        self.attempts = 0
        self.last_success_s: float | None = None
        # The alert at the head of the lane and how often it has been tried.
        self._head_id: str | None = None
        self._head_attempts = 0
        self._due_s = 0.0

    @abstractmethod
    def request(self, alert: AlertLine, sent_at: int) -> tuple[bytes, dict[str, str]] | None:
        """The body and headers that deliver ``alert``, or ``None`` when this
        endpoint takes nothing for it (it is then retired without a request)."""

    def on_delivered(self, alert: AlertLine) -> None:
        """Called once ``alert`` has been accepted by the endpoint (or retired)."""

    def backoff_s(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based): doubling, capped, half of it jittered."""
        d = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempts - 1, 60))
        return d * (0.5 + 0.5 * float(self.rng.random()))

    async def run(self) -> None:
        """Deliver until cancelled (scans carry nothing for these endpoints)."""
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                await self.deliver_once(client)

    def _retire(self, head: AlertLine) -> None:
        self.alerts.done([head])
        self.on_delivered(head)
        self._head_id = None

    async def deliver_once(self, client: httpx.AsyncClient) -> None:
        """Wait for the head alert to be due, try it once, and retire it or schedule a retry."""
        while not len(self.alerts):
            self._wakeup.clear()
            await self._wakeup.wait()
        head = self.alerts.peek()[0]
        if head.id != self._head_id:
            self._head_id, self._head_attempts, self._due_s = head.id, 0, self.clock()
        wait_s = self._due_s - self.clock()
        if wait_s > 0:
            await self.sleep(wait_s)
            head = self.alerts.peek()[0]  # a newer event of it may have come meanwhile
        sent_at = int(self.clock())
        req = self.request(head, sent_at)
        if req is None:
            self._retire(head)
            return
        body, headers = req
        self._head_attempts += 1
        self.attempts += 1
        try:
            r = await client.post(self.url, content=body, headers=headers)
            if r.is_success:
                self._retire(head)
                self.delivered += 1
                self.alerts_sent += 1
                self.last_success_s = self.clock()
                self.failing, self.last_error = False, None
                return
            err = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            err = f"{type(e).__name__}: {e}"
        self.failing, self.last_error = True, err
        if self._head_attempts == self.max_attempts:
            self.log.error(
                "%s: alert %s (%s) still undelivered after %d attempts (%s); kept, retrying",
                self.name, head.id, head.state, self._head_attempts, err,
            )  # fmt: skip
        self._due_s = self.clock() + self.backoff_s(self._head_attempts)
        self.log.warning(
            "%s: attempt %d failed (%s); retrying", self.name, self._head_attempts, err
        )
