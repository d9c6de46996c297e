"""Protected zones as prisms in the site ENU frame (polygon x floor..ceiling).

Polygons arrive as WGS-84 ``[lon, lat]`` vertices and are projected once into
the site's East-North-Up plane, where containment and crossing tests are plain
planar geometry (shapely, vectorised with ``contains_xy``). For a zone within
a few tens of kilometres of the site origin the tangent-plane error is well
under a metre horizontally. Altitudes stay above the WGS-84 ellipsoid, as the
``u`` coordinate of ENU is to within the same curvature error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from ..geodesy import LocalFrame
from ..types import RejectCode, Rejected, Zone


class ZoneError(ValueError):
    """A zone that cannot be used, with the reason."""


@dataclass(frozen=True)
class ZoneGeometry:
    """One zone projected into the site ENU frame.

    Derived once, for the vectorised tests of :mod:`.geometry`: ``ring_enu`` (k + 1, 2)
    the exterior ring's vertices (closed, in shapely's order), ``boundary`` that ring
    as a prepared geometry, and a bounding circle (``centre_enu`` (2,), ``radius_m``)
    that holds every point of the polygon, so that tracks far from it are ruled
    out without looking at any edge.
    """

    zone: Zone
    polygon_enu: Polygon
    floor_u_m: float
    ceiling_u_m: float
    ring_enu: np.ndarray = field(init=False, repr=False)
    boundary: BaseGeometry = field(init=False, repr=False)
    centre_enu: np.ndarray = field(init=False, repr=False)
    radius_m: float = field(init=False)

    def __post_init__(self) -> None:
        ring = np.asarray(self.polygon_enu.exterior.coords, dtype=float)[:, :2]
        lo, hi = ring.min(axis=0), ring.max(axis=0)
        centre = (lo + hi) / 2.0
        boundary = self.polygon_enu.boundary
        shapely.prepare(boundary)
        object.__setattr__(self, "ring_enu", ring)
        object.__setattr__(self, "boundary", boundary)
        object.__setattr__(self, "centre_enu", centre)
        # A polygon lies within the convex hull of its vertices, hence within this circle.
        object.__setattr__(self, "radius_m", float(np.hypot(*(ring - centre).T).max()))

    @property
    def id(self) -> str:
        return self.zone.id


def check_zone(zone: Zone) -> None:
    """Raise :class:`ZoneError` unless ``zone`` is a usable prism.

    The one check of a zone, used by the scenario reader (``validate``,
    ``track``), the site config (``serve``), the GeoJSON codec and the web API:
    finite values, at least 3 distinct vertices, a simple (not self-intersecting)
    polygon of non-zero area that does not cross the antimeridian, and a
    ceiling above the floor.
    """
    try:
        pts = np.asarray(zone.polygon, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ZoneError(f"zone '{zone.id}': vertices must be [lon, lat] numbers") from exc
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ZoneError(f"zone '{zone.id}': vertices must be [lon, lat] numbers")
    if not (
        np.isfinite(pts).all() and math.isfinite(zone.floor_m) and math.isfinite(zone.ceiling_m)
    ):
        raise ZoneError(f"zone '{zone.id}': NaN or infinite coordinate or altitude")
    if len({(float(x), float(y)) for x, y in pts}) < 3:
        raise ZoneError(f"zone '{zone.id}': a polygon needs at least 3 distinct vertices")
    if zone.ceiling_m <= zone.floor_m:
        raise ZoneError(f"zone '{zone.id}': ceiling_m must be above floor_m")
    lon = pts[:, 0]
    # A polygon whose longitudes jump by more than 180 degrees between vertices
    # crosses the antimeridian; in GeoJSON such shapes must be split, and an
    # unsplit one is ambiguous, so it is refused rather than guessed.
    if np.any(np.abs(np.diff(np.append(lon, lon[0]))) > 180.0):
        raise ZoneError(
            f"zone '{zone.id}': polygon crosses the antimeridian; split it into two zones"
        )
    # Area on a local equirectangular plane: exact enough to tell zero from a zone.
    lat0 = math.radians(float(pts[:, 1].mean()))
    plane = np.column_stack((lon * _M_PER_DEG * math.cos(lat0), pts[:, 1] * _M_PER_DEG))
    poly = Polygon(plane)
    # A bow-tie's signed areas cancel: tell it from a flat polygon by its repaired area.
    area = poly.area if poly.is_valid else shapely.make_valid(poly).area
    if area < _MIN_AREA_M2:
        raise ZoneError(f"zone '{zone.id}': polygon has no area")
    if not poly.is_valid:
        raise ZoneError(
            f"zone '{zone.id}': polygon is self-intersecting ({shapely.is_valid_reason(poly)})"
        )


def check_zones(zones: Iterable[Zone]) -> None:
    """:func:`check_zone` on each, and no two zones with one id."""
    seen: set[str] = set()
    for z in zones:
        check_zone(z)
        if z.id in seen:
            raise ZoneError(f"zone '{z.id}' is declared twice")
        seen.add(z.id)


_M_PER_DEG = 111_195.0
_MIN_AREA_M2 = 1.0


class ZoneSet:
    """All protected zones of a site, with vectorised containment tests."""

    def __init__(self, zones: list[Zone], frame: LocalFrame) -> None:
        self.frame = frame
        geoms: list[ZoneGeometry] = []
        for z in zones:
            check_zone(z)
            pts = np.asarray(z.polygon, dtype=float)
            enu = frame.to_enu(pts[:, 1], pts[:, 0], np.full(len(pts), z.floor_m))
            poly = Polygon(enu[:, :2])
            if not poly.is_valid:
                poly = shapely.make_valid(poly)
                if poly.geom_type != "Polygon":
                    raise ZoneError(f"zone '{z.id}': polygon is self-intersecting")
            shapely.prepare(poly)
            # ENU "up" is zero at the site altitude; zone limits are ellipsoidal.
            geoms.append(ZoneGeometry(z, poly, z.floor_m - frame.alt_m, z.ceiling_m - frame.alt_m))
        self.zones: tuple[ZoneGeometry, ...] = tuple(geoms)
        # Every zone's edges as one array (Z, E, 2), for tests on (track, zone) pairs of
        # any zones at once; shorter rings are padded with zero-length edges at their
        # last vertex, which no ray crosses (``edge_count`` (Z,) tells the real ones).
        self.edge_count = np.array([len(g.ring_enu) - 1 for g in geoms], np.int64)
        e_max = int(self.edge_count.max(initial=0))
        self.edge_a = np.zeros((len(geoms), e_max, 2))
        self.edge_b = np.zeros((len(geoms), e_max, 2))
        for j, g in enumerate(geoms):
            k = len(g.ring_enu) - 1
            self.edge_a[j, :k], self.edge_b[j, :k] = g.ring_enu[:-1], g.ring_enu[1:]
            self.edge_a[j, k:] = self.edge_b[j, k:] = g.ring_enu[-1]
        self.floor_u_m = np.array([g.floor_u_m for g in geoms])
        self.ceiling_u_m = np.array([g.ceiling_u_m for g in geoms])
        self.centre_enu = np.array([g.centre_enu for g in geoms]).reshape(-1, 2)
        self.radius_m = np.array([g.radius_m for g in geoms])

    def __len__(self) -> int:
        return len(self.zones)

    def __iter__(self):
        return iter(self.zones)

    @property
    def ids(self) -> list[str]:
        return [z.id for z in self.zones]

    def contains(self, pos_enu_m: np.ndarray) -> np.ndarray:
        """Which points (n, 3) lie in which zone: bool (n, n_zones), floor and ceiling inclusive."""
        p = np.atleast_2d(np.asarray(pos_enu_m, dtype=float))
        out = np.zeros((p.shape[0], len(self.zones)), dtype=bool)
        for j, z in enumerate(self.zones):
            inside_h = shapely.contains_xy(z.polygon_enu, p[:, 0], p[:, 1]) | shapely.intersects_xy(
                z.boundary, p[:, 0], p[:, 1]
            )
            out[:, j] = inside_h & (p[:, 2] >= z.floor_u_m) & (p[:, 2] <= z.ceiling_u_m)
        return out


def load_geojson(path: str | os.PathLike[str]) -> list[Zone]:
    """Zones from a GeoJSON file: a FeatureCollection (or one Feature) of Polygons.

    Each feature is read by :func:`feature_to_zones`; ids default to
    ``zone<k>`` for the k-th feature. Raises :class:`ZoneError` naming the
    feature that is wrong, or two features with one id.
    """
    try:
        doc = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError, RecursionError) as exc:
        raise ZoneError(f"{path}: cannot read GeoJSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ZoneError(f"{path}: not a GeoJSON object")
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    if not isinstance(feats, list):
        raise ZoneError(f"{path}: FeatureCollection without a features list")
    zones: list[Zone] = []
    for k, f in enumerate(feats):
        try:
            zones += feature_to_zones(f, default_id=f"zone{k + 1}")
        except ZoneError as exc:
            raise ZoneError(f"{path}: feature {k}: {exc}") from exc
    try:
        check_zones(zones)
    except ZoneError as exc:
        raise ZoneError(f"{path}: {exc}") from exc
    return zones


class _Props(msgspec.Struct):
    floor_m: float
    ceiling_m: float
    name: str | None = None
    priority: int | None = None
    id: str | int | None = None


def feature_to_zones(
    feature: Any, zone_id: str | None = None, *, default_id: str | None = None
) -> list[Zone]:
    """A GeoJSON Feature -> its zones: the one codec of zones from GeoJSON.

    ``properties`` give ``floor_m`` and ``ceiling_m`` (metres above the WGS-84
    ellipsoid), optional ``name`` (default: the id) and ``priority`` (1
    highest). The id is ``zone_id`` if given, else ``properties.id``, else the
    Feature's ``id``, else ``default_id``. A Polygon gives one zone; a
    MultiPolygon one per part (``<id>-<k>``, or just ``<id>`` for one part).
    Holes are refused: a zone is a simple prism. Every zone passes
    :func:`check_zone`. Raises :class:`ZoneError` with the reason.
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ZoneError("not a GeoJSON Feature")
    geom = feature.get("geometry")
    try:
        props = msgspec.convert(feature.get("properties") or {}, _Props)
    except msgspec.ValidationError as exc:
        raise ZoneError(f"zone properties: {exc}") from exc
    fid = feature.get("id")
    if fid is not None and (isinstance(fid, bool) or not isinstance(fid, (str, int, float))):
        raise ZoneError("a Feature's id must be a string or a number")
    zid = zone_id or props.id or fid or default_id
    if zid is None or zid == "":
        raise ZoneError("zone has no id")
    zid = str(zid)
    gtype = geom.get("type") if isinstance(geom, dict) else None
    coords = geom.get("coordinates") if isinstance(geom, dict) else None
    if gtype == "Polygon":
        parts = [coords]
    elif gtype == "MultiPolygon" and isinstance(coords, list):
        parts = coords
    else:
        raise ZoneError(f"zone '{zid}': geometry must be a Polygon or MultiPolygon")
    if not parts:
        raise ZoneError(f"zone '{zid}': empty polygon")
    zones = []
    for m, rings in enumerate(parts):
        if not isinstance(rings, list) or not rings:
            raise ZoneError(f"zone '{zid}': empty polygon")
        if len(rings) > 1:
            raise ZoneError(f"zone '{zid}': polygons with holes are not supported")
        ring = rings[0]
        if not isinstance(ring, list) or not all(
            isinstance(pt, list) and len(pt) >= 2 for pt in ring
        ):
            raise ZoneError(f"zone '{zid}': every vertex needs [lon, lat]")
        ring = [pt[:2] for pt in ring]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring = ring[:-1]  # GeoJSON rings repeat the first vertex
        part_id = zid if len(parts) == 1 else f"{zid}-{m + 1}"
        try:
            z = msgspec.convert(
                {
                    "id": part_id,
                    "name": props.name if props.name is not None else zid,
                    "polygon": ring,
                    "floor_m": props.floor_m,
                    "ceiling_m": props.ceiling_m,
                    "priority": props.priority,
                },
                Zone,
            )
        except msgspec.ValidationError as exc:
            raise ZoneError(f"zone '{part_id}': {exc}") from exc
        check_zone(z)
        zones.append(z)
    return zones


def feature_to_zone(feature: Any, zone_id: str | None = None) -> Zone | Rejected:
    """One zone from a GeoJSON Feature (as the web API and the store take it), or the rejection.

    The same codec as :func:`feature_to_zones`; a Feature that makes more
    than one zone (a MultiPolygon of several parts) is refused here.
    """
    try:
        zones = feature_to_zones(feature, zone_id)
    except ZoneError as exc:
        return Rejected(code=RejectCode.INVALID, reason=str(exc))
    if len(zones) != 1:
        return Rejected(code=RejectCode.UNSUPPORTED, reason=f"a MultiPolygon of {len(zones)} parts is {len(zones)} zones; "
                        "send one Polygon per zone")  # fmt: skip
    return zones[0]
