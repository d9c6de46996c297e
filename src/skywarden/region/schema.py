"""The messages a site publishes to the region: msgpack-encoded msgspec Structs.

One subject per site and kind, ``skywarden.<site>.<kind>``; every message names
its site and kind again so that a message on the wrong subject is refused. The
schema is documented in docs/region.md; keep the two in step.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from ..types import AlertLine, Alt, Ident, Lat, Lon, NonNeg, Sensor, Time, TrackLine, Zone

__all__ = [
    "KINDS",
    "SITE_ID",
    "AlertsMsg",
    "HeartbeatMsg",
    "SensorStatus",
    "SensorsMsg",
    "SiteMsg",
    "TracksMsg",
    "ZonesMsg",
    "decode",
    "encode",
    "subject",
]

#: A site id is one NATS subject token: no dots, wildcards or spaces.
SITE_ID = r"^[A-Za-z0-9_-]{1,64}$"
SiteId = Annotated[str, msgspec.Meta(pattern=SITE_ID)]
KINDS = ("tracks", "alerts", "sensors", "zones", "heartbeat")
#: The most a message may hold, so a hostile or broken site cannot exhaust the region.
MAX_ITEMS = 10_000
#: Largest encoded message the region decodes (bytes).
MAX_BYTES = 4 * 1024 * 1024


class _Msg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    site: SiteId
    #: Scan or wall time the message is about, UTC seconds.
    t: Time


class TracksMsg(_Msg, frozen=True, tag="tracks"):
    """A site's tracks after one output scan (confirmed, coasting and just deleted).

    ``lat``/``lon``/``alt_m`` is the site's ENU origin: each track's ``vel_enu_mps``
    is along that frame's axes. ``vel_std_mps`` is the one-sigma velocity error the
    site vouches for (a track line carries only its position sigma).
    """

    lat: Lat
    lon: Lon
    alt_m: Alt
    vel_std_mps: NonNeg
    tracks: Annotated[list[TrackLine], msgspec.Meta(max_length=MAX_ITEMS)]


class AlertsMsg(_Msg, frozen=True, tag="alerts"):
    """Alert lifecycle events, in order. Never dropped by the site's outbox."""

    alerts: Annotated[list[AlertLine], msgspec.Meta(max_length=MAX_ITEMS)]


class SensorStatus(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sensor: Sensor
    state: Literal["ok", "silent", "degraded", "unknown"]


class SensorsMsg(_Msg, frozen=True, tag="sensors"):
    sensors: Annotated[list[SensorStatus], msgspec.Meta(max_length=MAX_ITEMS)]


class ZonesMsg(_Msg, frozen=True, tag="zones"):
    zones: Annotated[list[Zone], msgspec.Meta(max_length=MAX_ITEMS)]


class HeartbeatMsg(_Msg, frozen=True, tag="heartbeat"):
    """The site is alive; ``outbox`` messages wait to be sent (0 when caught up)."""

    lat: Lat
    lon: Lon
    alt_m: Alt
    name: Ident
    tracks: Annotated[int, msgspec.Meta(ge=0)]
    outbox: Annotated[int, msgspec.Meta(ge=0)]


SiteMsg = TracksMsg | AlertsMsg | SensorsMsg | ZonesMsg | HeartbeatMsg

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SiteMsg)
_SUBJECT = re.compile(r"^skywarden\.([A-Za-z0-9_-]{1,64})\.([a-z]+)$")


def subject(site: str, kind: str) -> str:
    """The subject a site publishes ``kind`` messages on."""
    return f"skywarden.{site}.{kind}"


def encode(msg: SiteMsg) -> bytes:
    return _encoder.encode(msg)


def decode(subj: str, data: bytes) -> SiteMsg:
    """Decode a message and check it belongs on ``subj``; ValueError says why not."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"message of {len(data)} bytes exceeds {MAX_BYTES}")
    m = _SUBJECT.match(subj)
    if m is None or m.group(2) not in KINDS:
        raise ValueError(f"unexpected subject {subj[:200]!r}")
    try:
        msg = _decoder.decode(data)
    except msgspec.DecodeError as e:
        raise ValueError(f"undecodable message: {e}") from None
    kind = msg.__struct_config__.tag
    if msg.site != m.group(1) or kind != m.group(2):
        raise ValueError(f"a {kind} message of site {msg.site!r} on subject {subj!r}")
    return msg
