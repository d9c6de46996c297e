"""The site configuration: one typed tree, loaded from YAML and validated at startup.

Each component takes only its own slice. Errors name the path of the bad
field (``$.sensors[2].kind``). Example: ``examples/site.yaml``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

from .i18n import MessageError, Overrides, check_language, check_overrides
from .pipeline import EngineConfig
from .region.config import RegionLinkConfig
from .sinks.config import SinksConfig
from .sources.jsonl import ListenerConfig, tls_context
from .sources.live import AdsbInput, AsterixInput, RemoteIdInput, SapientListenerConfig
from .threat import ThreatConfig
from .threat.zones import ZoneError, check_zones, load_geojson
from .tracking.config import TrackerConfig
from .types import Sensor, Site, Zone
from .web.config import WebConfig

#: A listening port (0: any free port, which the service reports).
ListenPort = Annotated[int, msgspec.Meta(ge=0, le=65_535)]


class SourcesConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where detections come in. A port of ``null`` turns that listener off."""

    host: str = "127.0.0.1"
    #: JSON Lines over TCP (CONVENTIONS format).
    jsonl_tcp_port: ListenPort | None = 4100
    #: JSON Lines over UDP, one or more lines per datagram.
    jsonl_udp_port: ListenPort | None = 4101
    #: Who may speak on each JSON Lines listener, and how much (see ``ListenerConfig``).
    jsonl_tcp: ListenerConfig = msgspec.field(default_factory=ListenerConfig)
    jsonl_udp: ListenerConfig = msgspec.field(default_factory=ListenerConfig)
    #: SAPIENT (BSI Flex 335 v2.0) sensor nodes connect here.
    sapient_port: ListenPort | None = None
    #: Connection cap, idle timeout, message size and rate of the SAPIENT port.
    sapient: SapientListenerConfig = msgspec.field(default_factory=SapientListenerConfig)
    #: skywarden's node id in its RegistrationAcks: a lower-case UUID version 4;
    #: derived from the site name when not given (the SAPIENT out sink's default too).
    sapient_node_id: str | None = None
    #: ASTERIX CAT048 monoradars (UDP), Mode-S receivers (TCP), Remote ID receivers (UDP).
    asterix48: list[AsterixInput] = msgspec.field(default_factory=list)
    adsb: list[AdsbInput] = msgspec.field(default_factory=list)
    remoteid: list[RemoteIdInput] = msgspec.field(default_factory=list)
    #: A scenario file replayed in real time, re-timed to the clock.
    replay: str | None = None
    replay_speed: Annotated[float, msgspec.Meta(gt=0.0, le=1_000.0)] = 1.0
    #: Bounded detection queue between sources and the tracker (drop-oldest when full).
    queue_size: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 50_000


class StoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The SQLite record of the site."""

    path: str = "skywarden.db"
    #: Keep detections and track history this long (seconds); alerts are kept.
    retention_s: Annotated[float, msgspec.Meta(gt=0.0, le=100 * 365 * 86_400.0)] | None = (
        7 * 24 * 3600.0
    )


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the web map and API listen (loopback unless told otherwise)."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65_535)] = 8000


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
    #: Publish this site's picture to a regional service over NATS JetStream (docs/region.md).
    region: RegionLinkConfig | None = None
    #: The site's own wording, per language, keys as in the message catalogue
    #: (``src/skywarden/i18n/en.json``; docs/cap.md): ``{ko: {cap.instruction.critical: ...}}``.
    messages: Overrides = msgspec.field(default_factory=dict)

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
    """Read and validate a site YAML (or JSON) file: types, ranges, zones, sources."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise ConfigError(f"cannot read {p}: {problem}{where}") from e
    except (OSError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"cannot read {p}: {e}") from e
    try:
        cfg = msgspec.convert(raw, SiteConfig)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{p}: {e}") from e
    try:
        check_config(cfg, base=p.parent)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from e
    return cfg


def check_config(cfg: SiteConfig, base: Path | None = None) -> None:
    """Everything msgspec's types cannot say: finite numbers, ranges, unique ids, zones, sources."""
    _check_numbers(cfg, "$")
    for key, (lo, hi, open_lo) in _RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        for v in value if isinstance(value, tuple) else (value,):
            if not ((lo < v) if open_lo else (lo <= v)) or not v <= hi:
                lo_b = "(" if open_lo else "["
                raise ConfigError(f"$.{key}: must be in {lo_b}{lo:g}, {hi:g}], not {v!r}")
    if cfg.threat.warning_horizon_s < cfg.threat.critical_horizon_s:
        raise ConfigError("$.threat.warning_horizon_s: must not be below critical_horizon_s")
    seen: set[str] = set()
    for i, s in enumerate(cfg.sensors):
        if s.id in seen:
            raise ConfigError(f"$.sensors[{i}].id: sensor '{s.id}' is declared twice")
        seen.add(s.id)
    try:
        check_zones(cfg.all_zones(base))
    except ZoneError as e:
        raise ConfigError(f"zones: {e}") from e
    check_sources(cfg)
    check_cap_signing(cfg)
    try:
        check_languages(cfg)
    except MessageError as e:
        raise ConfigError(str(e)) from e


def check_languages(cfg: SiteConfig) -> None:
    """Message overrides name known languages, keys and placeholders; every configured
    language has a catalogue (raises :class:`~skywarden.i18n.MessageError`)."""
    check_overrides(cfg.messages, "$.messages")
    if cfg.web.language is not None:
        check_language(cfg.web.language, "$.web.language")
    esc = cfg.sinks.escalation
    for path, cap in (
        ("$.sinks.cap", cfg.sinks.cap),
        ("$.sinks.escalation.cap", esc.cap if esc is not None else None),
    ):
        if cap is None:
            continue
        _check_tags(cap.language, f"{path}.language")
        for i, r in enumerate(cap.receivers):
            if r.language is not None:
                _check_tags(r.language, f"{path}.receivers[{i}].language")


def check_cap_signing(cfg: SiteConfig) -> None:
    """Every CAP signing key and certificate can be read, is RSA or ECDSA, and match."""
    esc = cfg.sinks.escalation
    for path, cap, has_feed in (
        ("$.sinks.cap", cfg.sinks.cap, True),
        ("$.sinks.escalation.cap", esc.cap if esc is not None else None, False),
    ):
        if cap is None:
            continue
        signs = [(f"{path}.receivers[{i}].sign", r.sign) for i, r in enumerate(cap.receivers)]
        if cap.feed_sign is not None:
            if not has_feed:
                raise ConfigError(f"{path}.feed_sign: escalated alerts have no feed to sign")
            if not cap.feed:
                raise ConfigError(f"{path}.feed_sign: the feed is off (feed: false)")
            signs.append((f"{path}.feed_sign", cap.feed_sign))
        if not any(sign for _, sign in signs):
            continue
        # Imported here: a site that signs nothing need not load signxml and lxml.
        from .sinks.cap_sign import SignError, signer_of

        for where, sign in signs:
            try:
                signer_of(sign)
            except SignError as e:
                raise ConfigError(f"{where}: {e}") from e


def _check_tags(value: str | list[str], path: str) -> None:
    """One language tag or a list of them: each with a catalogue, none twice."""
    if isinstance(value, str):
        check_language(value, path)
        return
    for k, tag in enumerate(value):
        check_language(tag, f"{path}[{k}]")
    if len({v.lower() for v in value}) < len(value):
        raise MessageError(path, "names a language twice")


def _check_numbers(obj: Any, path: str) -> None:
    """Every number in the tree is finite (YAML's .nan and .inf are not settings)."""
    if isinstance(obj, msgspec.Struct):
        for f in msgspec.structs.fields(obj):
            _check_numbers(getattr(obj, f.name), f"{path}.{f.encode_name}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ConfigError(f"{path}: must be a finite number, not {obj}")


#: Ranges of the settings whose structs live with their stage: (low, high, low excluded).
_RANGES: dict[str, tuple[float, float, bool]] = {
    "engine.output_interval_s": (0.0, 86_400.0, True),
    "tracker.sigma_a_mps2": (0.0, 1_000.0, True),
    "tracker.tau_s": (0.0, 1.0e6, True),
    "tracker.mode_p0": (0.0, 1.0, False),
    "tracker.init_speed_sigma_mps": (0.0, 1_000.0, True),
    "tracker.init_vspeed_sigma_mps": (0.0, 1_000.0, True),
    "tracker.range_margin": (1.0, 10.0, False),
    "tracker.gate_p": (0.0, 0.999999999, True),
    "tracker.jpda_pd": (0.0, 1.0, True),
    "tracker.jpda_clutter_density": (0.0, 1.0, True),
    "tracker.confirm_hits": (1, 100, False),
    "tracker.confirm_max_vel_std_mps": (0.0, 1_000.0, True),
    "tracker.confirm_min_span_s": (0.0, 600.0, False),
    "tracker.confirm_window_s": (0.0, 600.0, True),
    "tracker.tentative_timeout_s": (0.0, 600.0, True),
    "tracker.coast_after_s": (0.0, 3_600.0, True),
    "tracker.delete_after_s": (0.0, 3_600.0, True),
    "tracker.bearing_fix_window_s": (0.0, 600.0, True),
    "tracker.bearing_fix_max_growth": (0.0, 100.0, False),
    "tracker.bearing_fix_sd_m": (0.0, 1.0e5, False),
    "tracker.rf_bias_max": (0.0, 100.0, False),
    "tracker.rf_bias_alpha": (0.0, 1.0, True),
    "tracker.rf_bias_min_n": (1, 10_000, False),
    "tracker.rf_bias_fix_s": (0.0, 600.0, False),
    "tracker.max_pos_std_m": (0.0, 1.0e6, True),
    "tracker.min_alt_m": (-1_000.0, 100_000.0, False),
    "tracker.reorder_window_s": (0.0, 10.0, False),
    "tracker.triangulation_window_s": (0.0, 60.0, True),
    "tracker.triangulation_min_angle_deg": (0.0, 90.0, True),
    "tracker.triangulation_default_up_m": (-1_000.0, 100_000.0, False),
    "tracker.rf_corroborate_window_s": (0.0, 600.0, False),
    "tracker.rf_corroborate_n_sigma": (0.0, 100.0, True),
    "tracker.radar_cover_range_m": (0.0, 100_000.0, False),
    "tracker.radar_cover_max_frac": (0.0, 1.0, False),
    "tracker.radar_cover_window_s": (0.0, 600.0, True),
    "tracker.continue_accel_mps2": (0.0, 100.0, False),
    "tracker.continue_max_m": (0.0, 1.0e5, False),
    "tracker.continue_window_s": (0.0, 600.0, False),
    "tracker.continue_min_up_m": (-1.0e5, 0.0, False),
    "tracker.merge_fixes": (0, 16, False),
    "tracker.merge_max_m": (0.0, 1.0e4, False),
    "tracker.merge_max_dv_mps": (0.0, 1.0e3, False),
    # The ranges TrackerConfig's own comments state.
    "tracker.prefilter_gate_factor": (1.0, 100.0, False),
    "tracker.identity_gate_factor": (1.0, 1.0e4, False),
    "tracker.tentative_cost": (0.0, 100.0, False),
    "tracker.cooperative_speed_sigma_mps": (0.0, 50.0, True),
    "tracker.jpda_update_p": (0.0, 1.0, True),
    "tracker.jpda_used_p": (0.0, 1.0, True),
    "tracker.triangulation_default_up_sigma_m": (0.0, 5_000.0, True),
    "threat.critical_horizon_s": (0.0, 3_600.0, True),
    "threat.warning_horizon_s": (0.0, 7_200.0, True),
    "threat.drone_p": (0.0, 1.0, False),
    "threat.drone_p_exit": (0.0, 1.0, False),
    "threat.info_p": (0.0, 1.0, False),
    "threat.info_min_age_s": (0.0, 3_600.0, False),
    "threat.info_fast_min_age_s": (0.0, 3_600.0, False),
    "threat.closing_min_cos": (-1.0, 1.0, False),
    "threat.raise_hold_s": (0.0, 600.0, False),
    "threat.info_raise_hold_s": (0.0, 3_600.0, False),
    "threat.max_pos_sigma_m": (0.0, 100_000.0, True),
    "threat.max_unfixed_s": (0.0, 3_600.0, False),
    "threat.edge_m": (0.0, 10_000.0, False),
    "threat.edge_speed_mps": (0.0, 1_000.0, False),
    "threat.horizon_exit_factor": (1.0, 10.0, False),
    "threat.priority_boost": (0.0, 10.0, False),
    "threat.reference_priority": (1, 100, False),
    "threat.min_hold_s": (0.0, 3_600.0, False),
    "threat.clear_delay_s": (0.0, 3_600.0, False),
    "threat.downgrade_hold_s": (0.0, 3_600.0, False),
    "threat.min_update_interval_s": (0.0, 3_600.0, False),
    "threat.update_tta_rel": (0.0, 10.0, False),
    "threat.update_tta_abs_s": (0.0, 3_600.0, False),
    "threat.vertical_horizon_s": (0.0, 3_600.0, False),
    "threat.arrival_smoothing": (0.0, 1.0, True),
    "threat.manoeuvre_sigma_mps": (0.0, 100.0, False),
    "threat.n_sigma": (0.0, 10.0, True),
    "threat.max_allowance_m": (0.0, 100_000.0, False),
    "threat.sample_step_s": (0.0, 600.0, True),
    "threat.loose_zone_margin_s": (0.0, 7_200.0, False),
    "threat.info_fast_drone_p": (0.0, 1.0, False),
    "threat.info_fast_speed_mps": (0.0, 1_000.0, False),
    "threat.unidentified_warning_horizon_s": (0.0, 7_200.0, False),
    "threat.unidentified_slow_possible_horizon_s": (0.0, 7_200.0, False),
    "threat.unidentified_slow_drone_p": (0.0, 1.0, False),
    "threat.class_clear_delay_s": (0.0, 3_600.0, False),
    "threat.handover_s": (0.0, 3_600.0, False),
    "threat.handover_n_sigma": (0.0, 100.0, True),
    "threat.handover_min_gate_m": (0.0, 100_000.0, False),
    "threat.handover_max_gate_m": (0.0, 100_000.0, False),
    "threat.handover_stale_s": (0.0, 3_600.0, False),
    "threat.handover_young_s": (0.0, 3_600.0, False),
    "threat.loiter_window_s": (0.0, 86_400.0, False),
    "threat.loiter_min_s": (0.0, 86_400.0, False),
    "threat.loiter_max_displacement_m": (0.0, 1.0e6, False),
    "threat.loiter_max_net_frac": (0.0, 1.0, False),
    "threat.loiter_range_m": (0.0, 1.0e6, False),
}


def check_sources(cfg: SiteConfig) -> None:
    """Every interface input and listener names declared sensors; secrets are set."""
    kinds = {s.id: s.kind for s in cfg.sensors}
    src = cfg.sources
    inputs: tuple[tuple[str, Sequence[AsterixInput | AdsbInput | RemoteIdInput], str], ...] = (
        ("asterix48", src.asterix48, "radar"),
        ("adsb", src.adsb, "adsb"),
        ("remoteid", src.remoteid, "remoteid"),
    )
    for section, items, kind in inputs:
        for i, item in enumerate(items):
            if kinds.get(item.sensor) != kind:
                raise ConfigError(
                    f"$.sources.{section}[{i}].sensor: '{item.sensor}' is not a declared {kind} sensor"
                )
    for name, listener in (("jsonl_tcp", src.jsonl_tcp), ("jsonl_udp", src.jsonl_udp)):
        for i, sid in enumerate(listener.sensors or ()):
            if sid not in kinds and not listener.allow_register:
                raise ConfigError(
                    f"$.sources.{name}.sensors[{i}]: '{sid}' is not a declared sensor "
                    "(declare it under sensors, or set allow_register to take it live)"
                )
    if src.jsonl_udp.secret_env is not None:
        raise ConfigError("$.sources.jsonl_udp.secret_env: UDP cannot check a secret; use TCP")
    udp = src.jsonl_udp
    if udp.tls_cert_file or udp.tls_key_file or udp.tls_client_ca_file:
        raise ConfigError("$.sources.jsonl_udp: UDP cannot use TLS; use TCP")
    try:
        tls_context(src.jsonl_tcp)
    except ValueError as e:
        raise ConfigError(f"$.sources.jsonl_tcp: {e}") from e
    env = src.jsonl_tcp.secret_env
    if env is not None and src.jsonl_tcp_port is not None and not os.environ.get(env):
        raise ConfigError(f"$.sources.jsonl_tcp.secret_env: environment variable {env} is not set")
