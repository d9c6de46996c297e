"""Scenario specifications: typed, validated at load (docs/scenario-spec.md).

A spec names the site, the protected zones, the sensors (with their simulated
performance) and groups of objects to fly. It is read from YAML or JSON and
converted with msgspec, so every error names the path of the bad field, e.g.
``Expected `float` >= 0.0 - at `$.sensors[1].pd```.

Intervals (``speed_mps: [30, 60]``) mean "drawn uniformly per object".
Positions in a spec are metres East/North of the site origin unless the key
says ``lat``/``lon``; heights named ``*_agl_m`` are above the site's ground
(its ``alt_m``), other altitudes are above the WGS-84 ellipsoid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import yaml

from ..types import Alt, FieldOfView, Lat, Lon, SensorKind, TruthClass

NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]
Positive = Annotated[float, msgspec.Meta(gt=0.0)]
Prob = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Count = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Interval = tuple[float, float]
IntInterval = tuple[int, int]


class SpecError(ValueError):
    """A scenario spec that cannot be loaded; the message names the file and field."""


class _Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every spec struct: immutable, unknown keys are errors (typos show)."""


def _check_intervals(obj: msgspec.Struct, *names: str) -> None:
    for name in names:
        lo, hi = getattr(obj, name)
        if lo > hi:
            raise ValueError(f"{name}: lower bound {lo} is above upper bound {hi}")


class SiteSpec(_Spec, frozen=True, kw_only=True):
    """Origin of the local frame; ``alt_m`` is also the ground height used for ``*_agl_m``."""

    name: str
    lat: Lat
    lon: Lon
    alt_m: Alt


class Circle(_Spec, frozen=True, kw_only=True):
    """A disc, centre in metres East/North of the site origin."""

    east_m: float = 0.0
    north_m: float = 0.0
    radius_m: Positive


class ZoneSpec(_Spec, frozen=True, kw_only=True):
    """A protected zone: either a ``polygon`` of [lon, lat] or a ``circle`` (32-gon)."""

    id: str
    name: str
    floor_m: Alt
    ceiling_m: Alt
    priority: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    polygon: list[tuple[Lon, Lat]] | None = None
    circle: Circle | None = None

    def __post_init__(self) -> None:
        if (self.polygon is None) == (self.circle is None):
            raise ValueError("give exactly one of 'polygon' or 'circle'")
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError("polygon: needs at least 3 vertices")
        if self.ceiling_m <= self.floor_m:
            raise ValueError("ceiling_m: must be above floor_m")


class Dropout(_Spec, frozen=True, kw_only=True):
    """A period (seconds from the scenario start) in which a sensor is silent."""

    from_s: NonNeg
    to_s: NonNeg

    def __post_init__(self) -> None:
        if self.to_s <= self.from_s:
            raise ValueError("to_s: must be after from_s")


class SensorSpec(_Spec, frozen=True, kw_only=True):
    """One sensor: where it is, what it covers, how well it sees.

    Position: ``pos_enu_m`` [east, north, up] metres from the site origin, or
    ``lat``/``lon``/``alt_m``. Unset noise sigmas take the kind's defaults.
    Radar only: ``ref_range_m`` is the range at which a 0 dBsm target is
    detected with probability ``pd``; ``pfa`` the false-alarm probability of
    the Swerling-1 detector; ``report_range_rate``/``report_rcs`` false make
    it report range, azimuth and elevation only (no range rate, SNR or RCS). ``clutter_per_scan`` is the Poisson mean of false
    detections per scan (radar, rf, camera, position); ``phase_s`` offsets the
    first scan from the start.
    """

    id: str
    kind: SensorKind
    pos_enu_m: tuple[float, float, float] | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    alt_m: Alt | None = None
    pd: Prob = 0.9
    update_s: Annotated[float, msgspec.Meta(ge=0.05, le=3600.0)] = 1.0
    max_range_m: Positive
    fov: FieldOfView | None = None
    sigma_range_m: NonNeg | None = None
    sigma_az_deg: NonNeg | None = None
    sigma_el_deg: NonNeg | None = None
    sigma_range_rate_mps: NonNeg | None = None
    sigma_pos_m: NonNeg | None = None
    ref_range_m: Positive = 10_000.0
    pfa: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)] = 1e-6
    clutter_per_scan: NonNeg = 0.0
    phase_s: NonNeg = 0.0
    dropouts: list[Dropout] = msgspec.field(default_factory=list)
    report_range_rate: bool = True
    report_rcs: bool = True

    def __post_init__(self) -> None:
        if self.kind != "radar" and not (self.report_range_rate and self.report_rcs):
            raise ValueError("report_range_rate/report_rcs: radar only")
        geo = (self.lat, self.lon, self.alt_m)
        if self.pos_enu_m is None and None in geo:
            raise ValueError("give 'pos_enu_m' or all of 'lat', 'lon', 'alt_m'")
        if self.pos_enu_m is not None and any(v is not None for v in geo):
            raise ValueError("give 'pos_enu_m' or 'lat'/'lon'/'alt_m', not both")
        if self.kind in ("remoteid", "adsb") and self.clutter_per_scan:
            raise ValueError("clutter_per_scan: cooperative receivers have no clutter")


class HostileDrone(_Spec, frozen=True, kw_only=True, tag="hostile_drone", tag_field="kind"):
    """Fixed-wing one-way attack drones on scripted routes ending in a dive into ``zone``.

    Each starts ``start_range_m`` from its impact point, on a bearing in
    ``bearing_deg`` (clockwise from north, the direction it comes from), flies
    ``doglegs`` turns at a cruise height, then dives at ``dive_deg`` to a point
    inside the zone, where it stops existing. ``launch_s``: when it enters.
    """

    count: Count = 1
    zone: str | None = None
    start_range_m: Interval = (16_000.0, 22_000.0)
    bearing_deg: Interval = (0.0, 360.0)
    speed_mps: Interval = (30.0, 60.0)
    cruise_agl_m: Interval = (50.0, 1_500.0)
    dive_deg: Interval = (30.0, 60.0)
    launch_s: Interval = (0.0, 60.0)
    doglegs: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    radio_fraction: Prob = 0.3
    rcs_dbsm: Interval = (-10.0, 3.0)

    def __post_init__(self) -> None:
        _check_intervals(
            self, "start_range_m", "bearing_deg", "speed_mps", "cruise_agl_m", "dive_deg"
        )
        _check_intervals(self, "launch_s", "rcs_dbsm")
        if self.start_range_m[0] < 15_000.0:
            raise ValueError("start_range_m: must start at least 15000 m out")
        if not (self.speed_mps[0] > 0.0 and self.speed_mps[1] <= 200.0):
            raise ValueError("speed_mps: must be within (0, 200]")
        if not (self.dive_deg[0] >= 5.0 and self.dive_deg[1] <= 85.0):
            raise ValueError("dive_deg: must be within [5, 85]")
        if self.cruise_agl_m[0] < 20.0:
            raise ValueError("cruise_agl_m: must be at least 20 m")


class Quadcopter(_Spec, frozen=True, kw_only=True, tag="quadcopter", tag_field="kind"):
    """Small multirotors that hover and move, starting within ``area``; ``remote_id``
    ones broadcast; ``loiter`` ones turn back at the edge of ``area`` and stay in it."""

    count: Count = 1
    area: Circle
    speed_mps: Interval = (0.0, 15.0)
    agl_m: Interval = (20.0, 120.0)
    remote_id: bool = False
    hostile: bool = False
    loiter: bool = False
    rcs_dbsm: Interval = (-20.0, -12.0)

    def __post_init__(self) -> None:
        _check_intervals(self, "speed_mps", "agl_m", "rcs_dbsm")


class Bird(_Spec, frozen=True, kw_only=True, tag="bird", tag_field="kind"):
    """Birds wandering within ``area``; ``flock_size`` > 1 flies them as flocks."""

    count: Count = 1
    area: Circle
    flock_size: IntInterval = (1, 1)
    flock_spread_m: NonNeg = 20.0
    speed_mps: Interval = (8.0, 20.0)
    agl_m: Interval = (10.0, 300.0)
    rcs_dbsm: Interval = (-35.0, -20.0)

    def __post_init__(self) -> None:
        _check_intervals(self, "flock_size", "speed_mps", "agl_m", "rcs_dbsm")
        if self.flock_size[0] < 1:
            raise ValueError("flock_size: must be at least 1")


class Glider(_Spec, frozen=True, kw_only=True, tag="glider", tag_field="kind"):
    """Gliders circling in thermals (truth class ``aircraft``)."""

    count: Count = 1
    area: Circle
    speed_mps: Interval = (20.0, 30.0)
    agl_m: Interval = (400.0, 1_800.0)
    circle_radius_m: Interval = (80.0, 200.0)
    rcs_dbsm: Interval = (0.0, 10.0)

    def __post_init__(self) -> None:
        _check_intervals(self, "speed_mps", "agl_m", "circle_radius_m", "rcs_dbsm")


class Runway(_Spec, frozen=True, kw_only=True):
    """A runway threshold (metres from the site origin) and its landing heading."""

    east_m: float = 0.0
    north_m: float = 0.0
    heading_deg: Annotated[float, msgspec.Meta(ge=0.0, lt=360.0)]


class Airliner(_Spec, frozen=True, kw_only=True, tag="airliner", tag_field="kind"):
    """Airliners with ADS-B: overflights across ``area``, or arrivals/departures at ``runway``."""

    count: Count = 1
    area: Circle = Circle(radius_m=40_000.0)
    runway: Runway | None = None
    arrival_fraction: Prob = 0.5
    launch_s: Interval | None = None
    rcs_dbsm: Interval = (20.0, 30.0)

    def __post_init__(self) -> None:
        _check_intervals(self, "rcs_dbsm")
        if self.launch_s is not None:
            _check_intervals(self, "launch_s")


class _Transit(_Spec, frozen=True, kw_only=True):
    """Aircraft crossing ``area`` on a route with one dogleg."""

    count: Count = 1
    area: Circle = Circle(radius_m=25_000.0)
    launch_s: Interval | None = None
    adsb_fraction: Prob = 1.0

    def __post_init__(self) -> None:
        _check_intervals(self, "speed_mps", "agl_m", "rcs_dbsm")
        if self.launch_s is not None:
            _check_intervals(self, "launch_s")


class LightAircraft(_Transit, frozen=True, kw_only=True, tag="light_aircraft", tag_field="kind"):
    """Light aircraft in transit (ADS-B on ``adsb_fraction`` of them)."""

    speed_mps: Interval = (50.0, 75.0)
    agl_m: Interval = (300.0, 1_500.0)
    rcs_dbsm: Interval = (10.0, 18.0)
    adsb_fraction: Prob = 0.8


class Helicopter(_Transit, frozen=True, kw_only=True, tag="helicopter", tag_field="kind"):
    """Helicopters flying low (some without a transponder)."""

    speed_mps: Interval = (30.0, 70.0)
    agl_m: Interval = (100.0, 500.0)
    rcs_dbsm: Interval = (5.0, 15.0)
    adsb_fraction: Prob = 0.5


class Target(_Spec, frozen=True, kw_only=True, tag="target", tag_field="kind"):
    """Benchmark targets on nearly-constant-velocity paths spread over ``area``.

    ``accel_sigma_mps2`` is the white-noise acceleration (process noise) per axis.
    """

    count: Count = 100
    area: Circle
    speed_mps: Interval = (5.0, 60.0)
    agl_m: Interval = (100.0, 2_000.0)
    accel_sigma_mps2: NonNeg = 0.05
    truth_class: TruthClass = "unknown"
    rcs_dbsm: Interval = (-10.0, 10.0)

    def __post_init__(self) -> None:
        _check_intervals(self, "speed_mps", "agl_m", "rcs_dbsm")


_HEX6 = "^[0-9a-f]{6}$"


class Recorded(_Spec, frozen=True, kw_only=True, tag="recorded", tag_field="kind"):
    """One recorded flight (a track file) relocated to the site (``sim.recorded``).

    The window [``from_s``, ``to_s``] of the log (s from its first sample) is
    flown from scenario time ``launch_s``. Its ``anchor`` point (first,
    centroid or last point of the window) is put at ``east_m``/``north_m``, or
    that far from the centre of ``aim_zone``; the track is turned clockwise by
    ``rotate_deg`` about it, or so that its start lies on the bearing
    ``approach_from_deg`` from its end. Heights: ``lowest`` puts the window's
    lowest point ``agl_m`` above the ground, ``ground`` subtracts the log's
    ground altitude ``log_ground_m``, ``constant`` flies at ``agl_m`` (2-D
    tracks). The object is absent inside log gaps longer than ``max_gap_s``.
    ``wind_mps`` (East, North) drifts the flight with a steady wind: its ground
    velocity is the logged one plus the wind, and the anchor keeps its place at its
    moment (the window's start, end, or middle for ``centroid``).
    """

    track: str
    truth_class: TruthClass
    anchor: Literal["first", "centroid", "last"] | None = None
    east_m: float = 0.0
    north_m: float = 0.0
    aim_zone: str | None = None
    rotate_deg: float = 0.0
    approach_from_deg: Annotated[float, msgspec.Meta(ge=0.0, lt=360.0)] | None = None
    launch_s: Annotated[float, msgspec.Meta(ge=-86_400.0, le=86_400.0)] = 0.0
    from_s: NonNeg = 0.0
    to_s: Positive | None = None
    alt_mode: Literal["lowest", "ground", "constant"] = "lowest"
    agl_m: NonNeg = 0.0
    log_ground_m: Alt | None = None
    max_gap_s: Positive = 10.0
    smooth_s: Annotated[float, msgspec.Meta(ge=0.0, le=60.0)] = 0.0
    wind_mps: tuple[
        Annotated[float, msgspec.Meta(ge=-50.0, le=50.0)],
        Annotated[float, msgspec.Meta(ge=-50.0, le=50.0)],
    ] = (0.0, 0.0)
    hostile: bool = False
    radio: bool = False
    remote_id: bool = False
    adsb: bool = False
    icao24: Annotated[str, msgspec.Meta(pattern=_HEX6)] | None = None
    callsign: Annotated[str, msgspec.Meta(pattern="^[A-Z0-9]{1,8}$")] | None = None
    rcs_dbsm: Interval | None = None

    @property
    def count(self) -> int:
        """A recorded entry is always one object."""
        return 1

    @property
    def anchor_point(self) -> str:
        """The anchor actually used: ``last`` when aiming at a zone, else ``first``, unless given."""
        if self.anchor is not None:
            return self.anchor
        return "last" if self.aim_zone is not None else "first"

    def __post_init__(self) -> None:
        if self.to_s is not None and self.to_s <= self.from_s:
            raise ValueError("to_s: must be after from_s")
        if self.alt_mode == "ground" and self.log_ground_m is None:
            raise ValueError("log_ground_m: required with alt_mode 'ground'")
        if self.alt_mode != "ground" and self.log_ground_m is not None:
            raise ValueError("log_ground_m: only with alt_mode 'ground'")
        if self.rcs_dbsm is not None:
            _check_intervals(self, "rcs_dbsm")
        if (self.icao24 is not None or self.callsign is not None) and not self.adsb:
            raise ValueError("icao24/callsign: only with adsb: true")
        if self.approach_from_deg is not None and self.rotate_deg != 0.0:
            raise ValueError("give 'rotate_deg' or 'approach_from_deg', not both")


ObjectGroup = (
    HostileDrone
    | Quadcopter
    | Bird
    | Glider
    | Airliner
    | LightAircraft
    | Helicopter
    | Target
    | Recorded
)


class ScenarioSpec(_Spec, frozen=True, kw_only=True):
    """A whole scenario: site, zones, sensors, objects and default duration."""

    name: str
    description: str = ""
    duration_s: Annotated[float, msgspec.Meta(gt=0.0, le=86_400.0)] = 600.0
    site: SiteSpec
    zones: list[ZoneSpec] = msgspec.field(default_factory=list)
    sensors: Annotated[list[SensorSpec], msgspec.Meta(min_length=1)]
    objects: list[ObjectGroup] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        ids = [s.id for s in self.sensors]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"sensors: duplicate id {dup[0]!r}")
        zone_ids = [z.id for z in self.zones]
        if len(set(zone_ids)) != len(zone_ids):
            raise ValueError("zones: duplicate id")
        for i, g in enumerate(self.objects):
            if isinstance(g, HostileDrone):
                if not self.zones:
                    raise ValueError(f"objects[{i}]: a hostile_drone needs a zone")
                if g.zone is not None and g.zone not in zone_ids:
                    raise ValueError(f"objects[{i}].zone: no zone {g.zone!r}")
            if isinstance(g, Recorded) and g.aim_zone is not None and g.aim_zone not in zone_ids:
                raise ValueError(f"objects[{i}].aim_zone: no zone {g.aim_zone!r}")


_BUILTIN_NAMES = ("single-drone", "swarm", "birds", "airport", "coastal", "mass-raid", "bench")


def builtin_names() -> tuple[str, ...]:
    """Names of the built-in scenarios."""
    return _BUILTIN_NAMES


def spec_from_dict(
    data: object, source: str = "spec", base_dir: str | Path | None = None
) -> ScenarioSpec:
    """Validate plain data (as parsed from YAML/JSON) into a spec; SpecError names the field.

    Relative ``track`` paths of recorded flights are taken from ``base_dir``
    (the spec file's folder; the working directory if None) and made
    absolute; each track file is read and checked here.
    """
    try:
        spec = msgspec.convert(data, ScenarioSpec)
    except msgspec.ValidationError as e:
        raise SpecError(f"{source}: {e}") from None
    return _resolve_tracks(spec, source, None if base_dir is None else Path(base_dir))


def _resolve_tracks(spec: ScenarioSpec, source: str, base_dir: Path | None) -> ScenarioSpec:
    from .recorded import TrackError, check_recorded, read_track, resolve_track_path

    groups: list[ObjectGroup] = []
    for i, g in enumerate(spec.objects):
        if isinstance(g, Recorded):
            path = resolve_track_path(g.track, base_dir).resolve()
            try:
                check_recorded(g, read_track(path))
            except (TrackError, ValueError) as e:
                raise SpecError(f"{source}: {e} - at `$.objects[{i}].track`") from None
            g = msgspec.structs.replace(g, track=str(path))
        groups.append(g)
    return msgspec.structs.replace(spec, objects=groups)


def load_spec(name_or_path: str | Path, targets: int | None = None) -> ScenarioSpec:
    """A built-in scenario by name, or a spec file (``.yaml``/``.yml``/``.json``).

    ``targets`` sizes a scalable built-in (``mass-raid``: that many objects in its
    proportions), or else sets the count of every ``target`` group
    (:func:`with_targets`); ValueError for a scenario that has neither.
    """
    from .builtin import builtin_spec, scales

    name = str(name_or_path)
    if name in _BUILTIN_NAMES:
        if targets is not None and scales(name):
            return builtin_spec(name, targets)
        spec = builtin_spec(name)
        return spec if targets is None else with_targets(spec, targets)
    path = Path(name_or_path)
    if not path.is_file():
        raise SpecError(
            f"{name_or_path}: not a built-in scenario ({', '.join(_BUILTIN_NAMES)}) nor a file"
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise SpecError(f"{path}: not valid YAML/JSON: {e}") from None
    spec = spec_from_dict(data, str(path), path.parent)
    return spec if targets is None else with_targets(spec, targets)


def with_targets(spec: ScenarioSpec, n: int) -> ScenarioSpec:
    """The spec with every ``target`` group set to ``n`` objects; ValueError if it has none."""
    if not any(isinstance(g, Target) for g in spec.objects):
        raise ValueError(f"scenario '{spec.name}' has no 'target' group for --targets")
    groups = [
        msgspec.structs.replace(g, count=n) if isinstance(g, Target) else g for g in spec.objects
    ]
    return msgspec.structs.replace(spec, objects=groups)


def kind_of(group: ObjectGroup) -> str:
    """The ``kind`` tag of an object group."""
    return str(group.__struct_config__.tag)
