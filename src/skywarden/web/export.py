"""Export a stored time range as CSV, GeoJSON or KML.

CSV: one row per track line or alert event (``type`` column), times as UTC
seconds and ISO-8601. GeoJSON (RFC 7946): one ``LineString`` per track with
``[lon, lat, alt_m]`` vertices and their ``times``, and one ``Point`` per alert
event (at its entry point, else at its track's position nearest in time).
KML 2.2: the same, as Placemarks in two Folders, with ``TimeSpan``/``TimeStamp``.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from ..store import History
from ..types import AlertLine, TrackLine

CSV_COLUMNS: tuple[str, ...] = (
    "type",
    "t",
    "time_utc",
    "id",
    "track",
    "lat",
    "lon",
    "alt_m",
    "ve_mps",
    "vn_mps",
    "vu_mps",
    "status",
    "class",
    "level",
    "state",
    "zone",
    "tta_s",
)
KML_NS = "http://www.opengis.net/kml/2.2"


def _iso(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat(timespec="milliseconds")


def _by_track(tracks: list[TrackLine]) -> dict[str, list[TrackLine]]:
    out: dict[str, list[TrackLine]] = defaultdict(list)
    for tl in tracks:
        out[tl.id].append(tl)
    return out


def _alert_position(
    a: AlertLine, by_track: dict[str, list[TrackLine]]
) -> tuple[float, float] | None:
    """``(lon, lat)`` of an alert: its entry point, else its track's line nearest in time."""
    if a.entry_lat is not None and a.entry_lon is not None:
        return a.entry_lon, a.entry_lat
    lines = by_track.get(a.track or "")
    if not lines:
        return None
    times = [tl.t for tl in lines]
    i = min(bisect.bisect_left(times, a.t), len(lines) - 1)
    if i > 0 and abs(times[i - 1] - a.t) < abs(times[i] - a.t):
        i -= 1
    return lines[i].lon, lines[i].lat


def to_csv(h: History) -> str:
    """Rows of ``CSV_COLUMNS``: track lines then alert events, each in time order."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for tl in h.tracks:
        ve, vn, vu = tl.vel_enu_mps
        w.writerow(
            {
                "type": "track",
                "t": f"{tl.t:.3f}",
                "time_utc": _iso(tl.t),
                "id": tl.id,
                "track": tl.id,
                "lat": f"{tl.lat:.7f}",
                "lon": f"{tl.lon:.7f}",
                "alt_m": f"{tl.alt_m:.1f}",
                "ve_mps": f"{ve:.2f}",
                "vn_mps": f"{vn:.2f}",
                "vu_mps": f"{vu:.2f}",
                "status": tl.status,
                "class": tl.class_,
            }
        )
    for a in h.alerts:
        w.writerow(
            {
                "type": "alert",
                "t": f"{a.t:.3f}",
                "time_utc": _iso(a.t),
                "id": a.id,
                "track": a.track or "",
                "lat": "" if a.entry_lat is None else f"{a.entry_lat:.7f}",
                "lon": "" if a.entry_lon is None else f"{a.entry_lon:.7f}",
                "class": a.class_ or "",
                "level": a.level,
                "state": a.state,
                "zone": a.zone or a.sensor or "",
                "tta_s": "" if a.tta_s is None else f"{a.tta_s:.1f}",
            }
        )
    return buf.getvalue()


def to_geojson(h: History) -> dict[str, Any]:
    """A FeatureCollection: a LineString per track, a Point per placeable alert event."""
    by_track = _by_track(h.tracks)
    feats: list[dict[str, Any]] = []
    for tid, lines in by_track.items():
        coords = [[tl.lon, tl.lat, tl.alt_m] for tl in lines]
        geom = (
            {"type": "LineString", "coordinates": coords}
            if len(coords) > 1
            else {"type": "Point", "coordinates": coords[0]}
        )
        feats.append(
            {
                "type": "Feature",
                "id": tid,
                "geometry": geom,
                "properties": {
                    "kind": "track",
                    "class": lines[-1].class_,
                    "t_start": lines[0].t,
                    "t_end": lines[-1].t,
                    "times": [tl.t for tl in lines],
                },
            }
        )
    for a in h.alerts:
        pos = _alert_position(a, by_track)
        if pos is None:
            continue
        props = {
            k: v
            for k, v in {
                "kind": "alert",
                "alert": a.id,
                "t": a.t,
                "time_utc": _iso(a.t),
                "level": a.level,
                "state": a.state,
                "track": a.track,
                "zone": a.zone,
                "tta_s": a.tta_s,
                "class": a.class_,
            }.items()
            if v is not None
        }
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(pos)},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def to_kml(h: History, name: str = "skywarden export") -> bytes:
    """A KML 2.2 document (UTF-8): folders "Tracks" (LineStrings) and "Alerts" (Points)."""
    ET.register_namespace("", KML_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        e = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
        if text is not None:
            e.text = text
        return e

    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = sub(root, "Document")
    sub(doc, "name", name)
    by_track = _by_track(h.tracks)
    tracks = sub(doc, "Folder")
    sub(tracks, "name", "Tracks")
    for tid, lines in by_track.items():
        pm = sub(tracks, "Placemark")
        sub(pm, "name", f"{tid} ({lines[-1].class_})")
        span = sub(pm, "TimeSpan")
        sub(span, "begin", _iso(lines[0].t))
        sub(span, "end", _iso(lines[-1].t))
        coords = " ".join(f"{tl.lon:.7f},{tl.lat:.7f},{tl.alt_m:.1f}" for tl in lines)
        if len(lines) > 1:
            geom = sub(pm, "LineString")
            sub(geom, "altitudeMode", "absolute")
        else:
            geom = sub(pm, "Point")
        sub(geom, "coordinates", coords)
    alerts = sub(doc, "Folder")
    sub(alerts, "name", "Alerts")
    for a in h.alerts:
        pos = _alert_position(a, by_track)
        if pos is None:
            continue
        pm = sub(alerts, "Placemark")
        sub(pm, "name", f"{a.id} {a.level} {a.state}")
        what = f"track {a.track} zone {a.zone}" if a.track else f"sensor {a.sensor}"
        tta = "" if a.tta_s is None else f", time to arrival {a.tta_s:.0f} s"
        sub(pm, "description", f"{what}{tta}")
        ts = sub(pm, "TimeStamp")
        sub(ts, "when", _iso(a.t))
        pt = sub(pm, "Point")
        sub(pt, "coordinates", f"{pos[0]:.7f},{pos[1]:.7f}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
