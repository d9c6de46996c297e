"""Webhooks: every alert lifecycle event POSTed as signed JSON to an HTTP endpoint.

Body (UTF-8 JSON)::

    {"site": "<site name>", "sent_at": <unix seconds>, "delivery": "<alert id>:<state>:<t>",
     "alert": {<the alert line, docs/format.md>}}

Headers: ``X-Skywarden-Timestamp: <sent_at>`` and
``X-Skywarden-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>``.
The time is inside the signed body too, so a receiver that checks the HMAC,
that the header matches ``sent_at`` and that ``sent_at`` is recent (e.g. five
minutes) refuses replays; ``delivery`` lets it drop the duplicates that
retries can cause.

Delivery never holds up the pipeline: :meth:`WebhookSink.offer` only queues,
into the alert lane (:mod:`.base`), which never drops. A separate task
(:class:`~.http_retry.HttpAlertPoster`, shared with the CAP receivers) posts in
order, retrying every failure (connection errors, any non-2xx answer) with
exponential backoff and jitter, capped at ``backoff_max_s``, for as long as it
takes: an alert is never given up on. While the endpoint fails, :meth:`health`
reports it failing (the service raises a ``sensor`` alert naming it), and an
alert still undelivered after ``max_attempts`` is logged at error level. While
an alert waits, a newer event of it replaces the waiting one (the receiver gets
the alert's current state; see :class:`~skywarden.sinks.base.AlertLane`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import numpy as np

from ..types import AlertLine, ScanOutput
from .config import WebhookConfig, secret_from
from .http_retry import HttpAlertPoster

SIGNATURE_HEADER = "X-Skywarden-Signature"
TIMESTAMP_HEADER = "X-Skywarden-Timestamp"


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


class WebhookSink(HttpAlertPoster):
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
        super().__init__(
            url=config.url, timeout_s=config.timeout_s, max_attempts=config.max_attempts,
            backoff_initial_s=config.backoff_initial_s, backoff_max_s=config.backoff_max_s,
            queue_size=config.queue_size, rng=rng, clock=clock, sleep=sleep,
        )  # fmt: skip
        self.cfg = config
        self.name = f"webhook:{config.url}"
        self.site_name = site_name
        secret = secret_from(config.secret, config.secret_env)
        if not secret:
            raise ValueError(f"webhook {config.url}: no secret (give secret or secret_env)")
        self._secret = secret.encode()
        self._levels = frozenset(config.levels)

    # --- the pipeline side: never waits ------------------------------------------------

    def offer(self, item: ScanOutput) -> None:
        """Queue the scan's alerts of the configured levels (no I/O, no waiting)."""
        self.enqueue(item.alerts)

    async def handle(self, item: ScanOutput) -> None:
        self.enqueue(item.alerts)

    def enqueue(self, alerts: tuple[AlertLine, ...] | list[AlertLine]) -> None:
        """Queue alerts for delivery (no I/O, no waiting)."""
        wanted = [a for a in alerts if a.level in self._levels]
        if wanted:
            self.alerts.add(wanted)
            self.wake()

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

    def request(self, alert: AlertLine, sent_at: int) -> tuple[bytes, dict[str, str]]:
        body = self.body(alert, sent_at)
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        return body, headers
