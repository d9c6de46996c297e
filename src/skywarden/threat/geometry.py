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
exact tests then run on the rest only. Distances and nearest points on a
polygon are computed in numpy with the same formulas as GEOS (so they equal
shapely's to the bit), with shapely's vectorised point-in-polygon for containment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from .zones import ZoneGeometry


def _cross(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    return ax * by - ay * bx


def arrival(
    zone: ZoneGeometry,
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    horizon_s: float,
    vertical_horizon_s: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Nominal time to arrival (n,) seconds (0 inside, inf if not within ``horizon_s``)
    and entry point (n, 3) ENU metres (NaN where no arrival) of tracks at
    ``pos_enu_m`` (n, 3) moving at ``vel_enu_mps`` (n, 3) into ``zone``. The
    vertical speed applies for ``vertical_horizon_s`` only, then height is held."""
    p = np.atleast_2d(np.asarray(pos_enu_m, float))
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))
    n = p.shape[0]
    ring = zone.ring_enu
    a, e = ring[:-1], np.diff(ring, axis=0)  # (k, 2) edge starts and vectors
    # Crossing times with every edge, (n, k).
    apx = a[None, :, 0] - p[:, None, 0]
    apy = a[None, :, 1] - p[:, None, 1]
    den = _cross(v[:, None, 0], v[:, None, 1], e[None, :, 0], e[None, :, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = _cross(apx, apy, e[None, :, 0], e[None, :, 1]) / den
        r = _cross(apx, apy, v[:, None, 0], v[:, None, 1]) / den
    hit = (np.abs(den) > 1e-12) & (t > 0) & (r >= 0) & (r <= 1)
    c = np.sort(np.where(hit, t, np.inf), axis=1)
    starts = np.concatenate([np.zeros((n, 1)), c], axis=1)  # (n, k + 1)
    ends = np.concatenate([c, np.full((n, 1), np.inf)], axis=1)
    inside0 = shapely.contains_xy(zone.polygon_enu, p[:, 0], p[:, 1]) | shapely.intersects_xy(
        zone.boundary, p[:, 0], p[:, 1]
    )
    odd = (np.arange(starts.shape[1]) % 2).astype(bool)
    inside = inside0[:, None] ^ odd[None, :]

    # Vertical band [t_lo, t_hi] within floor..ceiling.
    u, vu = p[:, 2], v[:, 2]
    flat = np.abs(vu) < 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = (zone.floor_u_m - u) / vu
        tc = (zone.ceiling_u_m - u) / vu
    in_band = (u >= zone.floor_u_m) & (u <= zone.ceiling_u_m)
    t_lo = np.where(flat, np.where(in_band, 0.0, np.inf), np.maximum(np.minimum(tf, tc), 0.0))
    t_hi = np.where(flat, np.where(in_band, np.inf, -np.inf), np.maximum(tf, tc))
    # Height held after the vertical horizon: in band from then on, or never again.
    u_end = u + vu * vertical_horizon_s if np.isfinite(vertical_horizon_s) else None
    if u_end is not None:
        end_in = (u_end >= zone.floor_u_m) & (u_end <= zone.ceiling_u_m)
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
    zone: ZoneGeometry,
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    sigma_m: np.ndarray,
    t_s: np.ndarray,
    n_sigma: float,
    max_allowance_m: float,
    vertical_horizon_s: float = np.inf,
) -> np.ndarray:
    """Earliest sampled time (n,) seconds at which tracks may be in ``zone``: the
    predicted point at ``t_s`` (T,) within ``n_sigma`` sigmas (``sigma_m`` (n, T, 2),
    from :func:`position_sigma`, allowance capped at ``max_allowance_m``) of the
    polygon horizontally and of the floor..ceiling band vertically; inf if never."""
    p = np.atleast_2d(np.asarray(pos_enu_m, float))
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))
    q = predict(p, v, t_s[None, :], vertical_horizon_s)  # (n, T, 3)
    d_v = np.maximum(zone.floor_u_m - q[..., 2], q[..., 2] - zone.ceiling_u_m).clip(min=0.0)
    allow = np.minimum(n_sigma * sigma_m, max_allowance_m)
    # The polygon lies within its bounding circle: a point farther than the allowance
    # from the circle is farther than that from the polygon, and needs no edge test.
    d_c = np.hypot(q[..., 0] - zone.centre_enu[0], q[..., 1] - zone.centre_enu[1])
    cand = (d_c <= zone.radius_m + allow[..., 0] + _SLACK_M) & (d_v <= allow[..., 1])
    near = np.zeros(cand.shape, bool)
    if cand.any():
        near[cand] = distance_xy(zone, q[..., 0][cand], q[..., 1][cand]) <= allow[..., 0][cand]
    first = np.argmax(near, axis=1)
    return np.where(near.any(axis=1), t_s[first], np.inf)


def closing_time(
    zone: ZoneGeometry, pos_enu_m: np.ndarray, vel_enu_mps: np.ndarray, min_cos: float
) -> np.ndarray:
    """Horizontal distance to ``zone`` over closing speed (n,) seconds of tracks at
    ``pos_enu_m`` (n, 3) moving at ``vel_enu_mps`` (n, 3): 0 horizontally inside, inf
    unless the heading is within ``acos(min_cos)`` of the zone's nearest point."""
    p = np.atleast_2d(np.asarray(pos_enu_m, float))
    v = np.atleast_2d(np.asarray(vel_enu_mps, float))
    d = nearest_xy(zone, p[:, 0], p[:, 1]) - p[:, :2]
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
    zones: Sequence[ZoneGeometry],
    pos_enu_m: np.ndarray,
    vel_enu_mps: np.ndarray,
    horizon_s: np.ndarray,
    near_s: float,
    near_m: float,
    min_cos: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Which (track, zone) pairs (n, Z) bool may have an arrival (:func:`arrival`) within
    ``horizon_s[j]`` (Z,) seconds; and which may have that, or a closing time
    (:func:`closing_time`, heading within ``acos(min_cos)``) within ``horizon_s[j]``,
    or a possible arrival (:func:`possible_arrival`) within ``near_s`` seconds and
    ``near_m`` metres of zone j.

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
    c = np.array([z.centre_enu for z in zones]).reshape(-1, 2)
    r = np.array([z.radius_m for z in zones])[None, :]
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
    return straight, straight | (miss(near_s) <= r + near_m + _SLACK_M) | closing


def distance_xy(zone: ZoneGeometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Horizontal distance (n,) metres from points ``x``, ``y`` (n,) to ``zone``'s
    polygon, 0 inside or on it: ``shapely.distance`` to the bit, without a shapely
    object per point."""
    inside = shapely.intersects_xy(zone.polygon_enu, x, y)
    d = _edge_distances(zone.ring_enu, x, y)
    return np.where(inside, 0.0, d.min(axis=1, initial=np.inf))


def nearest_xy(zone: ZoneGeometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Nearest point (n, 2) of ``zone``'s polygon to each point ``x``, ``y`` (n,) (the point
    itself inside or on it): the far end of ``shapely.shortest_line``, to the bit."""
    inside = shapely.intersects_xy(zone.polygon_enu, x, y)
    ring = zone.ring_enu
    d = _edge_distances(ring, x, y)
    # GEOS keeps the first edge of least distance, then its closest point.
    k = np.argmin(d, axis=1)
    ax, ay, bx, by = ring[k, 0], ring[k, 1], ring[k + 1, 0], ring[k + 1, 1]
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


def _edge_distances(ring: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance (n, k) from each point (n,) to each edge of a closed ring (k + 1, 2):
    GEOS ``Distance::pointToSegment``, term for term."""
    ax, ay = ring[None, :-1, 0], ring[None, :-1, 1]
    bx, by = ring[None, 1:, 0], ring[None, 1:, 1]
    px, py = x[:, None], y[:, None]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        s = ((ay - py) * dx - (ax - px) * dy) / len2
    da = np.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    db = np.sqrt((px - bx) ** 2 + (py - by) ** 2)
    # A zero-length edge is its start point (GEOS: A == B).
    return np.where(
        (r <= 0.0) | (len2 == 0.0), da, np.where(r >= 1.0, db, np.abs(s) * np.sqrt(len2))
    )
