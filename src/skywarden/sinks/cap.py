"""CAP 1.2 output: alert events POSTed to public-warning receivers, and an Atom feed.

Each threat alert event becomes one CAP ``alert`` (:mod:`.cap_encode`): raised →
``Alert``, updated → ``Update`` and cleared → ``Cancel``, the last two with
``references`` to every message sent before about the same alert. Sensor
alerts (a silent radar, a failing link) are for the crew, not the public, and
are never sent.

- :class:`CapReceiverSink`: one HTTP receiver, with its own lowest level and
  zones; delivery, order and retries are :class:`~.http_retry.HttpAlertPoster`'s
  (the webhook sink's machinery). A receiver's references name only messages
  that receiver accepted.
- :class:`CapFeed`: the active alerts, latest message each, served as an Atom
  feed at ``/cap/feed.atom`` with the CAP documents inline (the way
  public-alert aggregators poll) and one by one under ``/cap/alerts/``.

A receiver with ``sign``, and the feed with ``feed_sign``, get every message with
an enveloped XML signature (:mod:`.cap_sign`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status

from ..i18n import DEFAULT_LANGUAGE, Messages, language_of
from ..types import AlertLine, Level, ScanOutput, SiteEvent, Zone, ZonesReplaced
from .base import QueueWorker
from .cap_config import CapConfig, CapReceiverConfig
from .cap_encode import CapMessage, CapRef, CapSettings, atom_feed, cap_token, encode
from .cap_sign import CapSigner, signer_of
from .config import secret_from
from .http_retry import HttpAlertPoster

FEED_PATH = "/cap/feed.atom"
ALERTS_PATH = "/cap/alerts/"
#: Class probabilities remembered for alerts whose track was not in the scan (bounded).
MAX_REMEMBERED = 10_000


def languages(value: str | list[str]) -> tuple[str, ...]:
    """A configured ``language`` (one tag or a list) as a tuple of tags."""
    return (value,) if isinstance(value, str) else tuple(value)


def settings_of(config: CapConfig, site_name: str, messages: Messages | None = None) -> CapSettings:
    """The message settings of a site's CAP config, worded by ``messages``."""
    return CapSettings(
        sender=config.sender or cap_token(f"skywarden@{site_name}"),
        sender_name=config.sender_name,
        languages=languages(config.language),
        expires_s=config.expires_s,
        entry_radius_m=config.entry_radius_m,
        web=config.web,
        contact=config.contact,
        messages=messages or Messages(),
    )


def is_public_alert(a: AlertLine) -> bool:
    """Threat alerts go to the public; sensor (health) alerts do not."""
    return a.kind != "sensor"


class _AlertContext:
    """The zones and the class probability of each alert's track, kept from the scans."""

    def __init__(self, zones: Iterable[Zone]) -> None:
        self.zones: dict[str, Zone] = {z.id: z for z in zones}
        self.class_p: dict[str, float] = {}

    def note(self, item: ScanOutput) -> None:
        if not item.alerts:
            return
        tracks = {t.id: t for t in item.tracks}
        for a in item.alerts:
            if a.state == "cleared":
                self.class_p.pop(a.id, None)
                continue
            tl = tracks.get(a.track or "")
            if tl is not None and a.class_ is not None and a.class_ in tl.class_p:
                if a.id not in self.class_p and len(self.class_p) >= MAX_REMEMBERED:
                    self.class_p.pop(next(iter(self.class_p)))
                self.class_p[a.id] = float(tl.class_p[a.class_])

    def on_site_event(self, event: SiteEvent) -> None:
        if isinstance(event, ZonesReplaced):
            self.zones = {z.id: z for z in event.zones}


class CapReceiverSink(HttpAlertPoster):
    """POSTs CAP documents to one receiver; see the module doc."""

    def __init__(
        self,
        config: CapReceiverConfig,
        settings: CapSettings,
        *,
        zones: Iterable[Zone] = (),
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
        if config.language is not None:
            settings = replace(settings, languages=languages(config.language))
        self.settings = settings
        self.name = f"cap:{config.url}"
        self.ctx = _AlertContext(zones)
        self._min_level = Level.of(config.min_level)
        self._zones = None if config.zones is None else frozenset(config.zones)
        token = secret_from(None, config.token_env)
        self._headers = {"Content-Type": config.content_type}
        self._signer = signer_of(config.sign)
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        #: Alerts this receiver takes (one event passed its filters), and what it accepted.
        self._taken: set[str] = set()
        self._sent: dict[str, list[CapRef]] = {}

    def on_site_event(self, event: SiteEvent) -> None:
        self.ctx.on_site_event(event)

    def wants(self, a: AlertLine) -> bool:
        """Whether this receiver gets event ``a`` (and remember it takes the alert)."""
        if not is_public_alert(a):
            return False
        if a.id not in self._taken:
            if Level.of(a.level) < self._min_level or a.state == "cleared":
                return False
            if self._zones is not None and a.zone not in self._zones:
                return False
            self._taken.add(a.id)
        if a.state == "cleared":
            self._taken.discard(a.id)
        return True

    def offer(self, item: ScanOutput) -> None:
        """Queue the scan's alert events this receiver takes (no I/O, no waiting)."""
        self.ctx.note(item)
        wanted = [a for a in item.alerts if self.wants(a)]
        if wanted:
            self.alerts.add(wanted)
            self.wake()

    async def handle(self, item: ScanOutput) -> None:
        self.offer(item)

    def encode(self, alert: AlertLine) -> CapMessage | None:
        """The CAP document of ``alert`` for this receiver (``None``: a Cancel of nothing sent)."""
        refs = self._sent.get(alert.id, [])
        if alert.state == "cleared" and not refs:
            return None
        return encode(
            alert, self.settings, zone=self.ctx.zones.get(alert.zone or ""),
            class_p=self.ctx.class_p.get(alert.id), refs=refs,
        )  # fmt: skip

    def request(self, alert: AlertLine, sent_at: int) -> tuple[bytes, dict[str, str]] | None:
        m = self.encode(alert)
        if m is None:
            return None
        return (m.xml if self._signer is None else self._signer.sign(m.xml)), self._headers

    def on_delivered(self, alert: AlertLine) -> None:
        m = self.encode(alert)
        if m is None:
            return
        if alert.state == "cleared":
            self._sent.pop(alert.id, None)
        else:
            self._sent.setdefault(alert.id, []).append(m.ref)


class CapFeed(QueueWorker):
    """The latest CAP message of every open threat alert, for the Atom feed.

    Updated as alerts are offered (no I/O); read from the web app's threads.
    """

    name = "cap:feed"

    def __init__(
        self,
        settings: CapSettings,
        *,
        zones: Iterable[Zone] = (),
        public: bool = False,
        signer: CapSigner | None = None,
    ) -> None:
        super().__init__(maxsize=1)
        self.settings = settings
        self.public = public
        self.signer = signer
        self.ctx = _AlertContext(zones)
        self._history: dict[str, list[CapRef]] = {}
        self._active: dict[str, CapMessage] = {}
        self._lock = threading.Lock()

    def on_site_event(self, event: SiteEvent) -> None:
        self.ctx.on_site_event(event)

    def offer(self, item: ScanOutput) -> None:
        """Encode the scan's threat alert events at once; the feed never waits on a link."""
        self.ctx.note(item)
        for a in item.alerts:
            if is_public_alert(a):
                self.apply(a)

    def apply(self, a: AlertLine) -> CapMessage | None:
        """Take one alert event; returns its message (``None``: a clear of an unknown alert)."""
        refs = self._history.get(a.id, [])
        if a.state == "cleared" and not refs:
            return None
        zone = self.ctx.zones.get(a.zone or "")
        m = encode(a, self.settings, zone=zone, class_p=self.ctx.class_p.get(a.id), refs=refs)
        if self.signer is not None:
            m = replace(m, xml=self.signer.sign(m.xml))
        with self._lock:
            if a.state == "cleared":
                self._history.pop(a.id, None)
                self._active.pop(a.id, None)
            else:
                self._history.setdefault(a.id, []).append(m.ref)
                self._active[a.id] = m
        return m

    async def handle(self, item: ScanOutput) -> None:
        """Nothing to send: the feed is read, not pushed."""

    def active(self) -> list[CapMessage]:
        """The latest message of each open alert, most severe first, then newest."""
        with self._lock:
            msgs = list(self._active.values())
        msgs.sort(key=lambda m: m.ref.sent, reverse=True)
        return sorted(msgs, key=lambda m: -Level.of(m.level))

    def message(self, identifier: str) -> CapMessage | None:
        """An active message by its CAP identifier."""
        with self._lock:
            for m in self._active.values():
                if m.ref.identifier == identifier:
                    return m
        return None

    def title(self) -> str:
        """The feed's title, in the first of its languages."""
        lang = language_of(self.settings.languages[0]) or DEFAULT_LANGUAGE
        return self.settings.messages.t(lang, "cap.feed.title", sender=self.settings.sender)

    def atom(self, self_url: str, now_s: float) -> bytes:
        """The Atom feed of the active alerts."""
        return atom_feed(
            self.active(), feed_id=f"urn:skywarden:cap-feed:{self.settings.sender}",
            title=self.title(), self_url=self_url, now_s=now_s,
        )  # fmt: skip


def build_cap_sinks(
    config: CapConfig,
    *,
    site_name: str,
    zones: Sequence[Zone] = (),
    rng: np.random.Generator,
    messages: Messages | None = None,
) -> list[QueueWorker]:
    """The feed (when enabled) and one sink per receiver; their signing keys are loaded
    here (:class:`~.cap_sign.SignError`, a ``ValueError``, when one cannot be used)."""
    settings = settings_of(config, site_name, messages)
    sinks: list[QueueWorker] = []
    if config.feed:
        signer = signer_of(config.feed_sign)
        sinks.append(CapFeed(settings, zones=zones, public=config.feed_public, signer=signer))
    sinks += [CapReceiverSink(c, settings, zones=zones, rng=rng) for c in config.receivers]
    return sinks


def add_cap_routes(app: FastAPI, feeds: Sequence[QueueWorker]) -> None:
    """Serve the first :class:`CapFeed` among ``feeds`` at ``/cap/feed.atom`` and
    ``/cap/alerts/{identifier}``: with the viewer token like every read route,
    or without one when the feed was configured public."""
    # Imported here: the web package imports the store, which a sink-only user need not load.
    from ..web.auth import require_viewer

    feed = next((f for f in feeds if isinstance(f, CapFeed)), None)
    if feed is None:
        return
    deps = [] if feed.public else [Depends(require_viewer)]
    if feed.public:
        app.state.auth.public_prefixes = (*app.state.auth.public_prefixes, "/cap/")

    @app.get(FEED_PATH, summary="Atom feed of the active alerts as CAP 1.2", dependencies=deps)
    def cap_feed(request: Request) -> Response:
        body = feed.atom(str(request.url.replace(query="")), time.time())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @app.get(ALERTS_PATH + "{identifier}", summary="One active CAP 1.2 message", dependencies=deps)
    def cap_message(identifier: str) -> Response:
        m = feed.message(identifier)
        if m is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such active CAP message")
        return Response(m.xml, media_type="application/cap+xml; charset=utf-8")
