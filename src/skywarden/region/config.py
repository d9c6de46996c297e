"""Settings of a site's link to the region (the ``region:`` slice of a site's config)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from ..sinks.config import SinksConfig
from ..web.config import WebConfig
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
    #: A file holding this site's NATS nkey seed (``SU...``), for a server that lists the
    #: site's public nkey as a user.
    nkey_seed: str | None = None
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
    vel_std_mps: PosFloat = 10.0
    #: How long to wait for JetStream's acknowledgement of one message.
    ack_timeout_s: PosFloat = 2.0
    queue_size: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 64


class NatsLinkConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The region's own connection to the NATS server."""

    url: str
    credentials: str | None = None
    nkey_seed: str | None = None
    user: str | None = None
    password_env: str | None = None
    stream: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "SKYWARDEN"
    #: How long the stream keeps messages (a site or the region may be away this long).
    max_age_s: PosFloat = 7 * 86_400.0
    #: Whether the region creates (or updates) the stream; off when an operator owns it.
    create_stream: bool = True


class RegionServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65_535)] = 8100


class RegionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``skywarden region --config region.yaml``: the regional service's settings.

    ``lat``/``lon``/``alt_m`` is the origin of the region's common ENU frame (the
    middle of the region, so the flat-frame errors stay small).
    """

    name: Annotated[str, msgspec.Meta(pattern=SITE_ID)] = "R"
    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
    alt_m: float = 0.0
    nats: NatsLinkConfig
    sites: Annotated[
        list[Annotated[str, msgspec.Meta(pattern=SITE_ID)]],
        msgspec.Meta(min_length=1, max_length=10_000),
    ]
    store: str = "region.db"
    server: RegionServerConfig = msgspec.field(default_factory=RegionServerConfig)
    #: The regional map's own store (its API tokens, acknowledgements, the map's history):
    #: ``<store>`` with ``-map`` before its suffix when not given (see :meth:`map_store_path`).
    map_store: str | None = None
    #: How long the map's history keeps track lines (seconds); None keeps everything.
    map_retention_s: Annotated[float, msgspec.Meta(gt=0.0)] | None = 7 * 86_400.0
    #: How the regional map is served, as at a site (``local_session`` for a demo only).
    web: WebConfig = msgspec.field(default_factory=WebConfig)
    #: Outbound links fed the regional picture, as at a site (TAK, webhooks, MQTT, ...);
    #: ``escalation`` is a site's only.
    sinks: SinksConfig = msgspec.field(default_factory=SinksConfig)
    #: Association gate: squared Mahalanobis distance on position and velocity (6 dof).
    gate_chi2: PosFloat = 22.46
    #: A regional track no site reports any more is kept (predicted) this long, for handover.
    coast_s: PosFloat = 10.0
    #: A site track not reported for this long is left out of the picture.
    stale_s: PosFloat = 5.0
    fuse_period_s: PosFloat = 0.5
    #: A message fetched but not acknowledged (the region died) is delivered again after this.
    ack_wait_s: PosFloat = 30.0
    #: A site whose heartbeat is older than this is shown unhealthy.
    heartbeat_timeout_s: PosFloat = 5.0
    #: The regional id of a site track not reported for this long is forgotten (a site
    #: that reuses the track id later gets a new regional track).
    track_map_keep_s: Annotated[float, msgspec.Meta(ge=60.0)] = 6 * 3600.0
    #: How long the region's store keeps a regional alert event (the history behind
    #: ``/api/region/alerts``); the events of an alert still open are kept until it closes.
    event_retention_s: PosFloat = 7 * 86_400.0
    #: How often the store is pruned (site events older than ``nats.max_age_s``, stale
    #: track mappings, regional events older than ``event_retention_s``).
    prune_period_s: PosFloat = 60.0

    def map_store_path(self) -> str:
        """Where the regional map's store is: ``map_store``, or ``region.db`` -> ``region-map.db``."""
        if self.map_store is not None:
            return self.map_store
        p = Path(self.store)
        return str(p.with_name(f"{p.stem}-map{p.suffix or '.db'}"))


def load_region_config(path: str) -> RegionConfig:
    """Read and validate a region YAML file; ValueError names the file and the problem."""
    import yaml

    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
        cfg = msgspec.convert(raw, RegionConfig)
    except (OSError, yaml.YAMLError, msgspec.ValidationError) as e:
        raise ValueError(f"{path}: {e}") from None
    if len(set(cfg.sites)) != len(cfg.sites):
        raise ValueError(f"{path}: a site is listed twice in sites")
    if cfg.sinks.escalation is not None:
        raise ValueError(f"{path}: sinks.escalation is not supported by the region")
    if cfg.web.language is not None:
        from ..i18n import MessageError, check_language

        try:
            check_language(cfg.web.language, "$.web.language")
        except MessageError as e:
            raise ValueError(f"{path}: {e}") from None
    if cfg.map_store_path() == cfg.store:
        raise ValueError(f"{path}: map_store must not be the region's store")
    return cfg
