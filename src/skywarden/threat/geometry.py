"""When and where tracks reach zones: straight-line arrival and an uncertainty allowance.

All functions work on every track at once, one zone (prism) at a time; there
are few zones and many tracks.

Nominal arrival. A track at ``p`` with velocity ``v`` is at ``p + v t``. Its
horizontal ray crosses polygon edge ``a -> b`` where
``p + v t = a + r (b - a)``; with the 2-D cross product ``x``,
``t = ((a - p) x e) / (v x e)`` and ``r = ((a - p) x v) / (v x e)``, ``e = b - a``
(valid for ``0 < t`` and ``0 <= r <= 1``). Sorting the crossing times splits
``[0, horizon]`` into intervals that are alternately inside and outside the
polygon (starting from whether ``p`` is inside), which holds for concave
polygons too. The altitude ``u0 + vu t`` is within floor..ceiling on one
interval ``[t_lo, t_hi]``. Time to arrival is the earliest time in both.

Possible arrival. The track's position one-sigma grows along the path as
``s(t)^2 = s_p^2 + 2 t c_pv + t^2 s_v^2 + (m t)^2`` (its own covariance
propagated at constant velocity, plus a manoeuvre allowance ``m`` m/s for
objects that can turn). The track *may* arrive at the first sampled time its
predicted point is within ``n_sigma s(t)`` (capped) of the zone.

Closing time. Attack drones fly doglegs: on a leg offset from their target the
straight-line ray misses a small zone, yet every leg closes on it. With ``d``
the horizontal distance to the polygon and ``u`` the unit vector towards its
nearest point, a track closing at ``c = v . u >= min_cos |v|`` (heading
within ``acos(min_cos)`` of the zone) would reach it in ``d / c``.

Cost. A busy sky holds thousands of tracks and most are nowhere near any zone.
:func:`reach` rules out, for all (track, zone) pairs at once, those whose
straight path cannot come near a zone's bounding circle within a horizon; the
exact tests then run on the rest only, as one list of (track, zone) pairs over
all zones' edges at once (:class:`~.zones.ZoneSet` keeps them as one padded
array). Distances and nearest points on a polygon are computed in numpy with the
same formulas as GEOS (so they equal shapely's to the bit), with shapely's
vectorised point-in-polygon for containment, one call per zone.
"""

from __future__ import annotations

import numpy as np
import shapely

from .zones import ZoneSet


def _cross(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    return ax * by - ay * bx


def _inside_xy(zones: ZoneSet, j: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether points (P,) lie in (or on the edge of) zone ``j`` (P,) horizontally."""
    out = np.zeros(j.shape[0], bool)
    for z in np.unique(j):
        at = j == z
        g = zones.zones[int(z)]
        out[at] = shapely.contains_xy(g.polygon_enu, x[at], y[at]) | shapely.intersects_xy(
            g.boundary, x[at], y[at]
        )
    return out


def arrival(
    zones: ZoneSet,
    j: np.ndarray,
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    horizon_s: float,
    vertical_horizon_s: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Nominal time to arrival (P,) seconds (0 inside, inf if not within ``horizon_s``)
    and entry point (P, 3) ENU metres (NaN where no arrival) of tracks at
    ``pos_enu_m`` (P, 3) moving at ``vel_enu_mps`` (P, 3) into zones ``j`` (P,) of
    ``zones``. The vertical speed applies for ``vertical_horizon_s`` only, then
    height is held."""
    p = np.atleast_2d(np.asarray(pos_enu_m, float))
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))
    j = np.asarray(j, np.int64)
    n = p.shape[0]
    a = zones.edge_a[j]  # (P, k, 2) edge starts ...
    e = zones.edge_b[j] - a  # ... and vectors
    # Crossing times with every edge, (P, k).
    apx = a[..., 0] - p[:, None, 0]
    apy = a[..., 1] - p[:, None, 1]
    den = _cross(v[:, None, 0], v[:, None, 1], e[..., 0], e[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = _cross(apx, apy, e[..., 0], e[..., 1]) / den
        r = _cross(apx, apy, v[:, None, 0], v[:, None, 1]) / den
    hit = (np.abs(den) > 1e-12) & (t > 0) & (r >= 0) & (r <= 1)
    c = np.sort(np.where(hit, t, np.inf), axis=1)
    starts = np.concatenate([np.zeros((n, 1)), c], axis=1)  # (P, k + 1)
    ends = np.concatenate([c, np.full((n, 1), np.inf)], axis=1)
    inside0 = _inside_xy(zones, j, p[:, 0], p[:, 1])
    odd = (np.arange(starts.shape[1]) % 2).astype(bool)
    inside = inside0[:, None] ^ odd[None, :]

    # Vertical band [t_lo, t_hi] within floor..ceiling.
    u, vu = p[:, 2], v[:, 2]
    floor, ceiling = zones.floor_u_m[j], zones.ceiling_u_m[j]
    flat = np.abs(vu) < 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = (floor - u) / vu
        tc = (ceiling - u) / vu
    in_band = (u >= floor) & (u <= ceiling)
    t_lo = np.where(flat, np.where(in_band, 0.0, np.inf), np.maximum(np.minimum(tf, tc), 0.0))
    t_hi = np.where(flat, np.where(in_band, np.inf, -np.inf), np.maximum(tf, tc))
    # Height held after the vertical horizon: in band from then on, or never again.
    u_end = u + vu * vertical_horizon_s if np.isfinite(vertical_horizon_s) else None
    if u_end is not None:
        end_in = (u_end >= floor) & (u_end <= ceiling)
        t_hi = np.where(end_in, np.inf, np.minimum(t_hi, vertical_horizon_s))

    s = np.maximum(starts, t_lo[:, None])
    f = np.minimum(np.minimum(ends, t_hi[:, None]), horizon_s)
    ok = inside & np.isfinite(starts) & (s <= f)
    tta = np.min(np.where(ok, s, np.inf), axis=1)
    entry = predict(p, v, np.where(np.isfinite(tta), tta, 0.0)[:, None], vertical_horizon_s)[:, 0]
    entry[~np.isfinite(tta)] = np.nan
    return tta, entry


def predict(
    pos_enu_m: np.ndarray, vel_enu_mps: np.ndarray, t_s: np.ndarray, vertical_horizon_s: float
) -> np.ndarray:
    """Positions (n, T, 3) of tracks (n, 3) at constant velocity after ``t_s`` (n or 1, T)
    seconds, the vertical speed applied for ``vertical_horizon_s`` at most."""
    t = np.asarray(t_s, float)
    th = np.stack(np.broadcast_arrays(t, t, np.minimum(t, vertical_horizon_s)), axis=-1)
    return pos_enu_m[:, None, :] + vel_enu_mps[:, None, :] * th


def position_sigma(P: np.ndarray, t_s: np.ndarray, manoeuvre_mps: np.ndarray) -> np.ndarray:
    """Horizontal and vertical position one-sigma (n, T, 2) metres of tracks with
    covariance P (n, 6, 6) predicted ``t_s`` (T,) seconds ahead at constant velocity,
    plus ``manoeuvre_mps`` (n,) of velocity uncertainty growing linearly."""
    # Var(p + v t) = P_pp + 2 t P_pv + t^2 P_vv, per axis; horizontal = mean of e and n.
    t = np.asarray(t_s, float)[None, :, None]
    pp = np.stack([(P[:, 0, 0] + P[:, 1, 1]) / 2, P[:, 2, 2]], axis=1)[:, None, :]
    pv = np.stack([(P[:, 0, 3] + P[:, 1, 4]) / 2, P[:, 2, 5]], axis=1)[:, None, :]
    vv = np.stack([(P[:, 3, 3] + P[:, 4, 4]) / 2, P[:, 5, 5]], axis=1)[:, None, :]
    m = np.asarray(manoeuvre_mps, float)[:, None, None] * np.array([1.0, 0.3])[None, None, :]
    var = pp + 2 * t * pv + t * t * (vv + m * m)
    return np.sqrt(np.maximum(var, 0.0))


def possible_arrival(
    zones: ZoneSet,
    j: np.ndarray,
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    sigma_m: np.ndarray,
    t_s: np.ndarray,
    n_sigma: float,
    max_allowance_m: float,
    vertical_horizon_s: float = np.inf,
) -> np.ndarray:
    """Earliest sampled time (P,) seconds at which tracks may be in zones ``j`` (P,): the
    predicted point at ``t_s`` (T,) within ``n_sigma`` sigmas (``sigma_m`` (P, T, 2),
    from :func:`position_sigma`, allowance capped at ``max_allowance_m``) of the
    polygon horizontally and of the floor..ceiling band vertically; inf if never."""
    p = np.atleast_2d(np.asarray(pos_enu_m, float))
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))
    j = np.asarray(j, np.int64)
    q = predict(p, v, t_s[None, :], vertical_horizon_s)  # (P, T, 3)
    d_v = np.maximum(
        zones.floor_u_m[j, None] - q[..., 2], q[..., 2] - zones.ceiling_u_m[j, None]
    ).clip(min=0.0)
    allow = np.minimum(n_sigma * sigma_m, max_allowance_m)
    # The polygon lies within its bounding circle: a point farther than the allowance
    # from the circle is farther than that from the polygon, and needs no edge test.
    c = zones.centre_enu[j]
    d_c = np.hypot(q[..., 0] - c[:, None, 0], q[..., 1] - c[:, None, 1])
    cand = (d_c <= zones.radius_m[j, None] + allow[..., 0] + _SLACK_M) & (d_v <= allow[..., 1])
    near = np.zeros(cand.shape, bool)
    if cand.any():
        jj = np.broadcast_to(j[:, None], cand.shape)[cand]
        d_h = distance_xy(zones, jj, q[..., 0][cand], q[..., 1][cand])
        near[cand] = d_h <= allow[..., 0][cand]
    first = np.argmax(near, axis=1)
    return np.where(near.any(axis=1), t_s[first], np.inf)


def closing_time(
    zones: ZoneSet,
    j: np.ndarray,
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    min_cos: float,
) -> np.ndarray:
    """Horizontal distance to zones ``j`` (P,) over closing speed (P,) seconds of tracks
    at ``pos_enu_m`` (P, 3) moving at ``vel_enu_mps`` (P, 3): 0 horizontally inside, inf
    unless the heading is within ``acos(min_cos)`` of the zone's nearest point."""
    p = np.atleast_2d(np.asarray(pos_enu_m, float))
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))
    d = nearest_xy(zones, np.asarray(j, np.int64), p[:, 0], p[:, 1]) - p[:, :2]
    dist = np.hypot(d[:, 0], d[:, 1])
    speed = np.hypot(v[:, 0], v[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        close = np.einsum("ij,ij->i", v[:, :2], d) / dist
        t = np.where(
            (close > 0.0) & (close >= min_cos * speed),
            dist / np.where(close > 0, close, 1.0),
            np.inf,
        )
    return np.where(dist <= 1e-9, 0.0, t)


#: Metres added to every bounding-circle test, far above rounding error: the
#: prefilters may keep a few pairs too many, never drop one that matters.
_SLACK_M = 1.0
_SLACK_RAD = 1e-6


def reach(
    zones: ZoneSet,
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    horizon_s: np.ndarray,
    near_s: float,
    near_m: float,
    min_cos: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which (track, zone) pairs (n, Z) bool may have an arrival (:func:`arrival`) within
    ``horizon_s[j]`` (Z,) seconds; which may have that, or a closing time
    (:func:`closing_time`, heading within ``acos(min_cos)``) within ``horizon_s[j]``,
    or a possible arrival (:func:`possible_arrival`) within ``near_s`` seconds and
    ``near_m`` metres of zone j; and which may have the last of these.

    Conservative: a pair ruled out has none of these; a pair kept may still have
    none. With ``c`` a zone's bounding-circle centre and ``R`` its radius, the path
    ``p + v t`` (0 <= t <= T) misses the zone by at least ``|p + v t* - c| - R``, ``t*``
    its nearest approach to ``c``; the closing time is at least ``(|p - c| - R) / |v|``;
    and from outside the circle the zone's nearest point lies within ``asin(R / |p - c|)``
    of the direction to ``c``, so a track closing on it heads within
    ``acos(min_cos) + asin(R / |p - c|)`` of that direction.
    """
    p = np.atleast_2d(np.asarray(pos_enu_m, float))[:, :2]
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))[:, :2]
    c, r = zones.centre_enu, zones.radius_m[None, :]
    h = np.asarray(horizon_s, float)[None, :]
    w = c[None, :, :] - p[:, None, :]  # (n, Z, 2) track to centre
    vv = np.einsum("ij,ij->i", v, v)[:, None]
    wv = np.einsum("izk,ik->iz", w, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_c = np.where(vv > 0.0, wv / vv, 0.0)

    def miss(t_max: np.ndarray | float) -> np.ndarray:
        ts = np.clip(t_c, 0.0, t_max)
        return np.hypot(w[..., 0] - v[:, None, 0] * ts, w[..., 1] - v[:, None, 1] * ts)

    dist_c = np.hypot(w[..., 0], w[..., 1])
    speed = np.sqrt(vv)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_c = np.clip(wv / (dist_c * speed), -1.0, 1.0)
        cone = np.arccos(min_cos) + np.arcsin(np.clip(r / dist_c, 0.0, 1.0)) + _SLACK_RAD
    heading = (dist_c <= r + _SLACK_M) | (np.arccos(cos_c) <= cone)
    closing = (dist_c - r <= speed * h + _SLACK_M) & heading
    straight = miss(h) <= r + _SLACK_M
    near = miss(near_s) <= r + near_m + _SLACK_M
    return straight, straight | near | closing, near


def distance_xy(zones: ZoneSet, j: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Horizontal distance (P,) metres from points ``x``, ``y`` (P,) to the polygons of
    zones ``j`` (P,), 0 inside or on them: ``shapely.distance`` to the bit, without a
    shapely object per point."""
    inside = _intersects_xy(zones, j, x, y)
    d = _edge_distances(zones, j, zones.edge_a[j], zones.edge_b[j], x, y)
    return np.where(inside, 0.0, d.min(axis=1, initial=np.inf))


def nearest_xy(zones: ZoneSet, j: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Nearest point (P, 2) of the polygons of zones ``j`` (P,) to points ``x``, ``y`` (P,)
    (the point itself inside or on it): the far end of ``shapely.shortest_line``, to the bit."""
    inside = _intersects_xy(zones, j, x, y)
    ea, eb = zones.edge_a[j], zones.edge_b[j]
    d = _edge_distances(zones, j, ea, eb, x, y)
    # GEOS keeps the first edge of least distance, then its closest point.
    k = np.argmin(d, axis=1)
    rows = np.arange(k.shape[0])
    ax, ay, bx, by = ea[rows, k, 0], ea[rows, k, 1], eb[rows, k, 0], eb[rows, k, 1]
    dx, dy = bx - ax, by - ay
    with np.errstate(divide="ignore", invalid="ignore"):
        f = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)
    f = np.where((x == ax) & (y == ay), 0.0, np.where((x == bx) & (y == by), 1.0, f))
    along = (f > 0.0) & (f < 1.0)
    d0 = np.sqrt((ax - x) ** 2 + (ay - y) ** 2)
    d1 = np.sqrt((bx - x) ** 2 + (by - y) ** 2)
    nx = np.where(along, ax + f * dx, np.where(d0 < d1, ax, bx))
    ny = np.where(along, ay + f * dy, np.where(d0 < d1, ay, by))
    return np.column_stack([np.where(inside, x, nx), np.where(inside, y, ny)])


def _intersects_xy(zones: ZoneSet, j: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether points (P,) intersect the polygons of zones ``j`` (P,) (inside or on them)."""
    out = np.zeros(j.shape[0], bool)
    for z in np.unique(j):
        at = j == z
        out[at] = shapely.intersects_xy(zones.zones[int(z)].polygon_enu, x[at], y[at])
    return out


def _edge_distances(
    zones: ZoneSet, j: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Distance (P, k) from each point (P,) to each edge ``a -> b`` (P, k, 2) of its zone
    ``j`` (P,): GEOS ``Distance::pointToSegment``, term for term; inf for padding."""
    ax, ay, bx, by = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    px, py = x[:, None], y[:, None]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        s = ((ay - py) * dx - (ax - px) * dy) / len2
    da = np.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    db = np.sqrt((px - bx) ** 2 + (py - by) ** 2)
    # A zero-length edge (A == B) is its start point, as in GEOS.
    d = np.where((r <= 0.0) | (len2 == 0.0), da, np.where(r >= 1.0, db, np.abs(s) * np.sqrt(len2)))
    pad = np.arange(a.shape[1])[None, :] >= zones.edge_count[j][:, None]
    return np.where(pad, np.inf, d)
