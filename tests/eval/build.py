"""Small, exact scenario and output files for evaluation tests, built in the site ENU frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.scenario import ScenarioWriter
from skywarden.types import AlertLine, Detection, Sensor, Site, TrackLine, TruthPoint, Zone

T0 = 1_767_225_600.0
SITE = Site(name="evaltest", lat=51.0, lon=1.0, alt_m=0.0)
FRAME = LocalFrame.from_site(SITE)


def geo(enu_m) -> tuple[float, float, float]:
    lat, lon, alt = FRAME.to_geodetic(np.asarray(enu_m, dtype=float))
    return float(lat), float(lon), float(alt)


def sensor(sid: str, kind: str, enu_m=(0.0, 0.0, 10.0), **kw) -> Sensor:
    lat, lon, alt = geo(enu_m)
    return Sensor(id=sid, kind=kind, lat=lat, lon=lon, alt_m=alt, **kw)


def zone(zid: str, e0: float, n0: float, e1: float, n1: float, floor_m=-100.0, ceil_m=500.0):
    corners = [(e0, n0), (e1, n0), (e1, n1), (e0, n1)]
    poly = []
    for e, n in corners:
        lat, lon, _ = geo([e, n, 0.0])
        poly.append((lon, lat))
    return Zone(id=zid, name=zid, polygon=poly, floor_m=floor_m, ceiling_m=ceil_m)


def truth_lines(oid: str, cls: str, t_s, pos_enu_m, hostile: bool | None = None):
    """TruthPoint records of one object at times t_s (T,) and ENU positions (T, 3)."""
    lat, lon, alt = FRAME.to_geodetic(np.asarray(pos_enu_m, dtype=float))
    return [
        TruthPoint(
            t=float(t),
            id=oid,
            class_=cls,
            lat=float(a),
            lon=float(b),
            alt_m=float(c),
            hostile=hostile,
        )
        for t, a, b, c in zip(t_s, lat, lon, alt, strict=True)
    ]


def position_detections(sid: str, t_s, pos_enu_m, truth: str | None = None):
    lat, lon, alt = FRAME.to_geodetic(np.asarray(pos_enu_m, dtype=float))
    return [
        Detection(t=float(t), sensor=sid, lat=float(a), lon=float(b), alt_m=float(c), truth=truth)
        for t, a, b, c in zip(t_s, lat, lon, alt, strict=True)
    ]


def radar_detections(s: Sensor, t_s, pos_enu_m, truth: str | None = None):
    geom = SensorGeometry.from_sensor(FRAME, s)
    r, az, el = geom.to_aer(np.asarray(pos_enu_m, dtype=float))
    return [
        Detection(
            t=float(t),
            sensor=s.id,
            range_m=float(a),
            az_deg=float(np.degrees(b)) % 360.0,
            el_deg=float(np.degrees(c)),
            truth=truth,
        )
        for t, a, b, c in zip(t_s, r, az, el, strict=True)
    ]


def track_lines(tid: str, t_s, pos_enu_m, status="confirmed", cls="unknown", pos_std_m=None):
    """TrackLine records; ``status`` and ``cls`` may be a string or one per time."""
    t_s = np.asarray(t_s, dtype=float)
    n = t_s.shape[0]
    status = [status] * n if isinstance(status, str) else list(status)
    cls = [cls] * n if isinstance(cls, str) else list(cls)
    lat, lon, alt = FRAME.to_geodetic(np.asarray(pos_enu_m, dtype=float).reshape(n, 3))
    return [
        TrackLine(
            t=float(t_s[k]),
            id=tid,
            lat=float(lat[k]),
            lon=float(lon[k]),
            alt_m=float(alt[k]),
            vel_enu_mps=(0.0, 0.0, 0.0),
            status=status[k],
            class_=cls[k],
            class_p={cls[k]: 1.0},
            pos_std_m=pos_std_m,
        )
        for k in range(n)
    ]


def alert(
    t_s: float, aid: str, track: str, zone_id: str, state="raised", level="warning", **kw
) -> AlertLine:
    return AlertLine(
        t=float(t_s),
        id=aid,
        level=level,
        state=state,
        track=track,
        zone=zone_id,
        tta_s=0.0,
        **kw,
    )


def write_scenario(path: Path, sensors, zones, records) -> Path:
    """Declarations then detection and truth records, each kind sorted by t."""
    dets = sorted((r for r in records if isinstance(r, Detection)), key=lambda r: r.t)
    truth = sorted((r for r in records if isinstance(r, TruthPoint)), key=lambda r: r.t)
    with ScenarioWriter(path) as w:
        w.write(SITE)
        w.write_all(sensors)
        w.write_all(zones)
        w.write_all(dets)
        w.write_all(truth)
    return path


def write_output(path: Path, records) -> Path:
    with ScenarioWriter(path) as w:
        w.write_all(sorted(records, key=lambda r: r.t))
    return path


def line(p0, v, t_s) -> np.ndarray:
    """Positions (T, 3) of a constant-velocity path through p0 at T0 with velocity v."""
    return (
        np.asarray(p0, float)[None] + np.asarray(v, float)[None] * (np.asarray(t_s) - T0)[:, None]
    )
