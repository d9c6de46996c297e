"""Settings of the last-mile sinks: CAP 1.2 receivers and feed, and MQTT brokers.

Part of the ``sinks:`` slice of a site's config (:mod:`.config`); kept in a
module of its own so that :mod:`.cap` and :mod:`.mqtt` import no other sink.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Level = Literal["info", "warning", "critical"]
PosFloat = Annotated[float, msgspec.Meta(gt=0.0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
QueueSize = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
# CAP identifiers and senders may not hold spaces, commas, '<' or '&' (CAP 1.2, 3.2.1).
CapToken = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\s,<&]+$")]
#: A language tag (``en``, ``ko``, ``en-GB``, ``ko-KR``) whose language has a message
#: catalogue (checked at load, :func:`skywarden.config.check_config`).
LangTag = Annotated[str, msgspec.Meta(min_length=2, max_length=35)]
#: One language, or several: each becomes one CAP ``info`` block, in order.
Languages = LangTag | Annotated[list[LangTag], msgspec.Meta(min_length=1, max_length=4)]


class _Cfg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every sink's settings."""


class CapSignConfig(_Cfg, frozen=True):
    """An enveloped XML signature on every CAP message (CAP 1.2, 3.3.2.1; docs/cap.md).

    Loaded and checked when the config loads (:mod:`.cap_sign`).
    """

    #: PEM private key, RSA (2048 bits or more) or ECDSA.
    key_file: str
    #: PEM X.509 certificate of that key, optionally followed by its issuers.
    cert_file: str
    #: The key's passphrase, from this environment variable (for an encrypted key).
    key_password_env: str | None = None


class CapReceiverConfig(_Cfg, frozen=True):
    """An HTTP endpoint that gets each alert event as a CAP 1.2 XML document (POST)."""

    url: str
    #: Lowest alert level sent; once an alert was sent, its later events all are
    #: (a receiver that heard ``Alert`` must hear the ``Cancel``).
    min_level: Level = "info"
    #: Zone ids sent; all zones when not given.
    zones: list[str] | None = None
    #: The language(s) of this receiver's messages; the ``cap`` section's when not given.
    language: Languages | None = None
    #: Bearer token for the receiver, from an environment variable.
    token_env: str | None = None
    content_type: str = "application/cap+xml"
    #: Sign every message this receiver gets; unsigned when not given.
    sign: CapSignConfig | None = None
    timeout_s: PosFloat = 5.0
    #: Still undelivered after this many attempts: logged at error level (and kept, retried).
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 8
    backoff_initial_s: PosFloat = 1.0
    backoff_max_s: PosFloat = 300.0
    queue_size: QueueSize = 1024


class CapConfig(_Cfg, frozen=True):
    """CAP 1.2 output: message settings, HTTP receivers and the Atom feed of active alerts."""

    #: CAP ``sender``; ``skywarden@<site name>`` when not given.
    sender: CapToken | None = None
    #: CAP ``senderName`` (the authority people see).
    sender_name: str | None = None
    #: The language(s) of the messages (the feed's, and each receiver's unless it says).
    language: Languages = "en"
    #: ``expires`` is this long after each message's ``onset``.
    expires_s: PosFloat = 900.0
    #: Radius of the ``circle`` drawn about the predicted entry point.
    entry_radius_m: PosFloat = 100.0
    #: CAP ``web`` and ``contact`` (optional).
    web: str | None = None
    contact: str | None = None
    #: Serve ``/cap/feed.atom`` (and each active message under ``/cap/alerts/``).
    feed: bool = True
    #: Serve the feed without a token (public-alert aggregators poll anonymously).
    #: Off by default: an open feed tells anyone, an attacker too, what is detected where.
    feed_public: bool = False
    #: Sign the messages of the feed and of ``/cap/alerts/``; unsigned when not given.
    feed_sign: CapSignConfig | None = None
    receivers: list[CapReceiverConfig] = msgspec.field(default_factory=list)


class MqttConfig(_Cfg, frozen=True):
    """An MQTT broker: retained per-zone state topics and an event topic per alert."""

    host: str
    port: Port = 1883
    #: Topics start ``<topic_prefix>/<site name>/``.
    topic_prefix: Annotated[
        str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^#+\x00]+$")
    ] = "skywarden"
    qos: Literal[0, 1, 2] = 1
    #: TLS: on with ``tls: true``; CA bundle, client certificate and key (PEM).
    tls: bool = False
    tls_ca_file: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    username: str | None = None
    password_env: str | None = None
    client_id: str | None = None
    keepalive_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    connect_timeout_s: PosFloat = 5.0
    backoff_initial_s: PosFloat = 0.5
    backoff_max_s: PosFloat = 30.0
    queue_size: QueueSize = 64
