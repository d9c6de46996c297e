"""Protected zones as prisms in the site ENU frame (polygon x floor..ceiling).

Polygons arrive as WGS-84 ``[lon, lat]`` vertices and are projected once into
the site's East-North-Up plane, where containment and crossing tests are plain
planar geometry (shapely, vectorised with ``contains_xy``). For a zone within
a few tens of kilometres of the site origin the tangent-plane error is well
under a metre horizontally. Altitudes stay above the WGS-84 ellipsoid, as the
``u`` coordinate of ENU is to within the same curvature error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import shapely
from shapely.geometry import Polygon

from ..geodesy import LocalFrame
from ..types import Zone


class ZoneError(ValueError):
    """A zone that cannot be used, with the reason."""


@dataclass(frozen=True)
class ZoneGeometry:
    """One zone projected into the site ENU frame."""

    zone: Zone
    polygon_enu: Polygon
    floor_u_m: float
    ceiling_u_m: float

    @property
    def id(self) -> str:
        return self.zone.id


def _check(zone: Zone) -> None:
    pts = np.asarray(zone.polygon, dtype=float)
    if pts.ndim != 2 or pts.shape[0] < 3:
        raise ZoneError(f"zone '{zone.id}': a polygon needs at least 3 vertices")
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


class ZoneSet:
    """All protected zones of a site, with vectorised containment tests."""

    def __init__(self, zones: list[Zone], frame: LocalFrame) -> None:
        self.frame = frame
        geoms: list[ZoneGeometry] = []
        for z in zones:
            _check(z)
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
                z.polygon_enu.boundary, p[:, 0], p[:, 1]
            )
            out[:, j] = inside_h & (p[:, 2] >= z.floor_u_m) & (p[:, 2] <= z.ceiling_u_m)
        return out


def load_geojson(path: str | os.PathLike[str]) -> list[Zone]:
    """Zones from a GeoJSON file: a FeatureCollection (or one Feature) of Polygons.

    Each feature's ``properties`` give ``name``, ``floor_m`` and ``ceiling_m``
    (metres above the WGS-84 ellipsoid), optional ``priority`` (1 highest) and
    ``id`` (else the feature's own ``id``, else ``zone<k>``). A MultiPolygon
    gives one zone per part (``<id>-<k>``). Holes are refused: a zone is a
    simple prism. Raises :class:`ZoneError` naming the feature that is wrong.
    """
    try:
        doc = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise ZoneError(f"{path}: cannot read GeoJSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ZoneError(f"{path}: not a GeoJSON object")
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    if not isinstance(feats, list):
        raise ZoneError(f"{path}: FeatureCollection without a features list")
    zones: list[Zone] = []
    for k, f in enumerate(feats):
        where = f"{path}: feature {k}"
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise ZoneError(f"{where}: not a Feature")
        props = f.get("properties") or {}
        geom = f.get("geometry") or {}
        zid = str(props.get("id") or f.get("id") or f"zone{k + 1}")
        if geom.get("type") == "Polygon":
            parts = [geom.get("coordinates")]
        elif geom.get("type") == "MultiPolygon":
            parts = geom.get("coordinates") or []
        else:
            raise ZoneError(f"{where} ('{zid}'): geometry must be a Polygon or MultiPolygon")
        for m, rings in enumerate(parts):
            if not isinstance(rings, list) or not rings:
                raise ZoneError(f"{where} ('{zid}'): empty polygon")
            if len(rings) > 1:
                raise ZoneError(f"{where} ('{zid}'): polygons with holes are not supported")
            ring = [tuple(pt[:2]) for pt in rings[0]]
            if len(ring) > 1 and ring[0] == ring[-1]:
                ring = ring[:-1]  # GeoJSON rings repeat the first vertex
            data = {
                "type": "zone",
                "id": zid if len(parts) == 1 else f"{zid}-{m + 1}",
                "name": str(props.get("name") or zid),
                "polygon": ring,
                "floor_m": props.get("floor_m"),
                "ceiling_m": props.get("ceiling_m"),
            }
            if props.get("priority") is not None:
                data["priority"] = props["priority"]
            try:
                z = msgspec.convert(data, Zone)
            except msgspec.ValidationError as exc:
                raise ZoneError(f"{where} ('{zid}'): {exc}") from exc
            _check(z)
            zones.append(z)
    return zones
