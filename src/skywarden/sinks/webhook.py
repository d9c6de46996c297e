"""Webhooks: every alert lifecycle event POSTed as signed JSON to an HTTP endpoint.

Body (UTF-8 JSON)::

    {"site": "<site name>", "sent_at": <unix seconds>, "delivery": "<alert id>:<state>:<t>",
     "alert": {<the alert line, CONVENTIONS.md output format>}}

Headers: ``X-Skywarden-Timestamp: <sent_at>`` and
``X-Skywarden-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>``.
The time is inside the signed body too, so a receiver that checks the HMAC,
that the header matches ``sent_at`` and that ``sent_at`` is recent (e.g. five
minutes) refuses replays; ``delivery`` lets it drop the duplicates that
retries can cause.

Delivery never holds up the pipeline: ``handle`` only queues. A separate task
posts in order, retrying failures (connection errors, 408/425/429/5xx) with
exponential backoff and jitter up to ``max_attempts``; other 4xx answers are
final. Nothing is dropped silently: an alert given up on, or pushed out of a
full retry queue, is logged at error level and counted, and :meth:`health`
reports the endpoint as failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import numpy as np

from ..types import AlertLine
from .base import QueueWorker, ScanOutput
from .config import WebhookConfig, secret_from

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Skywarden-Signature"
TIMESTAMP_HEADER = "X-Skywarden-Timestamp"
RETRY_STATUS = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    body: bytes,
    signature: str,
    timestamp: str,
    now_s: float,
    max_age_s: float = 300.0,
) -> bool:
    """Receiver-side check: HMAC matches, header time equals the body's and is recent."""
    if not hmac.compare_digest(sign(secret, body), signature):
        return False
    try:
        sent_at = msgspec.json.decode(body)["sent_at"]
        return int(timestamp) == sent_at and abs(now_s - sent_at) <= max_age_s
    except (msgspec.DecodeError, KeyError, TypeError, ValueError):
        return False


@dataclass(slots=True)
class _Delivery:
    alert: AlertLine
    attempts: int = 0
    due_s: float = 0.0


class WebhookSink(QueueWorker):
    """Posts alert events to one URL; see the module doc for the wire format and retries."""

    def __init__(
        self,
        config: WebhookConfig,
        *,
        site_name: str,
        rng: np.random.Generator,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        super().__init__(maxsize=config.queue_size)
        self.cfg = config
        self.name = f"webhook:{config.url}"
        self.site_name = site_name
        secret = secret_from(config.secret, config.secret_env)
        if not secret:
            raise ValueError(f"webhook {config.url}: no secret (give secret or secret_env)")
        self._secret = secret.encode()
        self.rng = rng
        self.clock, self.sleep = clock, sleep
        self._levels = frozenset(config.levels)
        self._pending: deque[_Delivery] = deque()
        self._wakeup = asyncio.Event()
        self.delivered = 0
        self.failed = 0  # given up after max_attempts or a final 4xx
        self.dropped_alerts = 0  # pushed out of a full retry queue
        self.attempts = 0
        self.last_error: str | None = None
        self.last_success_s: float | None = None
        self._failing = False

    # --- the pipeline side: never waits ------------------------------------------------

    async def handle(self, item: ScanOutput) -> None:
        self.enqueue(item.alerts)

    def enqueue(self, alerts: tuple[AlertLine, ...] | list[AlertLine]) -> None:
        """Queue alerts for delivery (no I/O, no waiting)."""
        now = self.clock()
        for a in alerts:
            if a.level not in self._levels:
                continue
            if len(self._pending) >= self.cfg.retry_queue_size:
                lost = self._pending.popleft()
                self.dropped_alerts += 1
                log.error(
                    "%s: retry queue full (%d), dropped alert %s (%s) undelivered",
                    self.name, self.cfg.retry_queue_size, lost.alert.id, lost.alert.state,
                )  # fmt: skip
            self._pending.append(_Delivery(a, due_s=now))
        if self._pending:
            self._wakeup.set()

    def health(self) -> dict[str, Any]:
        """``state`` ``ok``/``failing``, ``last_error``, ``queued`` and delivery counters."""
        return {
            "state": "failing" if self._failing else "ok",
            "last_error": self.last_error,
            "queued": len(self._pending) + self.queue.qsize(),
            "delivered": self.delivered,
            "failed": self.failed,
            "dropped": self.dropped_alerts,
            "last_success_t": self.last_success_s,
        }

    # --- the delivery side ------------------------------------------------------------

    def body(self, alert: AlertLine, sent_at: int) -> bytes:
        """The JSON body of one delivery attempt."""
        return msgspec.json.encode(
            {
                "site": self.site_name,
                "sent_at": sent_at,
                "delivery": f"{alert.id}:{alert.state}:{alert.t:.3f}",
                "alert": alert,
            }
        )

    def backoff_s(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based): doubling, capped, half of it jittered."""
        d = min(self.cfg.backoff_max_s, self.cfg.backoff_initial_s * 2.0 ** (attempts - 1))
        return d * (0.5 + 0.5 * float(self.rng.random()))

    async def run(self) -> None:
        """Consume scans and deliver in the background, both until cancelled."""
        deliver = asyncio.create_task(self._deliver_loop(), name=f"{self.name}-deliver")
        try:
            await super().run()
        finally:
            deliver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deliver

    async def _deliver_loop(self) -> None:
        async with httpx.AsyncClient(timeout=self.cfg.timeout_s) as client:
            while True:
                await self.deliver_once(client)

    async def deliver_once(self, client: httpx.AsyncClient) -> None:
        """Wait for the head delivery to be due, try it once, and requeue or retire it."""
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        d = self._pending[0]
        wait_s = d.due_s - self.clock()
        if wait_s > 0:
            await self.sleep(wait_s)
        sent_at = int(self.clock())
        body = self.body(d.alert, sent_at)
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        d.attempts += 1
        self.attempts += 1
        retry = True
        try:
            r = await client.post(self.cfg.url, content=body, headers=headers)
            if r.is_success:
                self._done(d, ok=True)
                return
            err = f"HTTP {r.status_code}"
            retry = r.status_code >= 500 or r.status_code in RETRY_STATUS
        except httpx.HTTPError as e:
            err = f"{type(e).__name__}: {e}"
        self.last_error = err
        self._failing = True
        if not retry or d.attempts >= self.cfg.max_attempts:
            log.error(
                "%s: giving up on alert %s (%s) after %d attempts: %s",
                self.name, d.alert.id, d.alert.state, d.attempts, err,
            )  # fmt: skip
            self._done(d, ok=False)
            return
        d.due_s = self.clock() + self.backoff_s(d.attempts)
        log.warning("%s: attempt %d failed (%s); retrying", self.name, d.attempts, err)

    def _done(self, d: _Delivery, *, ok: bool) -> None:
        if self._pending and self._pending[0] is d:
            self._pending.popleft()
        if ok:
            self.delivered += 1
            self.last_success_s = self.clock()
            self._failing = False
            self.last_error = None
        else:
            self.failed += 1
