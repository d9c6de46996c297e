"""Export a run as a COURAGEOUS format document, the C-UAS trial log of CEN CWA 18150.

CWA 18150:2024 (*Unmanned aircraft systems - Counter UAS - Testing
methodology*) came out of the EU COURAGEOUS project, whose field trials score a
C-UAS system from a log in the "COURAGEOUS format": one JSON document per run,
published as a JSON Schema (draft-07) with a version string, here **0.4.1**
(repository COURAGEOUS-isf/format at df53b2d, ``courageous.schema.json``; guide
at grvc.us.es/courageous). The CWA text itself is a paid CEN document that was
not available to us; every name below is from the published schema, none is
invented. docs/format.md gives the field mapping.

Document members: ``version``, ``system_name``, ``vendor_name``,
``static_cuas_location`` (Position3d: ``lat``, ``lon``, ``height_amsl``),
``tracks`` (Track: ``uas_id``, ``name``, ``records`` of TrackingRecord) and
``detection`` (Detection sets: ``uas_id`` or null, ``name``, ``records`` of
DetectionRecord). A record has ``record_number`` (unique in the document),
``time`` (UTC Unix milliseconds), ``classification`` (Unknown, UAV, GCS, Other),
``identification`` (free text), ``alarm`` (``active``, ``certainty`` 0..1),
``location`` (tagged by ``$type``: Position3d, BearingElevation,
BearingElevationDistance, Bearing, ...), ``velocity`` (CoordENU: ``east``,
``north``, ``up``, m/s) and ``cuas_location`` (a per-record C-UAS position).

Heights: the format's ``height_amsl`` is above mean sea level (EGM96);
skywarden's altitudes are above the WGS-84 ellipsoid. The caller gives the
geoid undulation N at the site (EGM96 height of the geoid above the ellipsoid)
and ``height_amsl = alt_m - N``; N is taken as constant over the site (it
changes by well under a metre over the tens of kilometres a site covers).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..types import AlertLine, Detection, Level, Sensor, Site, TrackLine

FORMAT_VERSION = "0.4.1"

#: skywarden class -> COURAGEOUS classification (no class maps to GCS: only a
#: drone's broadcast operator position does).
CLASSIFICATION = {"drone": "UAV", "bird": "Other", "aircraft": "Other", "helicopter": "Other"}


def _ms(t_s: float) -> int:
    return round(t_s * 1000.0)


@dataclass
class _Numbering:
    """Record numbers (unique per document) and ``uas_id`` s (one per UAS)."""

    next_record: int = 0
    uas_ids: dict[str, int] = field(default_factory=dict)

    def record(self) -> int:
        self.next_record += 1
        return self.next_record

    def uas(self, key: str) -> int:
        return self.uas_ids.setdefault(key, len(self.uas_ids) + 1)


class Cwa18150Export:
    """Builds one COURAGEOUS document from a site, its sensors, detections, tracks and alerts.

    ``geoid_m`` is the EGM96 geoid undulation at the site (metres, ellipsoid
    minus mean sea level). Alerts of ``alarm_level`` or higher, open for a
    track at a record's time, make that record's alarm active.
    """

    def __init__(
        self,
        site: Site,
        sensors: dict[str, Sensor],
        *,
        geoid_m: float,
        system_name: str = "skywarden",
        vendor_name: str = "skywarden project",
        alarm_level: str = "warning",
    ) -> None:
        self.site = site
        self.sensors = sensors
        self.geoid_m = geoid_m
        self.system_name = system_name
        self.vendor_name = vendor_name
        self.alarm_level = Level.of(alarm_level)
        self.skipped: Counter[str] = Counter()
        self._n = _Numbering()

    def _pos3d(self, lat: float, lon: float, alt_m: float, tagged: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"$type": "Position3d"} if tagged else {}
        out.update(height_amsl=alt_m - self.geoid_m, lat=lat, lon=lon)
        return out

    # --- tracks and alarms -----------------------------------------------------------

    def tracks(self, lines: Iterable[TrackLine | AlertLine]) -> list[dict[str, Any]]:
        """Track objects, one per skywarden track id, records in time order."""
        open_alerts: dict[str, dict[str, AlertLine]] = {}  # track -> alert id -> latest event
        tracks: dict[str, dict[str, Any]] = {}
        for line in sorted(lines, key=lambda x: (x.t, isinstance(x, TrackLine))):
            if isinstance(line, AlertLine):
                self._note_alert(open_alerts, line)
                continue
            tr = tracks.get(line.id)
            if tr is None:
                tr = tracks[line.id] = {"uas_id": 0, "name": f"track {line.id}", "records": []}
            tr["uas_id"] = self._n.uas(self._uas_key(line))
            tr["records"].append(self._track_record(line, open_alerts.get(line.id, {})))
        return list(tracks.values())

    def _note_alert(self, open_alerts: dict[str, dict[str, AlertLine]], a: AlertLine) -> None:
        if a.kind == "sensor" or a.track is None:
            return  # a sensor alert is about the system, not UAS activity
        by_id = open_alerts.setdefault(a.track, {})
        if a.state == "cleared":
            by_id.pop(a.id, None)
        else:
            by_id[a.id] = a

    @staticmethod
    def _uas_key(tr: TrackLine) -> str:
        # A cooperative identity names the UAS across track breaks and in the detection
        # sets (the same "remoteid:<id>" / "icao24:<address>" key); otherwise a track is one UAS.
        if tr.identity:
            return ",".join(f"{k}:{v}" for k, v in sorted(tr.identity.items()))
        return f"track:{tr.id}"

    def _track_record(self, tr: TrackLine, alerts: dict[str, AlertLine]) -> dict[str, Any]:
        active = any(Level.of(a.level) >= self.alarm_level for a in alerts.values())
        p_drone = tr.class_p.get("drone", 0.0)
        ident = [f"{tr.class_} p={tr.class_p.get(tr.class_, 0.0):.2f}", tr.status]
        if tr.identity:
            ident.append(", ".join(f"{k} {v}" for k, v in sorted(tr.identity.items())))
        return {
            "record_number": self._n.record(),
            "time": _ms(tr.t),
            "classification": CLASSIFICATION.get(tr.class_, "Unknown"),
            "identification": "; ".join(ident),
            "alarm": {"active": active, "certainty": min(1.0, max(0.0, p_drone))},
            "location": self._pos3d(tr.lat, tr.lon, tr.alt_m, tagged=True),
            "velocity": dict(zip(("east", "north", "up"), tr.vel_enu_mps, strict=True)),
        }

    # --- detections ------------------------------------------------------------------

    def detection_sets(self, detections: Iterable[Detection]) -> list[dict[str, Any]]:
        """Detection sets: one per cooperative identity, one per sensor for anonymous detections."""
        sets: dict[tuple[str, str], dict[str, Any]] = {}
        for d in detections:
            sensor = self.sensors.get(d.sensor)
            if sensor is None:
                self.skipped["detection of an undeclared sensor"] += 1
                continue
            records = self._detection_records(d, sensor)
            if not records:
                self.skipped[f"{sensor.kind} detection without a usable location"] += 1
                continue
            ident = d.uas_id or d.icao24
            key = ("uas", ident) if ident else ("sensor", d.sensor)
            ds = sets.get(key)
            if ds is None:
                uas_key = f"remoteid:{d.uas_id}" if d.uas_id else f"icao24:{d.icao24}"
                ds = sets[key] = {
                    "uas_id": self._n.uas(uas_key) if ident else None,
                    "name": f"{sensor.kind} {ident}" if ident else f"sensor {d.sensor}",
                    "records": [],
                }
            ds["records"].extend(records)
        return list(sets.values())

    def _detection_records(self, d: Detection, sensor: Sensor) -> list[dict[str, Any]]:
        base: dict[str, Any] = {"time": _ms(d.t)}
        if d.lat is not None and d.lon is not None and d.alt_m is not None:
            location = self._pos3d(d.lat, d.lon, d.alt_m, tagged=True)
        elif d.az_deg is not None:
            # Sensor-relative: the record carries the sensor as its C-UAS position.
            base["cuas_location"] = self._pos3d(sensor.lat, sensor.lon, sensor.alt_m)
            if d.range_m is not None and d.el_deg is not None:
                location = {
                    "$type": "BearingElevationDistance",
                    "bearing": d.az_deg,
                    "elevation": d.el_deg,
                    "distance": d.range_m,
                }
            elif d.el_deg is not None:
                location = {"$type": "BearingElevation", "bearing": d.az_deg, "elevation": d.el_deg}
            else:
                location = {"$type": "Bearing", "bearing": d.az_deg}
        else:
            return []
        cls = "UAV" if d.uas_id else ("Other" if d.icao24 else "Unknown")
        rec = {
            "record_number": self._n.record(),
            **base,
            "classification": cls,
            "location": location,
        }
        ident = d.uas_id or d.icao24
        if ident or d.callsign:
            rec["identification"] = " ".join(x for x in (ident, d.callsign) if x)
        vel = _velocity(d)
        if vel is not None:
            rec["velocity"] = vel
        out = [rec]
        if d.operator_lat is not None and d.operator_lon is not None:
            # The pilot's broadcast position: a GCS record in the same set (the
            # COURAGEOUS guide's "intercepting C-UAS" logging). No operator height
            # is broadcast with it, so the site's height is used.
            out.append(
                {
                    "record_number": self._n.record(),
                    "time": _ms(d.t),
                    "classification": "GCS",
                    "identification": f"operator of {ident}" if ident else "operator",
                    "location": self._pos3d(
                        d.operator_lat, d.operator_lon, self.site.alt_m, tagged=True
                    ),
                }
            )
        return out

    # --- the document ----------------------------------------------------------------

    def document(
        self, detections: Iterable[Detection], lines: Iterable[TrackLine | AlertLine]
    ) -> dict[str, Any]:
        """The whole COURAGEOUS document (a JSON-ready dict)."""
        return {
            "version": FORMAT_VERSION,
            "system_name": self.system_name,
            "vendor_name": self.vendor_name,
            "static_cuas_location": self._pos3d(self.site.lat, self.site.lon, self.site.alt_m),
            "detection": self.detection_sets(detections),
            "tracks": self.tracks(lines),
        }


def _velocity(d: Detection) -> dict[str, float] | None:
    """ENU velocity from a cooperative report's ground speed, track and vertical rate."""
    if d.speed_mps is None or d.track_deg is None or d.vrate_mps is None:
        return None
    a = math.radians(d.track_deg)
    return {
        "east": d.speed_mps * math.sin(a),
        "north": d.speed_mps * math.cos(a),
        "up": d.vrate_mps,
    }
