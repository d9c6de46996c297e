"""Settings of a site's link to the region (the ``region:`` slice of a site's config)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .schema import SITE_ID

PosFloat = Annotated[float, msgspec.Meta(gt=0.0)]


class RegionLinkConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and as whom a site publishes its picture to the region.

    ``url``: the NATS server (``nats://host:4222``; ``tls://`` for TLS).
    ``credentials``: a NATS user credentials file (JWT + nkey seed), when the
    server asks for one. ``site``: this site's id, one subject token.
    """

    url: str
    site: Annotated[str, msgspec.Meta(pattern=SITE_ID)]
    credentials: str | None = None
    #: Plain user and password (prefer ``credentials``); the password from an environment variable.
    user: str | None = None
    password_env: str | None = None
    stream: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "SKYWARDEN"
    #: The on-disk outbox that holds messages while the server is unreachable.
    outbox: str = "region-outbox.db"
    #: Most messages the outbox holds; past it the oldest track scans go first (alerts never).
    outbox_max_messages: Annotated[int, msgspec.Meta(ge=10, le=10_000_000)] = 100_000
    heartbeat_s: PosFloat = 1.0
    #: One-sigma velocity error announced with the tracks (a track line carries none).
    vel_std_mps: PosFloat = 3.0
    #: How long to wait for JetStream's acknowledgement of one message.
    ack_timeout_s: PosFloat = 2.0
    queue_size: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 64
