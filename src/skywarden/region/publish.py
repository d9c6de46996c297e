"""A site's sink to the region: its picture published to NATS JetStream.

Every message goes through the on-disk :class:`~.outbox.Outbox` first and
leaves it only when JetStream acknowledges it, so a site cut off from the
server keeps what it saw and sends it, in order, when the link comes back.
The engine never waits: scans reach this sink through the bounded queue of
:class:`~skywarden.sinks.base.QueueWorker`, alert events through its lane.
Each message carries a ``Nats-Msg-Id`` (outbox epoch and row), so a message
re-sent after a lost acknowledgement is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

import nats
import nats.errors

from ..sinks.base import QueueWorker
from ..types import AlertLine, ScanOutput, SensorDeclared, Site, SiteEvent, Zone, ZonesReplaced
from ..types import Sensor as SensorT
from .aio import raise_if_cancelling
from .config import RegionLinkConfig
from .outbox import Outbox
from .schema import (
    AlertsMsg,
    HeartbeatMsg,
    SensorsMsg,
    SensorStatus,
    SiteMsg,
    TracksMsg,
    ZonesMsg,
    encode,
    subject,
)

__all__ = ["RegionPublisher", "connect_options"]

log = logging.getLogger(__name__)

_LINK_ERRORS = (nats.errors.Error, TimeoutError, OSError)


def connect_options(
    credentials: str | None, user: str | None, password_env: str | None,
    nkey_seed: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """nats.connect keyword arguments for a credentials file, an nkey seed file, or a user
    and password."""
    opts: dict[str, Any] = {}
    if credentials:
        opts["user_credentials"] = credentials
    if nkey_seed:
        opts["nkeys_seed"] = nkey_seed
    if user:
        opts["user"] = user
        if password_env:
            pw = os.environ.get(password_env)
            if pw is None:
                raise ValueError(f"environment variable {password_env} (NATS password) is not set")
            opts["password"] = pw
    return opts


class RegionPublisher(QueueWorker):
    """Publishes tracks, alerts, sensors, zones and a heartbeat on ``skywarden.<site>.*``."""

    carries_alerts: ClassVar[bool] = True

    def __init__(
        self,
        config: RegionLinkConfig,
        site: Site,
        *,
        sensors: Iterable[SensorT] = (),
        zones: Iterable[Zone] = (),
        clock: Callable[[], float],
    ) -> None:
        super().__init__(maxsize=config.queue_size)
        self.name = f"region:{config.site}"
        self.config = config
        self.site = site
        self.clock = clock
        self.outbox = Outbox(config.outbox, config.outbox_max_messages)
        self._sensors: dict[str, SensorStatus] = {
            s.id: SensorStatus(sensor=s, state="ok") for s in sensors
        }
        self._tracks_live = 0
        self._kick = asyncio.Event()
        self._nc: Any = None
        self.published = 0
        self._put(ZonesMsg(site=config.site, t=clock(), zones=list(zones)))
        self._put_sensors()

    # --- into the outbox (never waits on the network) ---------------------------

    def _put(self, msg: SiteMsg) -> None:
        kind = msg.__struct_config__.tag
        assert isinstance(kind, str)
        self.outbox.put(kind, subject(self.config.site, kind), encode(msg))
        self._kick.set()

    def _put_sensors(self) -> None:
        self._put(
            SensorsMsg(site=self.config.site, t=self.clock(), sensors=list(self._sensors.values()))
        )

    def offer(self, item: ScanOutput) -> None:
        """Put the scan's tracks, then its alert events, in the outbox (a local SQLite
        insert; the queue of the base class is not used: the outbox is the queue).

        Tracks go first so the region knows a track before an alert names it.
        """
        if item.alerts:
            self.note_alerts(item.alerts)
        self._put_scan(item)

    async def handle(self, item: ScanOutput) -> None:
        self._put_scan(item)

    def _put_scan(self, item: ScanOutput) -> None:
        tracks = [t for t in item.tracks if t.status != "tentative"]
        if tracks:
            self._tracks_live = sum(t.status != "deleted" for t in tracks)
            self._put(
                TracksMsg(
                    site=self.config.site, t=item.t_s, lat=self.site.lat, lon=self.site.lon,
                    alt_m=self.site.alt_m, vel_std_mps=self.config.vel_std_mps, tracks=tracks,
                )
            )  # fmt: skip
        if item.alerts:
            # Alerts are never dropped by the outbox.
            self._put(AlertsMsg(site=self.config.site, t=item.t_s, alerts=list(item.alerts)))

    def note_alerts(self, alerts: tuple[AlertLine, ...]) -> None:
        changed = False
        for a in alerts:
            st = self._sensors.get(a.sensor or "") if a.kind == "sensor" else None
            if st is not None:
                state: Literal["ok", "silent"] = "ok" if a.state == "cleared" else "silent"
                self._sensors[st.sensor.id] = SensorStatus(sensor=st.sensor, state=state)
                changed = True
        if changed:
            self._put_sensors()

    def on_site_event(self, event: SiteEvent) -> None:
        if isinstance(event, ZonesReplaced):
            self._put(ZonesMsg(site=self.config.site, t=self.clock(), zones=list(event.zones)))
        elif isinstance(event, SensorDeclared):
            s = event.sensor
            old = self._sensors.get(s.id)
            self._sensors[s.id] = SensorStatus(sensor=s, state=old.state if old else "ok")
            self._put_sensors()

    # --- out of the outbox ----------------------------------------------------------

    async def run(self) -> None:
        await self._drain()

    async def _connect(self) -> None:
        cfg = self.config
        self._nc = await nats.connect(
            servers=[cfg.url],
            name=f"skywarden-site-{cfg.site}",
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=self._on_error,
            reconnected_cb=self._on_reconnected,
            **connect_options(cfg.credentials, cfg.user, cfg.password_env, cfg.nkey_seed),
        )

    async def _on_error(self, e: Exception) -> None:
        self._fail(e)

    async def _on_reconnected(self) -> None:
        self._kick.set()

    def _fail(self, e: BaseException) -> None:
        raise_if_cancelling()
        msg = str(e) or type(e).__name__
        if not self.failing or msg != self.last_error:
            log.warning("%s: %s", self.name, msg)
        self.failing = True
        self.last_error = msg

    async def _drain(self) -> None:
        """Send the outbox oldest first; a heartbeat every ``heartbeat_s`` while connected."""
        cfg = self.config
        backoff = 0.25
        next_beat = 0.0
        while True:
            raise_if_cancelling()
            if self._nc is None:
                try:
                    await self._connect()
                    backoff = 0.25
                except _LINK_ERRORS as e:
                    self._nc = None
                    self._fail(e)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            if not self._nc.is_connected:
                await asyncio.sleep(0.1)
                continue
            js = self._nc.jetstream()
            now = self.clock()
            try:
                if now >= next_beat:
                    next_beat = now + cfg.heartbeat_s
                    beat = HeartbeatMsg(
                        site=cfg.site, t=now, lat=self.site.lat, lon=self.site.lon,
                        alt_m=self.site.alt_m, name=self.site.name,
                        tracks=self._tracks_live, outbox=len(self.outbox),
                    )  # fmt: skip
                    await js.publish(
                        subject(cfg.site, "heartbeat"), encode(beat), timeout=cfg.ack_timeout_s
                    )
                batch = self.outbox.peek(256)
                sent: list[int] = []
                try:
                    for row_id, subj, data in batch:
                        await js.publish(
                            subj, data, timeout=cfg.ack_timeout_s, stream=cfg.stream,
                            headers={"Nats-Msg-Id": self.outbox.msg_id(row_id)},
                        )  # fmt: skip
                        sent.append(row_id)
                finally:
                    self.outbox.done(sent)
                    self.published += len(sent)
            except _LINK_ERRORS as e:
                self._fail(e)
                await asyncio.sleep(0.2)
                continue
            self.failing = False
            if len(batch) < 256:
                self._kick.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._kick.wait(), timeout=max(0.01, next_beat - self.clock())
                    )

    def health_counts(self) -> dict[str, int]:
        return {
            "outbox": len(self.outbox),
            "outbox_dropped": self.outbox.dropped,
            "published": self.published,
        }

    async def aclose(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                await self._nc.close()
            self._nc = None
        self.outbox.close()
