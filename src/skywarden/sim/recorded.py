"""Recorded flights flown as truth objects (docs/scenario-spec.md, "Recorded flights").

A track file is a CSV (optionally gzipped) with the header columns
``t_s,lat_deg,lon_deg,alt_m`` (extra columns are ignored): seconds from the
start of the log, WGS-84 degrees, altitude in metres (empty for 2-D tracks).
Times must increase strictly.

A ``recorded`` object takes a window of the log, relocates it to the site
(its anchor point -- first, centroid or last point of the window -- is put at
an East/North offset, or at a zone), rotates it about the anchor, shifts it in
time (``launch_s``) and models its height (``alt_mode``). The log is
interpolated linearly in the horizontal plane and in height onto the
simulator's 1 s grid; the velocity of a grid time is the finite difference to
the next one (so the simulator's straight-line motion between grid times
passes through the interpolated points). Where two consecutive log samples are
more than ``max_gap_s`` apart the object does not exist in between: a gap is
never bridged by a made-up straight line.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pymap3d

from ..threat.zones import ZoneSet
from .spec import Recorded

#: Columns every track file has, in any order among others.
TRACK_COLUMNS = ("t_s", "lat_deg", "lon_deg", "alt_m")
#: Track files larger than this are refused (the corpus files are far smaller).
MAX_TRACK_BYTES = 64 * 1024 * 1024
#: Default radar cross-sections (dBsm interval) by truth class, as the simulator's own groups.
DEFAULT_RCS_DBSM: dict[str, tuple[float, float]] = {
    "drone": (-20.0, -5.0),
    "bird": (-35.0, -20.0),
    "aircraft": (5.0, 20.0),
    "helicopter": (5.0, 15.0),
    "unknown": (-10.0, 10.0),
}
_REPO_ROOT = Path(__file__).resolve().parents[3]


class TrackError(ValueError):
    """A track file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Track:
    """One recorded flight: times (s from the log start) and WGS-84 positions, all (m,)."""

    path: str
    t_s: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_m: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0])

    @property
    def has_altitude(self) -> bool:
        return bool(np.all(np.isfinite(self.alt_m)))


def _float(text: str, path: str, line: int, col: str, *, empty_ok: bool = False) -> float:
    if empty_ok and text.strip() == "":
        return math.nan
    try:
        v = float(text)
    except ValueError:
        raise TrackError(f"{path}:{line}: {col}: not a number: {text[:40]!r}") from None
    if not math.isfinite(v):
        raise TrackError(f"{path}:{line}: {col}: not finite")
    return v


def read_track(path: str | os.PathLike[str]) -> Track:
    """Read and check a track file (CSV, ``.gz`` for gzip); TrackError names file and line."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise TrackError(f"{path}: cannot read track file: {e.strerror}") from None
    return _read_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _read_cached(path: str, _mtime_ns: int, size: int) -> Track:
    if size > MAX_TRACK_BYTES:
        raise TrackError(f"{path}: track file larger than {MAX_TRACK_BYTES} bytes")
    raw = Path(path).read_bytes()
    if path.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise TrackError(f"{path}: not a valid gzip file: {e}") from None
        if len(raw) > MAX_TRACK_BYTES:
            raise TrackError(f"{path}: track larger than {MAX_TRACK_BYTES} bytes uncompressed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TrackError(f"{path}: not UTF-8 text") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        raise TrackError(f"{path}: empty track file")
    header = [h.strip() for h in header]
    missing = [c for c in TRACK_COLUMNS if c not in header]
    if missing:
        raise TrackError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
    idx = [header.index(c) for c in TRACK_COLUMNS]
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) < len(header):
            raise TrackError(f"{path}:{line}: {len(row)} fields, header has {len(header)}")
        vt, vla, vlo = (
            _float(row[i], path, line, c) for i, c in zip(idx[:3], TRACK_COLUMNS[:3], strict=True)
        )
        va = _float(row[idx[3]], path, line, "alt_m", empty_ok=True)
        if not -90.0 <= vla <= 90.0 or not -180.0 <= vlo <= 180.0:
            raise TrackError(f"{path}:{line}: position out of range ({vla}, {vlo})")
        if t and vt <= t[-1]:
            raise TrackError(f"{path}:{line}: t_s {vt} does not increase")
        t.append(vt)
        lat.append(vla)
        lon.append(vlo)
        alt.append(va)
    if len(t) < 2:
        raise TrackError(f"{path}: needs at least 2 samples, has {len(t)}")
    a = np.asarray(alt)
    if np.isnan(a).any() and not np.isnan(a).all():
        raise TrackError(f"{path}: alt_m is given on some lines only")
    return Track(path, np.asarray(t), np.asarray(lat), np.asarray(lon), a)


def window(track: Track, g: Recorded) -> tuple[float, float]:
    """The log-time window [from, to] (s from the log start) a group flies; ValueError if empty."""
    t0 = float(track.t_s[0])
    lo = t0 + g.from_s
    hi = float(track.t_s[-1]) if g.to_s is None else t0 + g.to_s
    hi = min(hi, float(track.t_s[-1]))
    if hi <= lo:
        raise ValueError(
            f"window from_s={g.from_s} to_s={g.to_s} is empty for a log of {track.duration_s:.0f} s"
        )
    return lo, hi


def check_recorded(g: Recorded, track: Track) -> None:
    """Raise ValueError if the group cannot fly this track (empty window, no altitude)."""
    window(track, g)
    if g.alt_mode != "constant" and not track.has_altitude:
        raise ValueError(f"{track.path} has no altitude: use alt_mode: constant")


def _heights(track: Track, g: Recorded, in_win: np.ndarray) -> np.ndarray:
    if g.alt_mode == "constant":
        return np.full(track.t_s.size, g.agl_m)
    if g.alt_mode == "ground":
        assert g.log_ground_m is not None  # the spec requires it for this mode
        return np.maximum(track.alt_m - g.log_ground_m, 0.0)
    return track.alt_m - float(track.alt_m[in_win].min()) + g.agl_m


def _anchor_point(xy: np.ndarray, in_win: np.ndarray, anchor: str) -> np.ndarray:
    w = xy[in_win]
    if anchor == "first":
        return w[0]
    if anchor == "last":
        return w[-1]
    return w.mean(axis=0)


def relocate(
    track: Track, g: Recorded, zones: ZoneSet | None
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Log samples as site positions: ``xyz`` (m, 3) East, North, height above ground.

    Also returns the log times (m,) and the window [from, to] in log time.
    """
    lo, hi = window(track, g)
    in_win = (track.t_s >= lo) & (track.t_s <= hi)
    if not in_win.any():
        # A window between two samples: anchor on the samples around it.
        k = int(np.searchsorted(track.t_s, lo))
        in_win[max(k - 1, 0) : k + 1] = True
    # Horizontal offsets from the log's own first point, on the ellipsoid surface.
    e, n, _ = pymap3d.geodetic2enu(
        track.lat_deg, track.lon_deg, 0.0, track.lat_deg[0], track.lon_deg[0], 0.0
    )
    xy = np.column_stack([e, n])
    anchor = _anchor_point(xy, in_win, g.anchor_point)
    xy = xy - anchor
    rot = math.radians(g.rotate_deg)
    if g.approach_from_deg is not None:
        w = xy[in_win]
        d = w[0] - w[-1]
        if np.hypot(*d) > 1.0:
            # Turn the start to lie on the bearing approach_from_deg from the end.
            rot = math.radians(g.approach_from_deg) - math.atan2(d[0], d[1])
    c, s = math.cos(rot), math.sin(rot)
    # Clockwise rotation by rot: a point at bearing b moves to bearing b + rot.
    xy = np.column_stack([xy[:, 0] * c + xy[:, 1] * s, -xy[:, 0] * s + xy[:, 1] * c])
    target = np.array([g.east_m, g.north_m])
    if g.aim_zone is not None:
        if zones is None:
            raise ValueError("aim_zone needs the scenario's zones")
        geom = {z.id: z for z in zones}[g.aim_zone].polygon_enu
        pt = geom.centroid if geom.contains(geom.centroid) else geom.representative_point()
        target = target + np.array([pt.x, pt.y])
    xy = xy + target
    h = _heights(track, g, in_win)
    return track.t_s, np.column_stack([xy, h]), lo, hi


def fly(
    track: Track, g: Recorded, zones: ZoneSet | None, n_t: int, dt_s: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The group's object on the grid ``k * dt_s`` (k < n_t): pos, vel (n_t, 3), exists (n_t,).

    Positions are East, North and height above the site ground (the caller
    bends them onto the Earth like every other object).
    """
    t_log, xyz, lo, hi = relocate(track, g, zones)
    tq = lo + np.arange(n_t) * dt_s - g.launch_s
    exists = (tq >= lo - 1e-9) & (tq <= hi + 1e-9)
    # Inside a gap longer than max_gap_s the object is absent.
    k = np.clip(np.searchsorted(t_log, tq, side="right") - 1, 0, t_log.size - 2)
    long_gap = np.diff(t_log) > g.max_gap_s
    exists &= ~(long_gap[k] & (tq > t_log[k]) & (tq < t_log[k + 1]))
    pos = np.column_stack([np.interp(tq, t_log, xyz[:, j]) for j in range(3)])
    if g.wind_mps != (0.0, 0.0):
        # A steady wind carries the object as it flies: the logged path is its path
        # through the air, and the air moves. The anchor's moment (the window's start,
        # end or middle) stays where it was placed, so an aimed flight still arrives.
        t_ref = {"first": lo, "last": hi}.get(g.anchor_point, (lo + hi) / 2.0)
        pos[:, :2] += np.outer(tq - t_ref, g.wind_mps)
    if g.smooth_s > 0.0:
        # Imported here, like the truth model's lfilter: a third of a second that
        # listing the built-ins (the command line's help) would otherwise pay.
        from scipy.ndimage import gaussian_filter1d

        for a, b in _runs(exists):
            pos[a:b] = gaussian_filter1d(pos[a:b], g.smooth_s / dt_s, axis=0, mode="nearest")
    vel = np.zeros_like(pos)
    both = exists[:-1] & exists[1:]
    vel[:-1][both] = (pos[1:][both] - pos[:-1][both]) / dt_s
    # The last point of a run keeps the velocity it arrived with.
    last = exists[1:] & ~np.append(exists[2:], False) & exists[:-1]
    vel[1:][last] = vel[:-1][last]
    pos[~exists] = 0.0
    vel[~exists] = 0.0
    return pos, vel, exists


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges of the True runs of a 1-D mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def resolve_track_path(track: str, base_dir: Path | None) -> Path:
    """A spec's ``track`` as a path: absolute as given, else relative to the spec's folder."""
    p = Path(track)
    if p.is_absolute() or base_dir is None:
        return p
    return base_dir / p


def real_scenarios(split: str) -> list[Path]:
    """The committed real-flight scenario specs of ``split`` ("train" or "eval"), sorted.

    They live in ``scenarios/real/<split>/`` of the source tree; each uses only
    corpus flights of that split (data/flights/manifest.csv).
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    return sorted((_REPO_ROOT / "scenarios" / "real" / split).glob("*.yaml"))


def corpus_dir() -> Path:
    """The folder of the real-flight corpus (``data/flights`` of the source tree)."""
    return _REPO_ROOT / "data" / "flights"
