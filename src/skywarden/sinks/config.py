"""Settings of the outbound sinks (the ``sinks:`` slice of a site's config) and their factory.

Every sink is optional and there may be several of each kind (two TAK servers,
a webhook per on-call service). Secrets may be given inline or, better, by the
name of an environment variable (``*_env``) so that the YAML file holds none.

None of these sinks tasks, cues or commands anything: they only report the air
picture and the warnings to people and to higher-level systems.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
import numpy as np

from ..types import Zone
from .cap_config import CapConfig, MqttConfig

if TYPE_CHECKING:
    from ..geodesy import LocalFrame
    from ..i18n import Messages
    from .base import QueueWorker

log = logging.getLogger(__name__)

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PosFloat = Annotated[float, msgspec.Meta(gt=0.0)]
QueueSize = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Level = Literal["info", "warning", "critical"]


class _Cfg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every sink's settings."""


class TakConfig(_Cfg, frozen=True):
    """A TAK server or TAK network that gets Cursor-on-Target events.

    ``url``: ``tcp://host:8087``, ``udp://host:port`` (unicast),
    ``udp://239.2.3.1:6969`` (multicast, the ATAK SA mesh default) or
    ``tls://host:8089`` (with a client certificate). ``protocol``: ``xml`` (CoT
    2.0 XML, what every TAK product accepts on a plain port) or ``protobuf``
    (TAK protocol v1: mesh framing over UDP, stream framing over TCP/TLS).
    """

    url: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9+.-]*://[^/\s]+")]
    protocol: Literal["xml", "protobuf"] = "xml"
    #: Client certificate and key (PEM, or a .p12 with ``tls_client_password``) for ``tls://``.
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    tls_client_password_env: str | None = None
    #: CA bundle that signed the server's certificate.
    tls_ca_file: str | None = None
    tls_dont_check_hostname: bool = False
    #: Prefix of every event uid, so several sites stay apart on one server.
    uid_prefix: str = "skywarden"
    #: At most one event per track per this many seconds of scan time.
    min_interval_s: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0
    #: Token bucket for the whole link: sustained events/s and burst size.
    link_rate_eps: PosFloat = 50.0
    link_burst: Annotated[int, msgspec.Meta(ge=1)] = 100
    #: A track event goes stale after max(stale_min_s, stale_factor * update period).
    stale_factor: PosFloat = 3.0
    stale_min_s: PosFloat = 5.0
    #: How long an alert marker stays on the map without an update, seconds.
    alert_stale_s: PosFloat = 120.0
    #: Zones are (re)sent as drawn shapes on connect and this often (wall clock).
    zones_period_s: PosFloat = 60.0
    #: Remote ID serials / ICAO addresses of own and friendly aircraft (shown friend).
    friendly_ids: list[str] = msgspec.field(default_factory=list)
    #: Symbol of a track classed "drone": most small drones are multirotors.
    drone_symbol: Literal["rotary", "fixed"] = "rotary"
    #: A drone with an open threat alert at or above this level is shown hostile.
    hostile_level: Level = "warning"
    connect_timeout_s: PosFloat = 5.0
    backoff_max_s: PosFloat = 30.0
    queue_size: QueueSize = 64


class SapientOutConfig(_Cfg, frozen=True):
    """A higher-level SAPIENT fusion / C2 node that skywarden reports to over TCP."""

    host: str
    port: Port
    #: This node's UUID (version 4, lower case); derived from the site name when not given.
    node_id: str | None = None
    #: The C2 node's id, put in ``destination_id`` when given.
    destination_id: str | None = None
    name: str = "skywarden"
    short_name: str = "skywarden"
    status_period_s: PosFloat = 10.0
    registration_timeout_s: PosFloat = 10.0
    connect_timeout_s: PosFloat = 5.0
    backoff_initial_s: PosFloat = 1.0
    backoff_max_s: PosFloat = 30.0
    queue_size: QueueSize = 64


class Asterix62Config(_Cfg, frozen=True):
    """ASTERIX CAT062 system tracks over UDP (unicast or multicast)."""

    host: str
    port: Port
    sac: Annotated[int, msgspec.Meta(ge=0, le=255)]
    sic: Annotated[int, msgspec.Meta(ge=0, le=255)]
    service_id: Annotated[int, msgspec.Meta(ge=0, le=255)] = 1
    multicast_ttl: Annotated[int, msgspec.Meta(ge=0, le=255)] = 1
    #: Fill I062/136 (measured flight level) from the track altitude. Off by
    #: default: our altitudes are geometric, not barometric (Mode C), so the
    #: flight level is an ISA approximation that a receiver may not expect.
    flight_level_from_alt: bool = False
    #: Most bytes in one datagram (records are split across datagrams beyond it).
    max_datagram_bytes: Annotated[int, msgspec.Meta(ge=64, le=65_000)] = 1400
    queue_size: QueueSize = 64


class WebhookConfig(_Cfg, frozen=True):
    """An HTTP endpoint that gets every alert lifecycle event as signed JSON."""

    url: str
    #: Shared HMAC secret, inline or (better) from an environment variable.
    secret: str | None = None
    secret_env: str | None = None
    #: Levels to send; all by default.
    levels: list[Level] = msgspec.field(default_factory=lambda: ["info", "warning", "critical"])
    timeout_s: PosFloat = 5.0
    #: An alert still undelivered after this many attempts is logged at error level
    #: (it is kept and retried: alerts are never given up on).
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 8
    backoff_initial_s: PosFloat = 1.0
    backoff_max_s: PosFloat = 300.0
    #: Accepted for older site files and ignored: waiting alerts are bounded by the
    #: number of alerts (one event each), never dropped.
    retry_queue_size: QueueSize = 10_000
    queue_size: QueueSize = 1024


class EscalationConfig(_Cfg, frozen=True):
    """Alerts nobody acknowledged in time are sent again, to channels of their own.

    ``after_s``: how long an open alert of each level may stay unacknowledged;
    a level not named is never escalated. The channels are sinks of their own
    (a duty officer's webhook, a CAP receiver, an MQTT broker) that get only
    escalated alerts.
    """

    after_s: dict[Level, PosFloat] = msgspec.field(
        default_factory=lambda: {"critical": 60.0, "warning": 300.0}
    )
    webhooks: list[WebhookConfig] = msgspec.field(default_factory=list)
    cap: CapConfig | None = None
    mqtt: list[MqttConfig] = msgspec.field(default_factory=list)


class SinksConfig(_Cfg, frozen=True):
    """Every outbound sink of a site. Empty lists: no sink of that kind."""

    tak: list[TakConfig] = msgspec.field(default_factory=list)
    sapient: list[SapientOutConfig] = msgspec.field(default_factory=list)
    asterix62: list[Asterix62Config] = msgspec.field(default_factory=list)
    webhooks: list[WebhookConfig] = msgspec.field(default_factory=list)
    #: CAP 1.2 public-warning messages: receivers and the Atom feed (see .cap).
    cap: CapConfig | None = None
    #: MQTT brokers for sirens, building systems and dashboards (see .mqtt).
    mqtt: list[MqttConfig] = msgspec.field(default_factory=list)
    #: Re-sending of alerts nobody acknowledged (see .escalation).
    escalation: EscalationConfig | None = None


def secret_from(inline: str | None, env: str | None) -> str | None:
    """The secret given inline or read from the environment variable ``env``."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ValueError(f"environment variable {env} (a sink secret) is not set")
        return value
    return inline


def build_sinks(
    config: SinksConfig,
    frame: LocalFrame,
    *,
    site_name: str = "skywarden",
    zones: Sequence[Zone] = (),
    rng: np.random.Generator | None = None,
    messages: Messages | None = None,
) -> list[QueueWorker]:
    """Create one worker per configured sink (none are started; the pipeline runs them).

    ``frame`` is the site's ENU frame (CAT062 Cartesian items, zone centroids);
    ``site_name`` names the site in webhook bodies and SAPIENT ids; ``zones`` are
    drawn on TAK maps; ``rng`` jitters webhook retries; ``messages`` words CAP texts.
    """
    # Imported here so that a site with no sinks does not import pytak, protobuf, httpx.
    sinks: list[QueueWorker] = []
    if config.tak:
        from .cot import CotSink

        sinks += [CotSink(c, zones=zones) for c in config.tak]
    if config.sapient:
        from ..sources.sapient import default_node_id
        from .sapient_out import SapientOutSink

        for c in config.sapient:
            node_id = c.node_id or default_node_id(f"{site_name}.skywarden")
            sinks.append(SapientOutSink(c, frame, node_id=node_id))
    if config.asterix62:
        from .asterix62 import Asterix62Sink

        sinks += [Asterix62Sink(c, frame) for c in config.asterix62]
    if config.webhooks:
        from .webhook import WebhookSink

        rng = rng if rng is not None else np.random.default_rng()
        sinks += [WebhookSink(c, site_name=site_name, rng=rng) for c in config.webhooks]
    if config.cap is not None:
        from .cap import build_cap_sinks

        rng = rng if rng is not None else np.random.default_rng()
        sinks += build_cap_sinks(
            config.cap, site_name=site_name, zones=zones, rng=rng, messages=messages
        )
    if config.mqtt:
        from .mqtt import MqttSink

        sinks += [MqttSink(c, site_name=site_name, zones=zones) for c in config.mqtt]
    for s in sinks:
        log.info("sink %s configured", s.name)
    return sinks
