"""Truth trajectories: every simulated object on a 1 s grid, as arrays.

Objects are built group by group (``spec.ObjectGroup``) with NumPy over all
objects of a group and all grid times at once; only scripted routes loop over
objects (each is one ``np.interp`` over all times). Motion is designed in
(east, north, height above the site ground) and then bent onto the Earth: the
local ENU "up" of a point at horizontal distance d lies d²/2R above the
ground, so a drone skimming the sea at 50 m stays at 50 m far out too.

Between grid times an object moves in a straight line with the velocity of the
earlier grid time; sensors sample it there with :meth:`Population.sample`.
"""

from __future__ import annotations

import logging
import math
import string
from dataclasses import dataclass

import numpy as np
import shapely

from ..threat.zones import ZoneSet
from .recorded import DEFAULT_RCS_DBSM, fly, read_track
from .spec import (
    Airliner,
    Bird,
    Circle,
    Glider,
    Helicopter,
    HostileDrone,
    LightAircraft,
    ObjectGroup,
    Quadcopter,
    Recorded,
    Target,
)

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_000.0
DT_S = 1.0
# ANSI/CTA-2063-A serial numbers use digits and capitals except O and I.
_CTA_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
_AIRLINES = ("DLH", "KLM", "AFR", "BAW", "EZY", "RYR", "SAS", "AUA", "LOT", "IBE")


@dataclass(frozen=True, slots=True)
class Population:
    """All truth objects over the grid ``t_k = k * DT_S`` s (k = 0..T-1) from the start.

    ``pos_enu_m`` (n, T, 3) and ``vel_enu_mps`` (n, T, 3) in the site ENU frame;
    ``exists`` (n, T) bool. Per object (n,): ``ids``, ``truth_class``,
    ``hostile``, ``rcs_dbsm``, ``radio`` (has a control/video link an RF
    direction finder hears), ``icao24``/``callsign`` (ADS-B, else None),
    ``uas_id`` (Remote ID, else None), ``operator_enu_m`` (n, 3, NaN if none),
    ``zone`` (target zone id of a hostile drone, else None), ``group`` (spec kind).
    """

    ids: list[str]
    truth_class: list[str]
    group: list[str]
    hostile: np.ndarray
    rcs_dbsm: np.ndarray
    radio: np.ndarray
    icao24: list[str | None]
    callsign: list[str | None]
    uas_id: list[str | None]
    operator_enu_m: np.ndarray
    zone: list[str | None]
    pos_enu_m: np.ndarray
    vel_enu_mps: np.ndarray
    exists: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_times(self) -> int:
        return int(self.exists.shape[1])

    def sample(self, idx: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objects ``idx`` (n,) at times ``t_s`` (m,) from the start, 0 <= t <= T-1.

        Returns ``pos_enu_m`` (n, m, 3), ``vel_enu_mps`` (n, m, 3) and ``ok`` (n, m),
        true where the object exists at both neighbouring grid times.
        """
        t_s = np.asarray(t_s, dtype=float)
        k0 = np.clip(np.floor(t_s / DT_S).astype(np.int64), 0, self.n_times - 1)
        k1 = np.minimum(k0 + 1, self.n_times - 1)
        f = (t_s / DT_S - k0)[None, :, None]
        i = np.asarray(idx, dtype=np.int64)[:, None]
        p0 = self.pos_enu_m[i, k0[None, :]]
        p1 = self.pos_enu_m[i, k1[None, :]]
        pos = p0 + (p1 - p0) * f
        vel = self.vel_enu_mps[i, k0[None, :]]
        ok = self.exists[i, k0[None, :]] & (self.exists[i, k1[None, :]] | (f[..., 0] == 0.0))
        return pos, vel, ok


@dataclass
class _Group:
    """Objects of one spec group, before concatenation."""

    prefix: str
    truth_class: str
    kind: str
    pos: np.ndarray  # (n, T, 3) east, north, height
    vel: np.ndarray
    exists: np.ndarray
    hostile: np.ndarray
    rcs_dbsm: np.ndarray
    radio: np.ndarray
    icao24: list[str | None]
    callsign: list[str | None]
    uas_id: list[str | None]
    operator: np.ndarray
    zone: list[str | None]


def _ar1(rng: np.random.Generator, n: int, t: int, rho: float, sigma: float) -> np.ndarray:
    """Stationary AR(1) series (n, t) with standard deviation ``sigma``: x_k = rho x_{k-1} + w_k."""
    w = rng.normal(0.0, sigma * math.sqrt(1.0 - rho * rho), (n, t))
    w[:, 0] = rng.normal(0.0, sigma, n)
    # Imported here: scipy.signal takes most of a second to import, which every command
    # that only lists the built-ins (the command line's help) would pay.
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -rho], w, axis=1)


def _in_disc(rng: np.random.Generator, area: Circle, n: int) -> np.ndarray:
    """Points (n, 2) uniform over a disc."""
    r = area.radius_m * np.sqrt(rng.random(n))
    a = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.stack([area.east_m + r * np.sin(a), area.north_m + r * np.cos(a)], axis=1)


def _uniform(rng: np.random.Generator, iv: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(iv[0], iv[1], n)


def _band(x: np.ndarray, iv: tuple[float, float]) -> np.ndarray:
    """Map an unbounded series smoothly into the interval (a soft clip)."""
    return iv[0] + (iv[1] - iv[0]) * (0.5 + 0.5 * np.tanh(x))


def _height(
    rng: np.random.Generator, n: int, n_t: int, iv: tuple[float, float], vrate_mps: float
) -> np.ndarray:
    """Heights (n, T) wandering within ``iv`` with a typical climb/sink rate of ``vrate_mps``."""
    sigma = 0.8
    # Innovation of the latent series such that d(height)/dt is about vrate_mps mid-band.
    innov = min(vrate_mps / (0.5 * max(iv[1] - iv[0], 1e-9)), 0.5 * sigma)
    rho = math.sqrt(1.0 - (innov / sigma) ** 2)
    return _band(_ar1(rng, n, n_t, rho, sigma), iv)


def _integrate(
    p0_en: np.ndarray, speed: np.ndarray, heading: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal speed/heading and height series (n, T) -> pos, vel (n, T, 3).

    p_{k+1} = p_k + v_k dt, so linear interpolation between grid times matches
    the velocity reported at the earlier one.
    """
    ve = speed * np.sin(heading)
    vn = speed * np.cos(heading)
    vu = np.zeros_like(height)
    vu[:, :-1] = np.diff(height, axis=1) / DT_S
    e = p0_en[:, :1] + np.concatenate([np.zeros_like(ve[:, :1]), np.cumsum(ve[:, :-1], 1)], 1)
    n = p0_en[:, 1:] + np.concatenate([np.zeros_like(vn[:, :1]), np.cumsum(vn[:, :-1], 1)], 1)
    return np.stack([e, n, height], -1), np.stack([ve, vn, vu], -1)


def _routes(
    polylines: list[np.ndarray], speed_mps: np.ndarray, t_start_s: np.ndarray, n_t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Objects flying polylines (k_i, 3) at constant speed from ``t_start_s``.

    Returns pos, vel (n, T, 3) and exists (n, T); an object exists from its
    first vertex to its last.
    """
    n = len(polylines)
    t = np.arange(n_t) * DT_S
    pos = np.zeros((n, n_t, 3))
    vel = np.zeros((n, n_t, 3))
    exists = np.zeros((n, n_t), dtype=bool)
    for i, poly in enumerate(polylines):
        seg = np.diff(poly, axis=0)
        seg_len = np.linalg.norm(seg, axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        s = speed_mps[i] * (t - t_start_s[i])
        # 1 mm of slack keeps a vertex that falls on a grid time.
        exists[i] = (s >= -1e-3) & (s <= cum[-1] + 1e-3)
        s = np.clip(s, 0.0, cum[-1])
        for j in range(3):
            pos[i, :, j] = np.interp(s, cum, poly[:, j])
        k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
        vel[i] = speed_mps[i] * seg[k] / seg_len[k, None]
    return pos, vel, exists


def _cta2063(rng: np.random.Generator) -> str:
    """A Remote ID serial shaped like ANSI/CTA-2063-A: maker code, length char, serial."""
    maker = "".join(rng.choice(_CTA_CHARS, 4))
    length = int(rng.integers(8, 16))
    return f"{maker}{length:X}{''.join(rng.choice(_CTA_CHARS, length))}"


def _icao24(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(0x100000, 0xFFFFFF)):06x}"


def _group(
    prefix: str,
    truth_class: str,
    kind: str,
    pos: np.ndarray,
    vel: np.ndarray,
    exists: np.ndarray,
    rcs: np.ndarray,
    *,
    hostile: np.ndarray | None = None,
    radio: np.ndarray | None = None,
    icao24: list[str | None] | None = None,
    callsign: list[str | None] | None = None,
    uas_id: list[str | None] | None = None,
    operator: np.ndarray | None = None,
    zone: list[str | None] | None = None,
) -> _Group:
    n = pos.shape[0]
    none: list[str | None] = [None] * n
    return _Group(
        prefix,
        truth_class,
        kind,
        pos,
        vel,
        exists,
        np.zeros(n, bool) if hostile is None else hostile,
        rcs,
        np.zeros(n, bool) if radio is None else radio,
        icao24 or none,
        callsign or none,
        uas_id or none,
        np.full((n, 3), np.nan) if operator is None else operator,
        zone or none,
    )


def _hostile(g: HostileDrone, rng: np.random.Generator, zones: ZoneSet, n_t: int) -> _Group:
    n = g.count
    zone_geom = {z.id: z for z in zones}
    zid = g.zone or zones.ids[0]
    z = zone_geom[zid]
    # Aim well inside the zone's edge when it is big enough to allow it.
    inner = z.polygon_enu.buffer(-30.0)
    target_area = inner if not inner.is_empty and inner.area > 100.0 else z.polygon_enu
    x0, y0, x1, y1 = target_area.bounds
    targets: list[np.ndarray] = []
    while len(targets) < n:
        cand = rng.uniform((x0, y0), (x1, y1), (max(4 * n, 16), 2))
        targets.extend(cand[shapely.contains_xy(target_area, cand[:, 0], cand[:, 1])])
    targets_en = np.array(targets[:n]).reshape(n, 2)
    h_target = np.clip(max(z.floor_u_m, 0.0) + 5.0, z.floor_u_m, z.ceiling_u_m)
    bearing = np.radians(_uniform(rng, g.bearing_deg, n))
    rng_start = _uniform(rng, g.start_range_m, n)
    h_cruise = _uniform(rng, g.cruise_agl_m, n)
    dive = np.radians(_uniform(rng, g.dive_deg, n))
    speed = _uniform(rng, g.speed_mps, n)
    launch = _uniform(rng, g.launch_s, n)
    polys = []
    for i in range(n):
        u = np.array([np.sin(bearing[i]), np.cos(bearing[i])])
        perp = np.array([u[1], -u[0]])
        tgt = np.append(targets_en[i], h_target)
        dive_run = (h_cruise[i] - h_target) / math.tan(dive[i])
        final_run = rng.uniform(2_000.0, 4_000.0)
        start_d = max(rng_start[i], dive_run + final_run + 2_000.0)
        # Start at least 15 km from every protected zone, so a warning is possible.
        while (
            min(
                zg.polygon_enu.distance(shapely.Point(*(targets_en[i] + start_d * u)))
                for zg in zones
            )
            < 15_000.0
        ):
            start_d += 500.0
        pts = [np.append(targets_en[i] + start_d * u, h_cruise[i])]
        for j in range(1, g.doglegs + 1):
            d = start_d - (start_d - dive_run - final_run) * j / (g.doglegs + 1)
            lateral = rng.uniform(-1.0, 1.0) * min(3_000.0, 0.15 * start_d)
            pts.append(np.append(targets_en[i] + d * u + lateral * perp, h_cruise[i]))
        pts.append(np.append(targets_en[i] + (dive_run + final_run) * u, h_cruise[i]))
        pts.append(np.append(targets_en[i] + dive_run * u, h_cruise[i]))
        pts.append(tgt)
        polys.append(np.array(pts))
    length = np.array([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in polys])
    # Impact on a grid time, so the last truth point is the impact point.
    t_impact = np.ceil(launch + length / speed)
    pos, vel, exists = _routes(polys, speed, t_impact - length / speed, n_t)
    return _group(
        "drone",
        "drone",
        "hostile_drone",
        pos,
        vel,
        exists,
        _uniform(rng, g.rcs_dbsm, n),
        hostile=np.ones(n, bool),
        radio=rng.random(n) < g.radio_fraction,
        zone=[zid] * n,
    )


def _quadcopter(g: Quadcopter, rng: np.random.Generator, n_t: int) -> _Group:
    n = g.count
    p0 = _in_disc(rng, g.area, n)
    # Below zero the speed clips to the lower bound: the drone hovers.
    x = 0.35 + _ar1(rng, n, n_t, 0.98, 0.5)
    speed = g.speed_mps[0] + (g.speed_mps[1] - g.speed_mps[0]) * np.clip(x, 0.0, 1.0)
    heading = rng.uniform(0, 2 * np.pi, (n, 1)) + np.cumsum(rng.normal(0, 0.08, (n, n_t)), 1)
    height = _height(rng, n, n_t, g.agl_m, 0.7)
    if g.loiter:
        heading = _leash(p0, speed, heading, g.area)
    pos, vel = _integrate(p0, speed, heading, height)
    operator = np.concatenate([p0 + rng.normal(0.0, 40.0, (n, 2)), np.zeros((n, 1))], 1)
    ids: list[str | None] = [_cta2063(rng) for _ in range(n)] if g.remote_id else [None] * n
    return _group(
        "drone",
        "drone",
        "quadcopter",
        pos,
        vel,
        np.ones((n, n_t), bool),
        _uniform(rng, g.rcs_dbsm, n),
        hostile=np.full(n, g.hostile),
        radio=np.ones(n, bool),
        uas_id=ids,
        operator=operator if g.remote_id else None,
    )


def _leash(p0: np.ndarray, speed: np.ndarray, heading: np.ndarray, area: Circle) -> np.ndarray:
    """Headings (n, T) of the same random walk, turned back towards the centre of
    ``area`` whenever the object is outside it (the walk's turns resume from there)."""
    centre = np.array([area.east_m, area.north_m])
    turn = np.diff(heading, axis=1)
    out = np.empty_like(heading)
    pos = p0.astype(float)
    h = heading[:, 0].copy()
    for k in range(heading.shape[1]):
        out[:, k] = h
        pos = pos + speed[:, k, None] * np.column_stack([np.sin(h), np.cos(h)]) * DT_S
        if k + 1 < heading.shape[1]:
            d = centre - pos
            home = np.arctan2(d[:, 0], d[:, 1])
            h = np.where(np.hypot(d[:, 0], d[:, 1]) > area.radius_m, home, h + turn[:, k])
    return out


def _wanderers(
    rng: np.random.Generator,
    p0: np.ndarray,
    speed_iv: tuple[float, float],
    agl_iv: tuple[float, float],
    turn_rate: np.ndarray,
    heading_sigma: float,
    vrate_mps: float,
    n_t: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Wandering flight: speed and height slow AR(1) within their intervals, heading a random walk."""
    n = p0.shape[0]
    mid = 0.5 * (speed_iv[0] + speed_iv[1])
    speed = np.clip(mid + _ar1(rng, n, n_t, 0.98, 0.25 * (speed_iv[1] - speed_iv[0])), *speed_iv)
    t = np.arange(n_t) * DT_S
    heading = (
        rng.uniform(0, 2 * np.pi, (n, 1))
        + turn_rate[:, None] * t
        + np.cumsum(rng.normal(0, heading_sigma, (n, n_t)), 1)
    )
    height = _height(rng, n, n_t, agl_iv, vrate_mps)
    return _integrate(p0, speed, heading, height)


def _birds(g: Bird, rng: np.random.Generator, n_t: int) -> _Group:
    sizes = rng.integers(g.flock_size[0], g.flock_size[1] + 1, g.count)
    p0 = _in_disc(rng, g.area, g.count)
    # Loitering: a slow mean turn keeps a bird within a few km of where it started.
    turn = rng.uniform(-0.02, 0.02, g.count)
    # Flock members share the leader's speed range but stay inside it with their offsets.
    lo, hi = g.speed_mps
    margin = min(1.0, 0.25 * (hi - lo))
    cpos, cvel = _wanderers(rng, p0, (lo + margin, hi - margin), g.agl_m, turn, 0.03, 1.0, n_t)
    lead = np.repeat(np.arange(g.count), sizes)
    m = lead.size
    spread = g.flock_spread_m * (sizes[lead] > 1)
    fixed = rng.normal(0.0, 1.0, (m, 1, 3)) * np.array([1.0, 1.0, 0.2]) * spread[:, None, None]
    drift = np.stack([_ar1(rng, m, n_t, 0.999, 0.3) for _ in range(3)], -1) * spread[:, None, None]
    offset = fixed + drift
    pos = cpos[lead] + offset
    vel = cvel[lead].copy()
    vel[:, :-1] += np.diff(offset, axis=1) / DT_S
    # Keep every member above the ground and inside the height band.
    pos[..., 2] = np.clip(pos[..., 2], g.agl_m[0], g.agl_m[1])
    vel[:, :-1, 2] = np.diff(pos[..., 2], axis=1) / DT_S
    return _group(
        "bird",
        "bird",
        "bird",
        pos,
        vel,
        np.ones((m, n_t), bool),
        _uniform(rng, g.rcs_dbsm, m),
    )


def _gliders(g: Glider, rng: np.random.Generator, n_t: int) -> _Group:
    n = g.count
    p0 = _in_disc(rng, g.area, n)
    radius = _uniform(rng, g.circle_radius_m, n)
    turn = rng.choice([-1.0, 1.0], n) * np.mean(g.speed_mps) / radius
    pos, vel = _wanderers(rng, p0, g.speed_mps, g.agl_m, turn, 0.01, 1.5, n_t)
    return _group(
        "glider",
        "aircraft",
        "glider",
        pos,
        vel,
        np.ones((n, n_t), bool),
        _uniform(rng, g.rcs_dbsm, n),
    )


def _launch(
    rng: np.random.Generator, iv: tuple[float, float] | None, path_s: np.ndarray, n_t: int
) -> np.ndarray:
    """Start times; by default spread so that some are already under way at the start."""
    if iv is not None:
        return rng.uniform(iv[0], iv[1], path_s.size)
    return rng.uniform(-0.8 * path_s, float(n_t - 1))


def _transit_polys(rng: np.random.Generator, area: Circle, height: np.ndarray) -> list[np.ndarray]:
    """Straight-ish crossings of a disc with one dogleg, at constant height."""
    polys = []
    c = np.array([area.east_m, area.north_m])
    for h in height:
        a_in = rng.uniform(0, 2 * np.pi)
        a_out = a_in + np.pi + rng.uniform(-0.7, 0.7)
        p_in = c + area.radius_m * np.array([np.sin(a_in), np.cos(a_in)])
        p_out = c + area.radius_m * np.array([np.sin(a_out), np.cos(a_out)])
        mid = 0.5 * (p_in + p_out) + rng.normal(0.0, 0.15 * area.radius_m, 2)
        polys.append(np.column_stack([np.array([p_in, mid, p_out]), np.full(3, h)]))
    return polys


def _transit(
    g: LightAircraft | Helicopter, rng: np.random.Generator, n_t: int, truth_class: str
) -> _Group:
    n = g.count
    height = _uniform(rng, g.agl_m, n)
    speed = _uniform(rng, g.speed_mps, n)
    polys = _transit_polys(rng, g.area, height)
    path_s = np.array([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in polys]) / speed
    pos, vel, exists = _routes(polys, speed, _launch(rng, g.launch_s, path_s, n_t), n_t)
    adsb = rng.random(n) < g.adsb_fraction
    kind = "light_aircraft" if isinstance(g, LightAircraft) else "helicopter"
    icao = [_icao24(rng) if a else None for a in adsb]
    letters = np.array(list(string.ascii_uppercase))
    calls = [("D" + "".join(rng.choice(letters, 4))) if a else None for a in adsb]
    prefix = "heli" if kind == "helicopter" else "light"
    return _group(
        prefix,
        truth_class,
        kind,
        pos,
        vel,
        exists,
        _uniform(rng, g.rcs_dbsm, n),
        icao24=icao,
        callsign=calls,
    )


def _airliners(g: Airliner, rng: np.random.Generator, n_t: int) -> _Group:
    n = g.count
    polys: list[np.ndarray] = []
    speed = np.empty(n)
    if g.runway is None:
        height = rng.uniform(8_000.0, 11_500.0, n)
        speed[:] = rng.uniform(200.0, 250.0, n)
        polys = [p[[0, 2]] for p in _transit_polys(rng, g.area, height)]
    else:
        thr = np.array([g.runway.east_m, g.runway.north_m])
        hdg = math.radians(g.runway.heading_deg)
        u = np.array([math.sin(hdg), math.cos(hdg)])
        for i in range(n):
            if rng.random() < g.arrival_fraction:
                # Final approach on a 3 degree glide path to the threshold.
                d = rng.uniform(20_000.0, 30_000.0)
                h0 = 15.0 + d * math.tan(math.radians(3.0))
                polys.append(np.array([[*(thr - d * u), h0], [*thr, 15.0]]))
                speed[i] = rng.uniform(70.0, 85.0)
            else:
                climb = math.tan(math.radians(rng.uniform(5.0, 8.0)))
                p0 = thr + 800.0 * u
                turn = rng.uniform(-0.8, 0.8)
                v2 = np.array(
                    [
                        u[0] * math.cos(turn) + u[1] * math.sin(turn),
                        -u[0] * math.sin(turn) + u[1] * math.cos(turn),
                    ]
                )
                p1 = p0 + (3_000.0 / climb) * u
                polys.append(
                    np.array([[*p0, 15.0], [*p1, 3_015.0], [*(p1 + 30_000.0 * v2), 4_500.0]])
                )
                speed[i] = rng.uniform(80.0, 110.0)
    path_s = np.array([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in polys]) / speed
    pos, vel, exists = _routes(polys, speed, _launch(rng, g.launch_s, path_s, n_t), n_t)
    calls: list[str | None] = [
        f"{_AIRLINES[int(rng.integers(len(_AIRLINES)))]}{int(rng.integers(1, 9999))}"
        for _ in range(n)
    ]
    return _group(
        "airliner",
        "aircraft",
        "airliner",
        pos,
        vel,
        exists,
        _uniform(rng, g.rcs_dbsm, n),
        icao24=[_icao24(rng) for _ in range(n)],
        callsign=calls,
    )


_RECORDED_PREFIX = {
    "drone": "drone",
    "bird": "bird",
    "aircraft": "aircraft",
    "helicopter": "heli",
    "unknown": "target",
}


def _recorded(g: Recorded, rng: np.random.Generator, zones: ZoneSet, n_t: int) -> _Group:
    pos, vel, exists = fly(read_track(g.track), g, zones, n_t, DT_S)
    operator = np.full((1, 3), np.nan)
    if g.remote_id and exists.any():
        # The pilot stands where the recorded flight starts (on the ground).
        operator[0, :2] = pos[np.argmax(exists), :2]
        operator[0, 2] = 0.0
    rcs = g.rcs_dbsm if g.rcs_dbsm is not None else DEFAULT_RCS_DBSM[g.truth_class]
    return _group(
        _RECORDED_PREFIX[g.truth_class],
        g.truth_class,
        "recorded",
        pos[None],
        vel[None],
        exists[None],
        _uniform(rng, rcs, 1),
        hostile=np.array([g.hostile]),
        radio=np.array([g.radio]),
        icao24=[(g.icao24 or _icao24(rng)) if g.adsb else None],
        callsign=[(g.callsign or f"N{int(rng.integers(100, 99999))}") if g.adsb else None],
        uas_id=[_cta2063(rng) if g.remote_id else None],
        operator=operator,
        zone=[g.aim_zone if g.hostile else None],
    )


def _targets(g: Target, rng: np.random.Generator, n_t: int) -> _Group:
    n = g.count
    p0 = np.column_stack([_in_disc(rng, g.area, n), _uniform(rng, g.agl_m, n)])
    heading = rng.uniform(0, 2 * np.pi, n)
    speed = _uniform(rng, g.speed_mps, n)
    v0 = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), np.zeros(n)])
    # Nearly constant velocity: v_{k+1} = v_k + a_k dt with white acceleration a_k.
    acc = rng.normal(0.0, g.accel_sigma_mps2, (n, n_t, 3))
    acc[:, 0] = 0.0
    vel = v0[:, None, :] + np.cumsum(acc * DT_S, axis=1)
    pos = p0[:, None, :] + np.concatenate(
        [np.zeros((n, 1, 3)), np.cumsum(vel[:, :-1] * DT_S, axis=1)], axis=1
    )
    return _group(
        "target",
        g.truth_class,
        "target",
        pos,
        vel,
        np.ones((n, n_t), bool),
        _uniform(rng, g.rcs_dbsm, n),
    )


def build_population(
    groups: list[ObjectGroup], zones: ZoneSet, n_t: int, rng: np.random.Generator
) -> Population:
    """Fly every object group over ``n_t`` grid times (1 s apart)."""
    built: list[_Group] = []
    for g in groups:
        if g.count == 0:
            continue
        if isinstance(g, HostileDrone):
            built.append(_hostile(g, rng, zones, n_t))
        elif isinstance(g, Quadcopter):
            built.append(_quadcopter(g, rng, n_t))
        elif isinstance(g, Bird):
            built.append(_birds(g, rng, n_t))
        elif isinstance(g, Glider):
            built.append(_gliders(g, rng, n_t))
        elif isinstance(g, Airliner):
            built.append(_airliners(g, rng, n_t))
        elif isinstance(g, LightAircraft):
            built.append(_transit(g, rng, n_t, "aircraft"))
        elif isinstance(g, Helicopter):
            built.append(_transit(g, rng, n_t, "helicopter"))
        elif isinstance(g, Recorded):
            built.append(_recorded(g, rng, zones, n_t))
        else:
            built.append(_targets(g, rng, n_t))
    if not built:
        empty = np.zeros((0, n_t, 3))
        built.append(
            _group("none", "unknown", "none", empty, empty, np.zeros((0, n_t), bool), np.zeros(0))
        )
    pos = np.concatenate([b.pos for b in built])
    vel = np.concatenate([b.vel for b in built])
    # Bend the flat design onto the Earth: ENU up = height - d^2 / 2R.
    d2 = pos[..., 0] ** 2 + pos[..., 1] ** 2
    pos[..., 2] -= d2 / (2.0 * EARTH_RADIUS_M)
    vel[..., 2] -= (pos[..., 0] * vel[..., 0] + pos[..., 1] * vel[..., 1]) / EARTH_RADIUS_M
    ids: list[str] = []
    counters: dict[str, int] = {}
    for b in built:
        for _ in range(b.pos.shape[0]):
            counters[b.prefix] = counters.get(b.prefix, 0) + 1
            ids.append(f"{b.prefix}-{counters[b.prefix]:03d}")
    op = np.concatenate([b.operator for b in built])
    op[:, 2] -= (op[:, 0] ** 2 + op[:, 1] ** 2) / (2.0 * EARTH_RADIUS_M)
    log.debug("population: %d objects over %d s", len(ids), n_t - 1)
    return Population(
        ids=ids,
        truth_class=[b.truth_class for b in built for _ in range(b.pos.shape[0])],
        group=[b.kind for b in built for _ in range(b.pos.shape[0])],
        hostile=np.concatenate([b.hostile for b in built]),
        rcs_dbsm=np.concatenate([b.rcs_dbsm for b in built]),
        radio=np.concatenate([b.radio for b in built]),
        icao24=[x for b in built for x in b.icao24],
        callsign=[x for b in built for x in b.callsign],
        uas_id=[x for b in built for x in b.uas_id],
        operator_enu_m=op,
        zone=[x for b in built for x in b.zone],
        pos_enu_m=pos,
        vel_enu_mps=vel,
        exists=np.concatenate([b.exists for b in built]),
    )
