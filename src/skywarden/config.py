"""The site configuration: one typed tree, loaded from YAML and validated at startup.

Each component takes only its own slice. Errors name the path of the bad
field (``$.sensors[2].kind``). Example: ``examples/site.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import yaml

from .pipeline import EngineConfig
from .sinks.config import SinksConfig
from .sinks.web.config import WebConfig
from .sources.live import AdsbInput, AsterixInput, RemoteIdInput
from .threat import ThreatConfig
from .threat.zones import load_geojson
from .tracking.config import TrackerConfig
from .types import Sensor, Site, Zone


class SourcesConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where detections come in. A port of ``null`` turns that listener off."""

    host: str = "127.0.0.1"
    #: JSON Lines over TCP (CONVENTIONS format).
    jsonl_tcp_port: int | None = 4100
    #: JSON Lines over UDP, one or more lines per datagram.
    jsonl_udp_port: int | None = 4101
    #: SAPIENT (BSI Flex 335 v2.0) sensor nodes connect here.
    sapient_port: int | None = None
    #: ASTERIX CAT048 monoradars (UDP), Mode-S receivers (TCP), Remote ID receivers (UDP).
    asterix48: list[AsterixInput] = msgspec.field(default_factory=list)
    adsb: list[AdsbInput] = msgspec.field(default_factory=list)
    remoteid: list[RemoteIdInput] = msgspec.field(default_factory=list)
    #: A scenario file replayed in real time, re-timed to the clock.
    replay: str | None = None
    replay_speed: float = 1.0
    #: Bounded detection queue between sources and the tracker (drop-oldest when full).
    queue_size: int = 50_000


class StoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The SQLite record of the site."""

    path: str = "skywarden.db"
    #: Keep detections and track history this long (seconds); alerts are kept.
    retention_s: float | None = 7 * 24 * 3600.0


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the web map and API listen (loopback unless told otherwise)."""

    host: str = "127.0.0.1"
    port: int = 8000


class SiteConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a site needs: where it is, its sensors and zones, and each stage's settings."""

    site: Site
    sensors: list[Sensor] = msgspec.field(default_factory=list)
    zones: list[Zone] = msgspec.field(default_factory=list)
    #: Zones from a GeoJSON file (polygon features), added to ``zones``.
    zones_geojson: str | None = None
    tracker: TrackerConfig = msgspec.field(default_factory=TrackerConfig)
    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    threat: ThreatConfig = msgspec.field(default_factory=ThreatConfig)
    sources: SourcesConfig = msgspec.field(default_factory=SourcesConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    web: WebConfig = msgspec.field(default_factory=WebConfig)
    sinks: SinksConfig = msgspec.field(default_factory=SinksConfig)

    def all_zones(self, base: Path | None = None) -> list[Zone]:
        """Zones given inline plus those of ``zones_geojson`` (relative to ``base``)."""
        zones = list(self.zones)
        if self.zones_geojson:
            p = Path(self.zones_geojson)
            if base is not None and not p.is_absolute():
                p = base / p
            zones += load_geojson(p)
        return zones


class ConfigError(ValueError):
    """A site configuration that cannot be used, with the reason."""


def load_config(path: str | os.PathLike[str]) -> SiteConfig:
    """Read and validate a site YAML (or JSON) file."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read {p}: {e}") from e
    try:
        cfg = msgspec.convert(raw, SiteConfig)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{p}: {e}") from e
    check_sources(cfg)
    return cfg


def check_sources(cfg: SiteConfig) -> None:
    """Every interface input names a declared sensor of the right kind."""
    kinds = {s.id: s.kind for s in cfg.sensors}
    src = cfg.sources
    for section, items, kind in (
        ("asterix48", src.asterix48, "radar"),
        ("adsb", src.adsb, "adsb"),
        ("remoteid", src.remoteid, "remoteid"),
    ):
        for i, item in enumerate(items):
            if kinds.get(item.sensor) != kind:
                raise ConfigError(
                    f"$.sources.{section}[{i}].sensor: '{item.sensor}' is not a declared {kind} sensor"
                )
