"""Per-track kinematic and signature history, and the classifier's features.

History lives in fixed-depth ring buffers, one row ("slot") per live track, so
that every feature is computed for all tracks at once with NaN-aware NumPy
reductions. A slot is freed when its track is deleted or leaves the table, so
memory is bounded by the number of live tracks.

Features (one value per track, NaN when the history cannot tell):

=================  =====================================================================
``speed_mps``      horizontal speed now
``height_m``       ENU up now (height above the site origin)
``climb_mps``      mean absolute vertical speed over the window
``speed_std_mps``  standard deviation of horizontal speed over the window
``turn_rate_dps``  mean absolute heading rate over the window, degrees per second
``straightness``   net horizontal displacement / path length over the window (0..1)
``hover_frac``     fraction of the window spent below ``HOVER_SPEED_MPS``
``rcs_dbsm``       mean radar cross-section of the radar updates in the whole history ring
``rcs_std_db``     standard deviation of that radar cross-section (wing-beat flutter)
``rf_frac``        fraction of output ticks in the window with an RF (emitter) update
=================  =====================================================================
"""

from __future__ import annotations

import numpy as np

from ..types import Association, Detection, TrackTable

FEATURES: tuple[str, ...] = (
    "speed_mps",
    "height_m",
    "climb_mps",
    "speed_std_mps",
    "turn_rate_dps",
    "straightness",
    "hover_frac",
    "rcs_dbsm",
    "rcs_std_db",
    "rf_frac",
)

#: Below this horizontal speed an object counts as hovering.
HOVER_SPEED_MPS = 2.0
#: Headings of slower objects are too noisy to give a turn rate.
MIN_TURN_SPEED_MPS = 3.0
#: Below this path length straightness is meaningless.
MIN_PATH_M = 30.0
#: Window statistics need at least this many samples.
MIN_SAMPLES = 3
#: History ring depth beyond the feature window: the radar cross-section is averaged
#: over the whole ring, because a Swerling-1 echo's dB value has a 5.6 dB spread and
#: a 2-3 dB difference separates attack drones from helicopters.
EXTRA_DEPTH = 20


class TrackHistory:
    """Ring buffers of recent states per track, addressed by track id."""

    def __init__(self, depth: int = 32) -> None:
        self.depth = depth
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._grow(0)

    def _grow(self, n_slots: int) -> None:
        d = self.depth
        old = getattr(self, "t_s", None)
        n_old = 0 if old is None else old.shape[0]
        new = {
            "t_s": np.full((n_slots, d), np.nan),
            "x": np.full((n_slots, d, 6), np.nan),
            "rcs": np.full((n_slots, d), np.nan),
            "rf": np.zeros((n_slots, d)),
            "head": np.zeros(n_slots, np.int64),
            "last_t_s": np.full(n_slots, np.nan),
            "evidence": np.zeros((n_slots, 5)),
        }
        for name, arr in new.items():
            if n_old:
                arr[:n_old] = getattr(self, name)
            setattr(self, name, arr)
        self._free.extend(range(n_slots - 1, n_old - 1, -1))

    def __len__(self) -> int:
        return len(self._slot_of)

    def slots(self, ids: np.ndarray) -> np.ndarray:
        """Slots (n,) of the tracks ``ids`` (n,); forgets every other track, allocates new ones."""
        keep = {int(i) for i in ids}
        for tid in [t for t in self._slot_of if t not in keep]:
            self._release(tid)
        out = np.empty(len(ids), np.int64)
        for k, tid in enumerate(ids):
            s = self._slot_of.get(int(tid))
            if s is None:
                if not self._free:
                    self._grow(max(16, 2 * self.t_s.shape[0]))
                s = self._free.pop()
                self._slot_of[int(tid)] = s
            out[k] = s
        return out

    def forget(self, ids: np.ndarray) -> None:
        """Drop the history of tracks ``ids`` (deleted tracks)."""
        for tid in ids:
            if int(tid) in self._slot_of:
                self._release(int(tid))

    def _release(self, tid: int) -> None:
        s = self._slot_of.pop(tid)
        self.t_s[s] = np.nan
        self.x[s] = np.nan
        self.rcs[s] = np.nan
        self.rf[s] = 0.0
        self.head[s] = 0
        self.last_t_s[s] = np.nan
        self.evidence[s] = 0.0
        self._free.append(s)

    def push(
        self, slots: np.ndarray, t_s: float, x: np.ndarray, rcs_dbsm: np.ndarray, rf: np.ndarray
    ) -> None:
        """Append one sample per slot: state x (n, 6), mean RCS (n,) (NaN if none), RF flag (n,)."""
        idx = self.head[slots] % self.depth
        self.t_s[slots, idx] = t_s
        self.x[slots, idx] = x
        self.rcs[slots, idx] = rcs_dbsm
        self.rf[slots, idx] = rf
        self.head[slots] += 1

    def features(
        self, slots: np.ndarray, t_s: float, window_s: float, t_start_s: np.ndarray
    ) -> np.ndarray:
        """Features (n, len(FEATURES)) over the samples of the last ``window_s`` seconds
        that are not older than ``t_start_s`` (n,) (a new track's filter transient)."""
        n = slots.shape[0]
        out = np.full((n, len(FEATURES)), np.nan)
        if n == 0:
            return out
        # Chronological order of each ring: oldest first.
        order = (self.head[slots, None] + np.arange(self.depth)[None]) % self.depth
        rows = slots[:, None]
        t = self.t_s[rows, order]
        x = self.x[rows, order]
        valid = np.isfinite(t) & (t >= np.maximum(t_s - window_s, t_start_s)[:, None])
        n_valid = valid.sum(axis=1)
        enough = n_valid >= MIN_SAMPLES
        x = np.where(valid[..., None], x, np.nan)
        t = np.where(valid, t, np.nan)
        spd = np.hypot(x[..., 3], x[..., 4])

        with np.errstate(invalid="ignore", divide="ignore"):
            last = np.full(n, self.depth - 1)
            x_now = x[np.arange(n), last]
            out[:, 0] = np.hypot(x_now[:, 3], x_now[:, 4])
            out[:, 1] = x_now[:, 2]
            out[:, 2] = _nanmean(np.abs(x[..., 5]), enough)
            out[:, 3] = _nanstd(spd, enough)

            # Turn rate from consecutive headings of samples fast enough to have one.
            hdg = np.arctan2(x[..., 3], x[..., 4])
            dh = (np.diff(hdg, axis=1) + np.pi) % (2 * np.pi) - np.pi
            dt = np.diff(t, axis=1)
            fast = (spd[:, 1:] > MIN_TURN_SPEED_MPS) & (spd[:, :-1] > MIN_TURN_SPEED_MPS)
            rate = np.where(fast & (dt > 0), np.abs(dh) / dt, np.nan)
            out[:, 4] = np.degrees(_nanmean(rate, np.isfinite(rate).sum(axis=1) >= MIN_SAMPLES - 1))

            step = np.hypot(np.diff(x[..., 0], axis=1), np.diff(x[..., 1], axis=1))
            path = np.nansum(step, axis=1)
            first = np.argmax(valid, axis=1)
            net = np.hypot(
                x[np.arange(n), last, 0] - x[np.arange(n), first, 0],
                x[np.arange(n), last, 1] - x[np.arange(n), first, 1],
            )
            ok = enough & (path > MIN_PATH_M)
            out[:, 5] = np.where(ok, np.clip(net / np.where(ok, path, 1.0), 0.0, 1.0), np.nan)
            out[:, 6] = np.where(
                enough, np.sum(valid & (spd < HOVER_SPEED_MPS), axis=1) / n_valid, np.nan
            )

            settled = np.isfinite(self.t_s[rows, order]) & (
                self.t_s[rows, order] >= t_start_s[:, None]
            )
            rcs = np.where(settled, self.rcs[rows, order], np.nan)
            n_rcs = np.isfinite(rcs).sum(axis=1)
            out[:, 7] = _nanmean(rcs, n_rcs >= 1)
            out[:, 8] = _nanstd(rcs, n_rcs >= MIN_SAMPLES)
            rf = np.where(valid, self.rf[rows, order], 0.0)
            out[:, 9] = np.where(enough, rf.sum(axis=1) / np.maximum(n_valid, 1), np.nan)
        return out


def _nanmean(a: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN, NaN where ``ok`` is false (no warnings on empty rows)."""
    cnt = np.isfinite(a).sum(axis=1)
    s = np.nansum(a, axis=1)
    return np.where(ok & (cnt > 0), s / np.maximum(cnt, 1), np.nan)


def _nanstd(a: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Row standard deviations ignoring NaN, NaN where ``ok`` is false."""
    m = _nanmean(a, np.ones(a.shape[0], bool))
    cnt = np.isfinite(a).sum(axis=1)
    var = np.nansum((a - m[:, None]) ** 2, axis=1) / np.maximum(cnt, 1)
    return np.where(ok & (cnt > 0), np.sqrt(var), np.nan)


def scan_inputs(
    table: TrackTable, assoc: Association
) -> tuple[np.ndarray, np.ndarray, dict[int, list[tuple[Detection, str]]]]:
    """What one scan's association says about each table row.

    Returns mean radar cross-section (n,) dBsm (NaN without a radar update), an
    RF-update flag (n,) 0/1, and the (detection, sensor kind) pairs per track id.
    """
    n = len(table)
    row_of = {int(t): i for i, t in enumerate(table.id)}
    rcs_sum = np.zeros(n)
    rcs_n = np.zeros(n)
    rf = np.zeros(n)
    by_track: dict[int, list[tuple[Detection, str]]] = {}
    for tid, det, kind in zip(assoc.track_id, assoc.detections, assoc.kinds, strict=True):
        i = row_of.get(int(tid))
        if i is None:
            continue
        by_track.setdefault(int(tid), []).append((det, kind))
        if kind == "radar" and det.rcs_dbsm is not None:
            rcs_sum[i] += det.rcs_dbsm
            rcs_n[i] += 1
        elif kind == "rf":
            rf[i] = 1.0
    rcs = np.where(rcs_n > 0, rcs_sum / np.maximum(rcs_n, 1), np.nan)
    return rcs, rf, by_track
