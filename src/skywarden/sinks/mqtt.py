"""MQTT output for sirens, building systems and dashboards.

Topics (``<base>`` is ``<topic_prefix>/<site name>``):

- ``<base>/zone/<zone id>/state``, **retained**: the zone's state as JSON,
  ``{"site", "zone", "name", "state", "tta_s", "alerts"}`` where ``state`` is
  ``clear`` or the highest level of the zone's open threat alerts
  (``info`` / ``warning`` / ``critical``), ``tta_s`` the earliest time to arrival
  among them (0: inside; ``null`` when clear) and ``alerts`` their ids, most
  urgent first. A subscriber that (re)connects gets every zone's current state.
- ``<base>/alert/<alert id>``: every alert lifecycle event, the alert line as
  JSON (docs/format.md), not retained.
- ``<base>/status``, retained: ``online``, and ``offline`` as the broker's
  last will when the link dies.

Ids are put in topics with ``/``, ``+``, ``#``, ``%`` and control characters
percent-encoded, so no id can add topic levels or wildcards.

The zone states follow every alert event as it is offered, whether or not the
broker is reachable; events wait in the alert lane (:mod:`.base`). While the
link is down the sink retries with backoff; on every (re)connection it
publishes every zone's state again (a restarted broker without persistence
has lost its retained messages) and then the waiting events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Iterable

import aiomqtt
import msgspec

from ..types import AlertLine, Level, ScanOutput, SiteEvent, Zone, ZonesReplaced
from .base import QueueWorker
from .cap_config import MqttConfig
from .config import secret_from

log = logging.getLogger(__name__)

_TOPIC_UNSAFE = re.compile(r"[/+#%\x00-\x1f\x7f]")


def topic_part(s: str) -> str:
    """``s`` as one topic level: ``/ + # %`` and control characters percent-encoded."""
    return _TOPIC_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", s)


class MqttSink(QueueWorker):
    """Publishes zone states and alert events to one broker; see the module doc."""

    carries_alerts = True

    def __init__(self, config: MqttConfig, *, site_name: str, zones: Iterable[Zone] = ()) -> None:
        super().__init__(maxsize=config.queue_size)
        self.cfg = config
        self.name = f"mqtt:{config.host}:{config.port}"
        self.site_name = site_name
        self.base = f"{config.topic_prefix}/{topic_part(site_name)}"
        self.zones: dict[str, Zone] = {z.id: z for z in zones}
        #: Open threat alerts by id, as of the latest event offered.
        self.open: dict[str, AlertLine] = {}
        self.password = secret_from(None, config.password_env)
        self._client: aiomqtt.Client | None = None
        #: Zone state payloads published on the current connection.
        self._published: dict[str, bytes] = {}
        self.connects = 0

    # --- the pipeline side: never waits ----------------------------------------------

    def offer(self, item: ScanOutput) -> None:
        """Take the scan's alert events (tracks are not published); no I/O."""
        if item.alerts:
            self.note_alerts(item.alerts)
            self.alerts.add(item.alerts)
            self._wakeup.set()

    async def handle(self, item: ScanOutput) -> None:
        self.offer(item)

    def note_alerts(self, alerts: tuple[AlertLine, ...]) -> None:
        for a in alerts:
            if a.kind == "sensor":
                continue
            if a.state == "cleared":
                self.open.pop(a.id, None)
            else:
                self.open[a.id] = a

    def on_site_event(self, event: SiteEvent) -> None:
        if isinstance(event, ZonesReplaced):
            self.zones = {z.id: z for z in event.zones}

    # --- state ------------------------------------------------------------------------

    def zone_state(self, zone_id: str) -> dict:
        """The state document of one zone (see the module doc)."""
        alerts = [a for a in self.open.values() if a.zone == zone_id]
        alerts.sort(key=lambda a: (-Level.of(a.level), a.tta_s if a.tta_s is not None else 1e12))
        ttas = [a.tta_s for a in alerts if a.tta_s is not None]
        z = self.zones.get(zone_id)
        return {
            "site": self.site_name,
            "zone": zone_id,
            "name": z.name if z is not None else None,
            "state": alerts[0].level if alerts else "clear",
            "tta_s": min(ttas) if ttas else None,
            "alerts": [a.id for a in alerts],
        }

    def states(self) -> dict[str, bytes]:
        """Every known zone's state payload (configured zones and zones alerts named)."""
        ids = set(self.zones) | {a.zone for a in self.open.values() if a.zone is not None}
        ids |= set(self._published)
        return {z: msgspec.json.encode(self.zone_state(z)) for z in sorted(ids)}

    def state_topic(self, zone_id: str) -> str:
        return f"{self.base}/zone/{topic_part(zone_id)}/state"

    def alert_topic(self, alert_id: str) -> str:
        return f"{self.base}/alert/{topic_part(alert_id)}"

    # --- the link ---------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | None:
        c = self.cfg
        if not c.tls:
            return None
        ctx = ssl.create_default_context(cafile=c.tls_ca_file)
        if c.tls_client_cert:
            ctx.load_cert_chain(c.tls_client_cert, c.tls_client_key)
        return ctx

    async def _connect(self) -> aiomqtt.Client:
        c = self.cfg
        client = aiomqtt.Client(
            c.host, c.port, username=c.username, password=self.password,
            identifier=c.client_id, keepalive=c.keepalive_s, timeout=c.connect_timeout_s,
            tls_context=self._tls_context(),
            will=aiomqtt.Will(f"{self.base}/status", b"offline", qos=1, retain=True),
        )  # fmt: skip
        await client.__aenter__()
        self._client = client
        self._published = {}
        self.connects += 1
        await client.publish(f"{self.base}/status", b"online", qos=1, retain=True)
        log.info("%s: connected", self.name)
        return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await client.__aexit__(None, None, None)
        # aiomqtt keeps a lost connection's error in a future nobody awaits once the
        # client is dropped; reading it here keeps asyncio from logging it at exit.
        lost = getattr(client, "_disconnected", None)
        if isinstance(lost, asyncio.Future) and lost.done() and not lost.cancelled():
            lost.exception()

    async def sync(self) -> bool:
        """Connect if needed, publish the waiting events and every changed zone state.
        True when all went out; on failure the link is dropped and everything kept."""
        qos = self.cfg.qos
        try:
            client = self._client or await self._connect()
            batch = self.alerts.peek()
            for a in batch:
                await client.publish(self.alert_topic(a.id), msgspec.json.encode(a), qos=qos)
            self.alerts.done(batch)
            self.alerts_sent += len(batch)
            for zid, payload in self.states().items():
                if self._published.get(zid) != payload:
                    await client.publish(self.state_topic(zid), payload, qos=qos, retain=True)
                    self._published[zid] = payload
        except (aiomqtt.MqttError, OSError, ssl.SSLError) as e:
            if not self.failing:
                log.warning("%s: link failed: %s", self.name, e)
            self.failing, self.last_error = True, f"{type(e).__name__}: {e}"
            await self._drop()
            return False
        self.failing, self.last_error = False, None
        return True

    async def run(self) -> None:
        """Keep the broker in step until cancelled, retrying a dead link with backoff."""
        delay = self.cfg.backoff_initial_s
        while True:
            self._wakeup.clear()
            if await self.sync():
                delay = self.cfg.backoff_initial_s
                await self._wakeup.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
            delay = min(delay * 2.0, self.cfg.backoff_max_s)

    async def aclose(self) -> None:
        await self._drop()
