"""Per-track kinematic and signature history, and the classifier's features.

History lives in fixed-depth ring buffers, one row ("slot") per live track, so
that every feature is computed for all tracks in one compiled pass over the
window's columns. A slot is freed when its track is deleted or leaves the table, so
memory is bounded by the number of live tracks.

Features (one value per track, NaN when the history cannot tell):

=================  =====================================================================
``speed_mps``      horizontal speed now
``height_m``       ENU up now (height above the site origin)
``climb_mps``      mean absolute vertical speed over the window
``net_climb_mps``  absolute mean vertical speed over the window (the net climb)
``speed_std_mps``  standard deviation of horizontal speed over the window
``turn_rate_dps``  mean absolute heading rate over the window, degrees per second
``straightness``   net horizontal displacement / path length over the window (0..1)
``hover_frac``     fraction of the window spent below ``HOVER_SPEED_MPS``
``rcs_dbsm``       mean radar cross-section of the radar updates in the whole history ring
``rcs_std_db``     standard deviation of that radar cross-section (wing-beat flutter)
``rf_frac``        fraction of output ticks in the window with an RF (emitter) update
=================  =====================================================================

``net_climb_mps`` has no histogram of its own (it would count the climb twice);
the classifier reads one class's climb term at it (``unknown_net_climb``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..types import BEARING_KINDS, Association, Detection, TrackTable

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
    "net_climb_mps",
)
#: The features with a trained histogram; the others feed rules only.
HISTOGRAM_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f != "net_climb_mps")

# A plain int for the compiled loop (Numba freezes it as a constant).
_N_FEATURES = len(FEATURES)

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
    """Ring buffers of recent states per track, addressed by track id.

    Every call of :meth:`push` writes one sample for every live track into the same
    ring column (the one after the previous push's), so a column is one output
    tick for all tracks and the chronological order is the same for every row: a
    feature window is a run of columns found once per call. A row's samples from
    before its track's first push are masked by ``born``.
    """

    #: State components kept, one ring each: position (e, n, u) and velocity (e, n, u).
    _COMPONENTS = ("e", "n", "u", "ve", "vn", "vu")

    def __init__(self, depth: int = 32, n_evidence: int = 5) -> None:
        """``n_evidence``: columns of each track's evidence (one per class, and one per
        subclass the classifier keeps apart)."""
        self.depth = depth
        self.n_evidence = n_evidence
        #: Pushes so far; the next goes to column ``tick % depth``.
        self.tick = 0
        #: Time (s) and tick of the push in each column (NaN / -1: never written).
        self.col_t = np.full(depth, np.nan)
        self.col_tick = np.full(depth, -1, np.int64)
        #: Track ids with a slot, ascending, and their slots.
        self._ids = np.empty(0, np.int64)
        self._slot = np.empty(0, np.int64)
        self._grow(0)

    def _grow(self, n_slots: int) -> None:
        d = self.depth
        old = getattr(self, "born", None)
        n_old = 0 if old is None else old.shape[0]
        new = {
            **{c: np.zeros((n_slots, d)) for c in self._COMPONENTS},
            "rcs": np.full((n_slots, d), np.nan),
            "rf": np.zeros((n_slots, d)),
            # 1 where the track was held (confirmed: fixed within the tracker's coast
            # time), 0 where it coasted on its filter's prediction.
            "held": np.zeros((n_slots, d)),
            "born": np.full(n_slots, -1, np.int64),
            "last_t_s": np.full(n_slots, np.nan),
            # Time of the track's latest position fix (a radar plot, a position report).
            "last_fix_t_s": np.full(n_slots, np.nan),
            "evidence": np.zeros((n_slots, self.n_evidence)),
            # Seconds the track has stood still in the air while fixed (the classifier's
            # hover signature), summed over its life.
            "hovered_s": np.zeros(n_slots),
            # Time-weighted share of recent scans faster than a bird, since the speed last
            # fell below the classifier's hysteresis band (its "faster than a bird" latch).
            "fast_frac": np.zeros(n_slots),
            # The track's speed averaged with the classifier's cruise time constant since
            # its settle time (NaN before): what it keeps up, not what it bursts to.
            "cruise_mps": np.full(n_slots, np.nan),
            # Seconds the track has soared as a bird does (the classifier's soaring
            # rule), summed over its life.
            "soared_s": np.zeros(n_slots),
            # Time-weighted share of the track's recent scans slower than a bird, once
            # its feature window is past its settle time (NaN before): what the
            # slow-flyer base rate weighs by.
            "slow_share": np.full(n_slots, np.nan),
        }
        for name, arr in new.items():
            if n_old:
                arr[:n_old] = getattr(self, name)
            setattr(self, name, arr)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def slots(self, ids: np.ndarray) -> np.ndarray:
        """Slots (n,) of the tracks ``ids`` (n,); forgets every other track, allocates new ones."""
        ids = np.asarray(ids, np.int64)
        self._release(~np.isin(self._ids, ids))
        pos = np.searchsorted(self._ids, ids)
        known = pos < self._ids.shape[0]
        known[known] = self._ids[pos[known]] == ids[known]
        out = np.empty(ids.shape[0], np.int64)
        out[known] = self._slot[pos[known]]
        fresh = np.flatnonzero(~known)
        if fresh.shape[0]:
            free = np.flatnonzero(self.born < 0)
            if free.shape[0] < fresh.shape[0]:
                n_old = self.born.shape[0]
                self._grow(max(16, 2 * n_old, n_old + fresh.shape[0]))
                free = np.flatnonzero(self.born < 0)
            s = free[: fresh.shape[0]]
            self.born[s] = self.tick
            out[fresh] = s
            order = np.argsort(np.concatenate([self._ids, ids[fresh]]), kind="stable")
            self._ids = np.concatenate([self._ids, ids[fresh]])[order]
            self._slot = np.concatenate([self._slot, s])[order]
        return out

    def forget(self, ids: np.ndarray) -> None:
        """Drop the history of tracks ``ids`` (deleted tracks)."""
        self._release(np.isin(self._ids, np.asarray(ids, np.int64)))

    def _release(self, which: np.ndarray) -> None:
        """Free the slots of ``self._ids[which]``."""
        if not which.any():
            return
        s = self._slot[which]
        self.born[s] = -1
        self.last_t_s[s] = np.nan
        self.last_fix_t_s[s] = np.nan
        self.evidence[s] = 0.0
        self.hovered_s[s] = 0.0
        self.fast_frac[s] = 0.0
        self.cruise_mps[s] = np.nan
        self.soared_s[s] = 0.0
        self.slow_share[s] = np.nan
        self._ids, self._slot = self._ids[~which], self._slot[~which]

    def push(
        self,
        slots: np.ndarray,
        t_s: float,
        x: np.ndarray,
        rcs_dbsm: np.ndarray,
        rf: np.ndarray,
        held: np.ndarray | None = None,
    ) -> None:
        """Append one sample per slot: state x (n, 6), mean RCS (n,) (NaN if none), RF flag
        (n,), held flag (n,) (default: held). Every live slot is pushed at each call (the
        slots of :meth:`slots`)."""
        c = self.tick % self.depth
        for k, name in enumerate(self._COMPONENTS):
            getattr(self, name)[slots, c] = x[:, k]
        self.rcs[slots, c] = rcs_dbsm
        self.rf[slots, c] = rf
        self.held[slots, c] = 1.0 if held is None else held
        self.col_t[c] = t_s
        self.col_tick[c] = self.tick
        self.tick += 1

    def _window_len(self, t_s: float, window_s: float) -> int:
        """How many of the latest pushes lie within ``window_s`` of ``t_s`` (the feature
        window; push times never decrease)."""
        recent = self.col_t[(self.tick - 1 - np.arange(min(self.tick, self.depth))) % self.depth]
        return int(np.count_nonzero(recent >= t_s - window_s))

    def held_still_frac(
        self, slots: np.ndarray, t_s: float, window_s: float, t_start_s: np.ndarray
    ) -> np.ndarray:
        """Per slot (n,): the fraction of the window's samples (as :meth:`features` takes
        them) in which the track was held and slower than ``HOVER_SPEED_MPS``; NaN with
        fewer than ``MIN_SAMPLES``. Unlike ``hover_frac`` a coasting sample never counts:
        its speed is the filter's guess."""
        n, k = slots.shape[0], self._window_len(t_s, window_s)
        if n == 0 or k == 0:
            return np.full(n, np.nan)
        ticks = self.tick - k + np.arange(k)
        cols = ticks % self.depth
        rows = slots[:, None]
        valid = (ticks[None, :] >= self.born[rows]) & (
            self.col_t[cols][None, :] >= t_start_s[:, None]
        )
        still = np.hypot(self.ve[rows, cols], self.vn[rows, cols]) < HOVER_SPEED_MPS
        held = self.held[rows, cols] > 0.5
        cnt = valid.sum(axis=1)
        frac = (valid & still & held).sum(axis=1) / np.maximum(cnt, 1)
        return np.where(cnt >= MIN_SAMPLES, frac, np.nan)

    def features(
        self, slots: np.ndarray, t_s: float, window_s: float, t_start_s: np.ndarray
    ) -> np.ndarray:
        """Features (n, len(FEATURES)) over the samples of the last ``window_s`` seconds
        that are not older than ``t_start_s`` (n,) (a new track's filter transient)."""
        n, k = slots.shape[0], self._window_len(t_s, window_s)
        if n == 0 or k == 0:
            return np.full((n, len(FEATURES)), np.nan)
        return _features(
            self.e, self.n, self.u, self.ve, self.vn, self.vu, self.rcs, self.rf,
            self.born, self.col_t, self.col_tick,
            np.ascontiguousarray(slots, np.int64), np.ascontiguousarray(t_start_s, np.float64),
            self.tick, k,
        )  # fmt: skip


# One loop per track over its window's columns, compiled (Numba): as whole-array
# NumPy expressions the features made a dozen (tracks × window) temporaries per
# tick, 2.8 ms of a 1,000-track scan. The signature compiles at import.
@njit(
    "f8[:, ::1](f8[:, ::1], f8[:, ::1], f8[:, ::1], f8[:, ::1], f8[:, ::1], f8[:, ::1],"
    " f8[:, ::1], f8[:, ::1], i8[::1], f8[::1], i8[::1], i8[::1], f8[::1], i8, i8)",
    cache=True,
)
def _features(e, nn, u, ve, vn, vu, rcs, rf, born, col_t, col_tick, slots, t_start, tick, k):
    d = col_t.shape[0]
    n = slots.shape[0]
    out = np.full((n, _N_FEATURES), np.nan)
    cols = np.empty(k, np.int64)
    m = np.empty(k, np.bool_)
    spd = np.empty(k)
    for j in range(k):
        cols[j] = (tick - k + j) % d
    for r in range(n):
        s = slots[r]
        b = born[s]
        t0 = t_start[r]
        # Samples taken while the track lived and after its transient; a suffix of the window.
        n_valid = 0
        for j in range(k):
            c = cols[j]
            m[j] = tick - k + j >= b and col_t[c] >= t0
            if m[j]:
                n_valid += 1
                spd[j] = math.sqrt(ve[s, c] * ve[s, c] + vn[s, c] * vn[s, c])
            else:
                spd[j] = 0.0
        enough = n_valid >= MIN_SAMPLES
        cnt = max(n_valid, 1)
        last = cols[k - 1]
        if m[k - 1]:
            out[r, 0] = spd[k - 1]
            out[r, 1] = u[s, last]
        if enough:
            climb = 0.0
            net_climb = 0.0
            spd_sum = 0.0
            hover = 0
            rf_sum = 0.0
            for j in range(k):
                if m[j]:
                    c = cols[j]
                    climb += abs(vu[s, c])
                    net_climb += vu[s, c]
                    spd_sum += spd[j]
                    hover += spd[j] < HOVER_SPEED_MPS
                    rf_sum += rf[s, c]
            mean_spd = spd_sum / cnt
            var = 0.0
            for j in range(k):
                if m[j]:
                    var += (spd[j] - mean_spd) ** 2
            out[r, 2] = climb / cnt
            out[r, 3] = math.sqrt(var / cnt)
            out[r, 6] = hover / cnt
            out[r, 9] = rf_sum / cnt
            out[r, 10] = abs(net_climb) / cnt
        # Turn rate from consecutive headings of samples fast enough to have one, and
        # the path length, over consecutive pairs of samples.
        n_rate = 0
        rate = 0.0
        path = 0.0
        first = -1
        for j in range(k):
            if m[j] and first < 0:
                first = j
            if j == 0 or not (m[j] and m[j - 1]):
                continue
            c0, c1 = cols[j - 1], cols[j]
            dt = col_t[c1] - col_t[c0]
            de = e[s, c1] - e[s, c0]
            dn = nn[s, c1] - nn[s, c0]
            path += math.sqrt(de * de + dn * dn)
            if spd[j] > MIN_TURN_SPEED_MPS and spd[j - 1] > MIN_TURN_SPEED_MPS and dt > 0:
                v0e, v0n, v1e, v1n = ve[s, c0], vn[s, c0], ve[s, c1], vn[s, c1]
                dh = math.atan2(v0n * v1e - v0e * v1n, v0n * v1n + v0e * v1e)
                rate += abs(dh) / dt
                n_rate += 1
        if n_rate >= MIN_SAMPLES - 1:
            out[r, 4] = math.degrees(rate / n_rate)
        if enough and path > MIN_PATH_M and m[k - 1]:
            c0 = cols[first]
            net = math.hypot(e[s, last] - e[s, c0], nn[s, last] - nn[s, c0])
            out[r, 5] = min(max(net / path, 0.0), 1.0)
        # Radar cross-section: the whole ring (any order), from the end of the transient.
        n_rcs = 0
        rcs_sum = 0.0
        for c in range(d):
            x = rcs[s, c]
            if col_tick[c] >= b and col_t[c] >= t0 and math.isfinite(x):
                n_rcs += 1
                rcs_sum += x
        if n_rcs >= 1:
            mean_rcs = rcs_sum / n_rcs
            out[r, 7] = mean_rcs
            if n_rcs >= MIN_SAMPLES:
                var = 0.0
                for c in range(d):
                    x = rcs[s, c]
                    if col_tick[c] >= b and col_t[c] >= t0 and math.isfinite(x):
                        var += (x - mean_rcs) ** 2
                out[r, 8] = math.sqrt(var / n_rcs)
    return out


def scan_inputs(
    table: TrackTable, assoc: Association
) -> tuple[np.ndarray, np.ndarray, dict[int, list[tuple[Detection, str]]], np.ndarray]:
    """What one scan's association says about each table row.

    Returns mean radar cross-section (n,) dBsm (NaN without a radar update), an
    RF-update flag (n,) 0/1, per track id that a cooperative report (Remote
    ID, ADS-B) updated, all its (detection, sensor kind) pairs in association
    order: what the spoof check reads (other tracks have nothing to check), and a
    position-fix flag (n,) bool: an update that measures where the object is (a
    radar plot, a position report), not only a bearing to it (RF, camera).
    """
    n = len(table)
    rf = np.zeros(n)
    fixed = np.zeros(n, bool)
    by_track: dict[int, list[tuple[Detection, str]]] = {}
    k = assoc.track_id.shape[0]
    if n == 0 or k == 0:
        return np.full(n, np.nan), rf, by_track, fixed
    order = np.argsort(table.id, kind="stable")
    pos = np.minimum(np.searchsorted(table.id, assoc.track_id, sorter=order), n - 1)
    row = order[pos]
    seen = table.id[row] == assoc.track_id
    kinds = np.asarray(assoc.kinds)
    radar = seen & (kinds == "radar")
    # None reads as NaN in a float array.
    rcs = np.full(k, np.nan)
    rcs[radar] = np.array([assoc.detections[j].rcs_dbsm for j in np.flatnonzero(radar)], float)
    has = radar & np.isfinite(rcs)
    # bincount adds in association order, as a loop would.
    rcs_sum = np.bincount(row[has], weights=rcs[has], minlength=n)
    rcs_n = np.bincount(row[has], minlength=n)
    rf[row[seen & (kinds == "rf")]] = 1.0
    fixed[row[seen & ~np.isin(kinds, BEARING_KINDS)]] = True
    coop = seen & ((kinds == "remoteid") | (kinds == "adsb"))
    if coop.any():
        ids = assoc.track_id
        for j in np.flatnonzero(seen & np.isin(ids, ids[coop])):
            by_track.setdefault(int(ids[j]), []).append((assoc.detections[j], assoc.kinds[j]))
    mean = np.where(rcs_n > 0, rcs_sum / np.maximum(rcs_n, 1), np.nan)
    return mean, rf, by_track, fixed
