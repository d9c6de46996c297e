"""Typed messages that travel between stages, and the scenario-file records.

Field names match the JSON Lines keys of ``docs/format.md`` exactly, so that a
record encodes to a scenario line and back with no mapping table. Units are in
the names: ``*_m`` metres, ``*_deg`` degrees (geodetic and human-facing angles
only), ``*_mps`` metres per second, ``t`` UTC seconds since the POSIX epoch.
Altitudes (``alt_m``, ``floor_m``, ``ceiling_m``) are above the WGS-84 ellipsoid.

The per-line value checks (latitude in range, range non-negative, finite
numbers) live here as ``msgspec.Meta`` constraints, so a decoder that builds one
of these structs has validated it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
import numpy as np

Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
# Altitudes from the Dead Sea shore to well above any airliner's ceiling.
Alt = Annotated[float, msgspec.Meta(ge=-1_000.0, le=100_000.0)]
Time = Annotated[float, msgspec.Meta(ge=0.0, le=1.0e11)]
NonNeg = Annotated[float, msgspec.Meta(ge=0.0, le=1.0e9)]
Positive = Annotated[float, msgspec.Meta(gt=0.0, le=1.0e9)]
# Azimuths are accepted in (-360, 360] and wrapped into [0, 360) by the reader.
AzDeg = Annotated[float, msgspec.Meta(ge=-360.0, le=360.0)]
ElDeg = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Speed = Annotated[float, msgspec.Meta(ge=-2_000.0, le=2_000.0)]
Prob = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Finite = Annotated[float, msgspec.Meta(ge=-1.0e9, le=1.0e9)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
#: An ADS-B emitter category as DO-260B codes it and decoders print it: the type code's
#: set (A: TC 4, B: TC 3, C: TC 2, D: TC 1) and the category number 1-7 (``A7`` rotorcraft,
#: ``B1`` glider, ``B6`` UAV). Number 0, "no information", is not sent.
EmitterCat = Annotated[str, msgspec.Meta(pattern="^[A-D][1-7]$")]
#: A site's track as the region names it, ``site/track`` (a site id and an Ident).
MemberId = Annotated[str, msgspec.Meta(min_length=3, max_length=64 + 1 + 128)]
#: Most sites one regional track names (a regional track takes one member per site).
MAX_TRACK_SITES = 10_000

SensorKind = Literal["radar", "rf", "camera", "remoteid", "adsb", "position"]
SENSOR_KINDS: tuple[str, ...] = ("radar", "rf", "camera", "remoteid", "adsb", "position")
#: Sensor kinds that give a bearing to an object, not its position.
BEARING_KINDS: tuple[str, ...] = ("rf", "camera")
TruthClass = Literal["drone", "bird", "aircraft", "helicopter", "unknown"]
TRUTH_CLASSES: tuple[TruthClass, ...] = ("drone", "bird", "aircraft", "helicopter", "unknown")

#: Detection keys that each sensor kind must give (docs/format.md).
REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "radar": ("range_m", "az_deg", "el_deg"),
    "rf": ("az_deg",),
    "camera": ("az_deg", "el_deg"),
    # A Location broadcast without any Basic ID is reported without ``uas_id`` (anonymous).
    "remoteid": ("lat", "lon", "alt_m"),
    "adsb": ("icao24", "lat", "lon", "alt_m"),
    "position": ("lat", "lon", "alt_m"),
}


class _Record(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    tag_field="type",
):
    """Base of every scenario line; ``type`` is the tag."""


class Site(_Record, frozen=True, tag="site"):
    """Origin of the site's local East-North-Up frame."""

    name: Ident
    lat: Lat
    lon: Lon
    alt_m: Alt


class FieldOfView(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Angular coverage about the sensor, degrees. ``az_min_deg > az_max_deg`` wraps through north."""

    az_min_deg: AzDeg = 0.0
    az_max_deg: AzDeg = 360.0
    el_min_deg: ElDeg = -90.0
    el_max_deg: ElDeg = 90.0


class Sensor(_Record, frozen=True, tag="sensor"):
    """A sensor's position, kind, coverage and noise (one-sigma values)."""

    id: Ident
    kind: SensorKind
    lat: Lat
    lon: Lon
    alt_m: Alt
    pd: Prob | None = None
    update_s: Positive | None = None
    max_range_m: Positive | None = None
    fov: FieldOfView | None = None
    sigma_range_m: NonNeg | None = None
    sigma_az_deg: NonNeg | None = None
    sigma_el_deg: NonNeg | None = None
    sigma_range_rate_mps: NonNeg | None = None
    sigma_pos_m: NonNeg | None = None


class Zone(_Record, frozen=True, tag="zone"):
    """A protected volume: a polygon of ``[lon, lat]`` vertices between two altitudes."""

    id: Ident
    name: str
    polygon: list[tuple[Lon, Lat]]
    floor_m: Alt
    ceiling_m: Alt
    priority: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class Detection(_Record, frozen=True, tag="detection"):
    """One measurement by one sensor at the time ``t`` it was made.

    Which fields are set depends on the sensor's kind (``REQUIRED_BY_KIND``).
    Range rate is positive when the object recedes.
    """

    t: Time
    sensor: Ident
    range_m: NonNeg | None = None
    az_deg: AzDeg | None = None
    el_deg: ElDeg | None = None
    range_rate_mps: Speed | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    alt_m: Alt | None = None
    uas_id: Ident | None = None
    icao24: Ident | None = None
    callsign: str | None = None
    emitter_cat: EmitterCat | None = None
    operator_lat: Lat | None = None
    operator_lon: Lon | None = None
    speed_mps: Speed | None = None
    track_deg: AzDeg | None = None
    vrate_mps: Speed | None = None
    snr_db: Finite | None = None
    rcs_dbsm: Finite | None = None
    id: Ident | None = None
    # Simulator only: the truth object that caused this detection (absent for
    # clutter). For evaluation; the tracker never reads it.
    truth: Ident | None = None


class TruthPoint(_Record, frozen=True, tag="truth"):
    """Where a real object was at time ``t`` (for evaluation only)."""

    t: Time
    id: Ident
    class_: TruthClass = msgspec.field(name="class")
    lat: Lat
    lon: Lon
    alt_m: Alt
    hostile: bool | None = None
    vel_enu_mps: tuple[Speed, Speed, Speed] | None = None


Record = Site | Sensor | Zone | Detection | TruthPoint
RECORD_TYPES: dict[str, type[_Record]] = {
    "site": Site,
    "sensor": Sensor,
    "zone": Zone,
    "detection": Detection,
    "truth": TruthPoint,
}


class RejectCode(enum.StrEnum):
    """What kind of refusal a rejection is: the ``reason`` label of ``/metrics``.

    A few stable values, so that metrics stay bounded whatever the input; the
    particulars (which sensor, which field, which byte) are in :attr:`Rejected.reason`.
    """

    #: Not parseable as its format (JSON, hex, AVR, Beast or ASTERIX framing, a capture).
    SYNTAX = "syntax"
    #: Cut short: a record, message or file ends before its declared length.
    TRUNCATED = "truncated"
    #: Over a bound on size, length, count or nesting.
    TOO_LARGE = "too_large"
    #: Parsed, but a field is missing, of the wrong type or out of range.
    INVALID = "invalid"
    #: A checksum or parity check failed.
    CHECKSUM = "checksum"
    #: Refers to a sensor nobody declared.
    UNKNOWN_SENSOR = "unknown_sensor"
    #: Contradicts what is already declared (a sensor, site or zone redeclared differently).
    CONFLICT = "conflict"
    #: A well-formed message of a kind, category or version that is not decoded.
    UNSUPPORTED = "unsupported"
    #: Well-formed but carries nothing to track (test, simulated or field-monitor
    #: reports, a position not yet resolvable).
    NO_DETECTION = "no_detection"
    #: The sender may not do this (listener policy, registration limits, connection limit).
    REFUSED = "refused"
    #: Over the sender's rate limit.
    RATE_LIMIT = "rate_limit"
    #: Missing or wrong shared secret.
    AUTH = "auth"
    #: A bug met this input; it cost the one message.
    INTERNAL = "internal"
    #: The producer gave no code (the SAPIENT and Remote ID UDP readers, zone codecs).
    UNCLASSIFIED = "unclassified"


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    """A line or message that was refused: ``code`` what kind of refusal, ``reason``
    the human-readable text with its particulars, and where it came from."""

    reason: str
    code: RejectCode = RejectCode.UNCLASSIFIED
    line: int | None = None
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class DetectionBatch:
    """One sensor's detections at one scan, in columns for the vectorised hot paths.

    ``t_s`` (n,) measurement times, UTC seconds. ``z`` (n, m) the measurements in
    SI units for the sensor kind: radar ``[range_m, az_rad, el_rad(, range_rate_mps)]``,
    rf ``[az_rad]`` (or ``[az_rad, el_rad]``), camera ``[az_rad, el_rad]``, and
    position-like kinds ``[e_m, n_m, u_m]`` in the site ENU frame. ``identity`` (n,)
    holds the cooperative id (``uas_id`` or ``icao24``) or ``""``. ``snr_db`` and
    ``rcs_dbsm`` (n,) are NaN where not given.
    """

    sensor: str
    kind: str
    t_s: np.ndarray
    z: np.ndarray
    identity: np.ndarray
    snr_db: np.ndarray
    rcs_dbsm: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


# --- Output lines (docs/format.md "Output files") -----------------------

TrackStatus = Literal["tentative", "confirmed", "coasting", "deleted"]
TRACK_STATUSES: tuple[str, ...] = ("tentative", "confirmed", "coasting", "deleted")
AlertLevel = Literal["info", "warning", "critical"]
AlertState = Literal["raised", "updated", "cleared"]
#: What a ``sensor`` alert event is about: a sensor fell silent or is heard again, an
#: outbound link stopped delivering or delivers again.
SensorCause = Literal[
    "sensor_silent",
    "sensor_heard",
    "link_failing",
    "link_delivering",
    "engine_stopped",
    "engine_running",
]


class Level(enum.IntEnum):
    """Alert levels in rising severity; the one ordering every stage uses."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @classmethod
    def of(cls, name: str) -> Level:
        """The level named ``name`` (``"info"``, ``"warning"``, ``"critical"``)."""
        return cls[name.upper()]

    @property
    def label(self) -> AlertLevel:
        """The name written in alert lines."""
        return self.name.lower()  # type: ignore[return-value]


class Identity(msgspec.Struct, frozen=True):
    """A cooperative identity: what kind of broadcast names the object, and the name.

    ``kind`` is ``"remoteid"`` (a UAS serial) or ``"icao24"`` (a lower-case hex
    address). ``str()`` gives ``"kind:value"``, the key the classifier matches on.
    """

    kind: Literal["remoteid", "icao24"]
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def present(identity: np.ndarray) -> np.ndarray:
    """Which entries (n,) bool of an object array of identities are set (not ``None``)."""
    # Elementwise against None (numpy's typing has no overload for np.not_equal(a, None)).
    return np.asarray(identity != None)  # noqa: E711


class TrackLine(_Record, frozen=True, tag="track"):
    """One track at one processed scan time, as written by ``skywarden track``.

    ``identity`` is ``{"remoteid": serial}`` or ``{"icao24": address}`` when
    cooperative; ``pos_std_m`` is the one-sigma position error (root of the mean
    of the three position variances).
    """

    t: Time
    id: Ident
    lat: Lat
    lon: Lon
    alt_m: Alt
    vel_enu_mps: tuple[Speed, Speed, Speed]
    status: TrackStatus
    class_: str = msgspec.field(name="class")
    class_p: dict[str, float]
    identity: dict[str, str] | None = None
    pos_std_m: NonNeg | None = None
    #: A regional track's only (absent on a site's own): the sites that see it now, and
    #: each one's own track as ``site/track``.
    sites: Annotated[tuple[Ident, ...], msgspec.Meta(max_length=MAX_TRACK_SITES)] | None = None
    members: Annotated[tuple[MemberId, ...], msgspec.Meta(max_length=MAX_TRACK_SITES)] | None = None


class AlertLine(_Record, frozen=True, tag="alert"):
    """An alert lifecycle event. ``kind`` is ``"threat"`` (the default) or ``"sensor"``.

    Threat alerts name ``track``, ``zone`` and ``tta_s`` (0 when inside); sensor
    alerts name ``sensor`` instead.
    """

    t: Time
    id: Ident
    level: AlertLevel
    state: AlertState
    kind: Literal["threat", "sensor"] | None = None
    track: Ident | None = None
    zone: Ident | None = None
    tta_s: NonNeg | None = None
    entry_lat: Lat | None = None
    entry_lon: Lon | None = None
    class_: str | None = msgspec.field(name="class", default=None)
    reason: str | None = None
    sensor: Ident | None = None
    #: Seconds since the object was first alerted for this zone, on an alert that
    #: stays open because the object keeps coming back (loitering).
    dwell_s: NonNeg | None = None
    #: Sensor alerts: what happened, as a code a reader words in its own language
    #: (``reason`` says the same in English, with particulars).
    cause: SensorCause | None = None
    #: Sensor alerts raised for silence: seconds since the sensor was last heard.
    silent_s: NonNeg | None = None


OutputRecord = TrackLine | AlertLine


@dataclass(frozen=True, slots=True)
class ScanOutput:
    """Everything one scan produced: the tracks to show and the alert lifecycle events.

    The message from the engine to every consumer (live state, store, sinks).
    """

    t_s: float
    tracks: tuple[TrackLine, ...]
    alerts: tuple[AlertLine, ...]


class SinkState(enum.Enum):
    """Whether an outbound link delivers."""

    OK = "ok"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class SinkHealth:
    """An outbound link's health: ``state``, the last error, and how many alert
    events wait for delivery (they are kept, never dropped)."""

    state: SinkState
    last_error: str | None = None
    alerts_pending: int = 0


# --- The site registry's change events (registry -> stages, one way) ---------


@dataclass(frozen=True, slots=True)
class SensorDeclared:
    """A sensor was declared or redeclared (config, a sensor line, a SAPIENT registration)."""

    sensor: Sensor


@dataclass(frozen=True, slots=True)
class ZonesReplaced:
    """The protected zones were replaced as a whole (an operator's edit)."""

    zones: tuple[Zone, ...]


SiteEvent = SensorDeclared | ZonesReplaced


# --- Between tracker, classifier and threat stages (in memory) ---------------

#: Integer codes of ``TrackTable.status``, index into TRACK_STATUSES.
TENTATIVE, CONFIRMED, COASTING, DELETED = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class TrackTable:
    """Every track the tracker holds after one scan, as columns (n tracks).

    ``t_s`` the scan time (UTC seconds) all states are predicted to.
    ``id`` (n,) int64 track numbers, unique for the run, never reused.
    ``status`` (n,) int8 codes TENTATIVE/CONFIRMED/COASTING/DELETED (a deleted
    track appears once, in the scan where it is deleted).
    ``x`` (n, 6) state in the site ENU frame: ``[e_m, n_m, u_m, ve_mps, vn_mps, vu_mps]``.
    ``P`` (n, 6, 6) its covariance. ``identity`` (n,) object: an :class:`Identity`,
    or ``None`` for a non-cooperative track. ``n_updates`` (n,) measurements used so far;
    ``t_first_s`` / ``t_last_update_s`` (n,) first and latest update times.
    ``mode_p`` (n, m) IMM mode probabilities (m = 1 when the tracker has no IMM).
    ``t_fix_s`` (n,) the latest update that fixed the position (a position-giving
    sensor, or bearings of two sensors crossing), ``None`` when not known.
    """

    t_s: float
    id: np.ndarray
    status: np.ndarray
    x: np.ndarray
    P: np.ndarray
    identity: np.ndarray
    n_updates: np.ndarray
    t_first_s: np.ndarray
    t_last_update_s: np.ndarray
    mode_p: np.ndarray
    t_fix_s: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.id.shape[0])


@dataclass(frozen=True, slots=True)
class Association:
    """Which detections updated which tracks in one scan.

    ``track_id`` (k,) int64 and ``detections`` (k,) the Detection that updated it,
    with ``kinds`` (k,) its sensor's kind. Used by the classifier (RCS, SNR, which
    sensors see a track) and by the spoof check (Remote ID vs sensed position).
    """

    track_id: np.ndarray
    detections: tuple[Detection, ...]
    kinds: tuple[str, ...]


def track_label(track_id: int) -> str:
    """The external id of a track number, as written in output lines (``T<n>``)."""
    return f"T{int(track_id)}"


def track_number(label: str) -> int | None:
    """The track number of an external id ``T<n>`` (``None`` for anything else)."""
    digits = label[1:]
    if label[:1] != "T" or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)


#: Classifier output classes, in the column order of class-probability arrays.
CLASSES: tuple[str, ...] = ("drone", "bird", "aircraft", "helicopter", "unknown")
