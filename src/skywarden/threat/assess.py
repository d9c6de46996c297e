"""Threat level per (track, zone) and the alert lifecycle: raised -> updated -> cleared.

Level of a confirmed or coasting track against a zone, from its time to arrival
``tta`` (:mod:`.geometry`) and its classification:

* ``critical``: a likely hostile drone (drone probability >= ``drone_p``, not a
  believed cooperative identity) inside, or arriving within ``critical_horizon_s``;
* ``warning``: such a drone arriving within ``warning_horizon_s``, one that
  *may* arrive (uncertainty and manoeuvre allowance) within ``critical_horizon_s``,
  or one closing on the zone (heading within ``acos(closing_min_cos)`` of it)
  that would reach it within ``warning_horizon_s`` at its closing speed (attack
  drones fly doglegs whose straight-line extension misses the zone);
* ``info``: an object that may be a drone or is unidentified (drone + unknown
  probability >= ``info_p``) and has been tracked for ``info_min_age_s``, or
  (only with ``cooperative_info``) a believed cooperative drone, arriving
  within ``warning_horizon_s``;
* nothing for anything else (birds, manned aircraft, objects still being
  classified): an operator must not be paged for every bird near a fence.

Tracks whose horizontal position one-sigma exceeds ``max_pos_sigma_m`` get no
new level (a bearing-only track has no time to arrival). Every raised alert counts as an alarm (``skywarden eval`` counts raised threat
alerts of all levels), so ``info`` is kept for what an operator would want to
look at. A new alert is raised only once its level has held for
``raise_hold_s`` (one noisy scan is no alarm).

Horizons scale with the zone's priority (``priority_boost`` per step above
``reference_priority``). Hysteresis: an open alert keeps its level with the
looser exit thresholds (``drone_p_exit``, horizons x ``horizon_exit_factor``);
a level drops only after ``downgrade_hold_s`` at the lower level; the alert is
cleared once there has been no threat for ``clear_delay_s`` and it has been
open ``min_hold_s``, or at once when its track is deleted or gone. An update is
written when the level rises or falls, or when the time to arrival changed by
more than ``update_tta_rel`` and ``update_tta_abs_s`` (and not more often than
``min_update_interval_s``), so a drone gives one alert and a few updates.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import msgspec
import numpy as np

from ..types import CLASSES, COASTING, CONFIRMED, AlertLine, TrackTable, track_label
from .geometry import arrival, closing_time, position_sigma, possible_arrival
from .zones import ZoneSet

log = logging.getLogger(__name__)

_LEVELS = ("info", "warning", "critical")
_ID = re.compile(r"^A(\d+)$")
_TRACK = re.compile(r"^T(\d+)$")


class ThreatConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Threat thresholds and alert lifecycle timing (seconds, probabilities, m/s, metres)."""

    #: A likely hostile drone arriving within this is ``critical``.
    critical_horizon_s: float = 120.0
    #: ... within this, ``warning`` (and possible drones or unidentified objects ``info``).
    warning_horizon_s: float = 300.0
    #: Drone probability needed to raise a drone alert ...
    drone_p: float = 0.6
    #: ... and below which an open drone alert stops being one (hysteresis).
    drone_p_exit: float = 0.45
    #: Drone + unknown probability for an ``info`` alert on a non-cooperative object ...
    info_p: float = 0.5
    #: ... tracked at least this long (a new track reads "unknown" until classified).
    info_min_age_s: float = 30.0
    #: A closing drone's heading is within acos(this) of the zone's nearest point.
    closing_min_cos: float = 0.7
    #: Whether a believed cooperative (Remote ID) drone heading for a zone raises ``info``;
    #: off by default: it is known and accountable, and shown with its identity.
    cooperative_info: bool = False
    #: A new alert's level must hold this long before it is raised ...
    raise_hold_s: float = 3.0
    #: ... and an ``info`` alert this long: an object has to stay unidentified for a
    #: while before it is worth an operator's glance (a bird's class wavers briefly).
    info_raise_hold_s: float = 30.0
    #: No alert on a track whose horizontal position one-sigma exceeds this (bearing-only
    #: tracks, or a first fix at the edge of radar cover: no usable time to arrival).
    max_pos_sigma_m: float = 60.0
    #: Horizons are this much longer for an alert that is already open.
    horizon_exit_factor: float = 1.25
    #: Zone priority 1 is highest; each step above ``reference_priority`` lengthens
    #: horizons by this fraction (and each step below shortens them), within x0.5..x2.
    priority_boost: float = 0.25
    reference_priority: int = 3
    #: An alert stays open at least this long after it was raised.
    min_hold_s: float = 15.0
    #: ... and is cleared after this long with no threat.
    clear_delay_s: float = 10.0
    #: A lower level must persist this long before the alert is downgraded.
    downgrade_hold_s: float = 10.0
    #: Time-to-arrival updates no more often than this ...
    min_update_interval_s: float = 10.0
    #: ... and only when it changed by more than this fraction and this many seconds.
    update_tta_rel: float = 0.2
    update_tta_abs_s: float = 10.0
    #: Vertical speed is extrapolated this far only (nobody climbs for minutes).
    vertical_horizon_s: float = 30.0
    #: Weight of each scan in the smoothed arrival time used for update decisions.
    arrival_smoothing: float = 0.3
    #: Velocity uncertainty (one sigma, m/s) allowed for a drone's manoeuvres.
    manoeuvre_sigma_mps: float = 3.0
    #: Possible arrival: within this many sigmas of the zone ...
    n_sigma: float = 2.0
    #: ... but never more than this many metres.
    max_allowance_m: float = 400.0
    #: Step of the possible-arrival samples along the predicted path.
    sample_step_s: float = 5.0


@dataclass
class _Alert:
    line: AlertLine  # the latest line written (raised or updated)
    raised_t: float
    level: str
    tta_s: float
    last_emit_t: float
    arrival_t: float = math.inf  # smoothed predicted arrival time, UTC seconds
    was_inside: bool = False
    quiet_since: float | None = None  # no threat since
    lower_since: float | None = None  # a lower level since


class ThreatAssessor:
    """Turns tracks and their classes into alert lifecycle events, one alert per (track, zone)."""

    def __init__(self, zones: ZoneSet, config: ThreatConfig | None = None) -> None:
        self.config = config or ThreatConfig()
        self._open: dict[tuple[int, str], _Alert] = {}
        self._pending: dict[tuple[int, str], float] = {}  # since when a new alert qualifies
        self._next = 1
        self.set_zones(zones)

    def set_zones(self, zones: ZoneSet) -> None:
        """Replace the zones; alerts of a removed zone clear at the next assessment."""
        cfg = self.config
        self.zones = zones
        prio = np.array(
            [
                z.zone.priority if z.zone.priority is not None else cfg.reference_priority
                for z in zones
            ]
        )
        self._factor = np.clip(1.0 + cfg.priority_boost * (cfg.reference_priority - prio), 0.5, 2.0)

    # --- state -----------------------------------------------------------------

    def open_alerts(self) -> list[AlertLine]:
        """The latest line of every open alert (its current state)."""
        return [a.line for a in self._open.values()]

    def restore(self, alerts: list[AlertLine]) -> None:
        """Reopen alerts after a restart from their latest lines (cleared ones are skipped)."""
        for line in alerts:
            m = _ID.match(line.id)
            if m:
                self._next = max(self._next, int(m.group(1)) + 1)
            tm = _TRACK.match(line.track or "")
            if line.state == "cleared" or line.kind == "sensor" or tm is None or line.zone is None:
                if line.state == "cleared" and tm and line.zone:
                    self._open.pop((int(tm.group(1)), line.zone), None)
                continue
            tta = line.tta_s if line.tta_s is not None else math.inf
            self._open[(int(tm.group(1)), line.zone)] = _Alert(
                line=line,
                raised_t=line.t,
                level=line.level,
                tta_s=tta,
                last_emit_t=line.t,
                arrival_t=line.t + tta,
            )

    # --- per scan ----------------------------------------------------------------

    def levels(
        self, table: TrackTable, classes
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per (row, zone): level index (n, Z) int (-1 none, 0 info, 1 warning, 2 critical)
        with entry thresholds, the same with exit thresholds, time to arrival (n, Z)
        seconds and entry points (n, Z, 3) ENU metres."""
        cfg = self.config
        n, nz = len(table), len(self.zones)
        lvl_in = np.full((n, nz), -1, np.int64)
        lvl_out = lvl_in.copy()
        tta = np.full((n, nz), np.inf)
        entry = np.full((n, nz, 3), np.nan)
        located = np.sqrt((table.P[:, 0, 0] + table.P[:, 1, 1]) / 2.0) <= cfg.max_pos_sigma_m
        live = (table.status == CONFIRMED) | (table.status == COASTING)
        rows = np.flatnonzero(live & located)
        if rows.shape[0] == 0 or nz == 0:
            return lvl_in, lvl_out, tta, entry
        p = classes.p[rows]
        coop = np.asarray(classes.cooperative[rows], bool) & ~np.asarray(classes.spoof[rows], bool)
        p_drone = p[:, CLASSES.index("drone")]
        age = table.t_s - table.t_first_s[rows]
        maybe = (p_drone + p[:, CLASSES.index("unknown")] >= cfg.info_p) & (
            age >= cfg.info_min_age_s
        )
        x, P = table.x[rows], table.P[rows]
        h_max = cfg.warning_horizon_s * cfg.horizon_exit_factor * float(self._factor.max())
        t_samp = np.arange(
            0.0, cfg.critical_horizon_s * cfg.horizon_exit_factor * 2.0 + 1e-9, cfg.sample_step_s
        )
        sig = position_sigma(P, t_samp, cfg.manoeuvre_sigma_mps * p_drone)
        for j, z in enumerate(self.zones):
            vh = cfg.vertical_horizon_s
            t_j, e_j = arrival(z, x[:, :3], x[:, 3:], h_max, vh)
            t_pos = possible_arrival(
                z, x[:, :3], x[:, 3:], sig, t_samp, cfg.n_sigma, cfg.max_allowance_m, vh
            )
            t_cl = closing_time(z, x[:, :3], x[:, 3:], cfg.closing_min_cos)
            # Off the straight-line path, the time to arrival reported is the
            # earliest one a manoeuvre or a turn towards the zone allows.
            tta[rows, j] = np.where(np.isfinite(t_j), t_j, np.minimum(t_pos, t_cl))
            entry[rows, j] = e_j
            for out, dp, hx in (
                (lvl_in, cfg.drone_p, 1.0),
                (lvl_out, cfg.drone_p_exit, cfg.horizon_exit_factor),
            ):
                hc = cfg.critical_horizon_s * self._factor[j] * hx
                hw = cfg.warning_horizon_s * self._factor[j] * hx
                drone = (p_drone >= dp) & ~coop
                lv = np.full(rows.shape[0], -1)
                info = (maybe & ~coop) | (coop & (p_drone >= dp) & cfg.cooperative_info)
                lv[info & (t_j <= hw)] = 0
                lv[drone & ((t_j <= hw) | (t_pos <= hc) | (t_cl <= hw))] = 1
                lv[drone & (t_j <= hc)] = 2
                # A believed cooperative drone is known and accountable: info at most.
                lv = np.where(coop, np.minimum(lv, 0 if cfg.cooperative_info else -1), lv)
                out[rows, j] = lv
        return lvl_in, lvl_out, tta, entry

    def assess(self, table: TrackTable, classes) -> list[AlertLine]:
        """Alert lifecycle events of this scan (raised, updated, cleared), in a stable order."""
        cfg = self.config
        t = table.t_s
        lvl_in, lvl_out, tta, entry = self.levels(table, classes)
        row_of = {int(tid): i for i, tid in enumerate(table.id)}
        live = (table.status == CONFIRMED) | (table.status == COASTING)
        events: list[AlertLine] = []

        # Existing alerts first: keep, update, downgrade or clear.
        for key in sorted(self._open, key=lambda k: self._open[k].line.id):
            a = self._open[key]
            tid, zid = key
            i = row_of.get(tid)
            j = self.zones.ids.index(zid) if zid in self.zones.ids else None
            if i is None or j is None or not live[i]:
                why = "track lost" if i is None or not live[i] else "zone removed"
                events.append(self._clear(key, t, why, classes, i))
                continue
            lv = int(lvl_out[i, j])
            cur = _LEVELS.index(a.level)
            self._smooth(a, tta[i, j], t)
            if lv < 0:
                a.lower_since = None
                if a.quiet_since is None:
                    a.quiet_since = t
                if t - a.quiet_since >= cfg.clear_delay_s and t - a.raised_t >= cfg.min_hold_s:
                    if a.was_inside:
                        why = "left the zone"
                    elif not np.isfinite(tta[i, j]):
                        why = "turned away"
                    else:
                        why = "no longer a threat"
                    events.append(self._clear(key, t, why, classes, i))
                continue
            a.quiet_since = None
            # Rise with the entry thresholds at once; fall with the exit ones after a hold.
            new = max(lv, int(lvl_in[i, j]))
            if new > cur:
                a.lower_since = None
                events.append(
                    self._emit(key, t, "updated", new, tta[i, j], entry[i, j], classes, i)
                )
                continue
            if new < cur:
                a.lower_since = a.lower_since if a.lower_since is not None else t
                if t - a.lower_since >= cfg.downgrade_hold_s:
                    a.lower_since = None
                    events.append(
                        self._emit(key, t, "updated", new, tta[i, j], entry[i, j], classes, i)
                    )
                    continue
            else:
                a.lower_since = None
            if self._material(a, tta[i, j], t):
                events.append(
                    self._emit(key, t, "updated", cur, tta[i, j], entry[i, j], classes, i)
                )

        # New alerts, with the entry thresholds, once they have held for raise_hold_s.
        pending: dict[tuple[int, str], float] = {}
        for i, j in zip(*np.nonzero(lvl_in >= 0), strict=True):
            key = (int(table.id[i]), self.zones.zones[j].id)
            if key in self._open:
                continue
            since = pending[key] = self._pending.get(key, t)
            hold = cfg.info_raise_hold_s if lvl_in[i, j] == 0 else cfg.raise_hold_s
            if t - since < hold:
                continue
            del pending[key]
            events.append(
                self._emit(key, t, "raised", int(lvl_in[i, j]), tta[i, j], entry[i, j], classes, i)
            )
        self._pending = pending
        return events

    # --- helpers -------------------------------------------------------------------

    def _smooth(self, a: _Alert, tta: float, t: float) -> None:
        """Fold this scan's predicted arrival time t + tta into the alert's average."""
        arr = t + tta
        if np.isfinite(arr) and np.isfinite(a.arrival_t):
            a.arrival_t += self.config.arrival_smoothing * (arr - a.arrival_t)
        else:
            a.arrival_t = arr

    def _material(self, a: _Alert, tta: float, t: float) -> bool:
        """Whether the predicted arrival changed enough to tell people again.

        Both the time to arrival and the arrival *time* (t + tta, smoothed over a
        few scans against track noise) must have moved by more than
        ``update_tta_rel`` of the last reported time to arrival and by more
        than ``update_tta_abs_s``: a drone that keeps coming as predicted counts
        its own time down (arrival time steady), and one loitering at a fixed
        distance keeps its time to arrival (the arrival time slides). Arriving
        inside, or arrival becoming (im)possible, is always news.
        """
        cfg = self.config
        if t - a.last_emit_t < cfg.min_update_interval_s:
            return False
        if tta == 0.0:
            return a.tta_s > 0.0
        last_arr = a.last_emit_t + a.tta_s
        if not np.isfinite(a.arrival_t) or not np.isfinite(last_arr):
            return bool(np.isfinite(a.arrival_t) != np.isfinite(last_arr))
        thr = max(cfg.update_tta_rel * a.tta_s, cfg.update_tta_abs_s)
        d_arr = abs(a.arrival_t - last_arr)
        d_tta = abs((a.arrival_t - t) - a.tta_s)
        return d_arr > thr and d_tta > thr

    def _emit(self, key, t, state, level, tta, entry, classes, i) -> AlertLine:
        tid, zid = key
        a = self._open.get(key)
        if a is None:
            aid = f"A{self._next}"
            self._next += 1
        else:
            aid = a.line.id
        lvl = _LEVELS[level]
        lat = lon = None
        if np.all(np.isfinite(entry)) and tta > 0:
            la, lo, _ = self.zones.frame.to_geodetic(entry)
            lat, lon = float(la), float(lo)
        line = AlertLine(
            t=t,
            id=aid,
            level=lvl,  # type: ignore[arg-type]
            state=state,
            kind="threat",
            track=track_label(tid),
            zone=zid,
            tta_s=float(tta) if np.isfinite(tta) else None,
            entry_lat=lat,
            entry_lon=lon,
            class_=str(classes.label[i]),
            reason=self._reason(lvl, tta, zid, classes, i),
        )
        tta_f = float(tta)
        if a is None:
            self._open[key] = _Alert(
                line=line, raised_t=t, level=lvl, tta_s=tta_f, last_emit_t=t, arrival_t=t + tta_f
            )
        else:
            a.line, a.level, a.tta_s, a.last_emit_t, a.arrival_t = line, lvl, tta_f, t, t + tta_f
        self._open[key].was_inside |= tta_f == 0.0
        log.info("alert %s %s %s %s zone %s tta %.0f s", aid, state, lvl, line.track, zid, tta_f)
        return line

    def _clear(self, key, t, why, classes, i) -> AlertLine:
        a = self._open.pop(key)
        line = msgspec.structs.replace(
            a.line,
            t=t,
            state="cleared",
            reason=f"cleared: {why}",
            class_=str(classes.label[i])
            if i is not None and i < len(classes.label)
            else a.line.class_,
        )
        log.info("alert %s cleared (%s)", a.line.id, why)
        return line

    def _reason(self, level: str, tta: float, zid: str, classes, i: int) -> str:
        name = self._zone_name(zid)
        pd_ = float(classes.p[i, 0])
        what = {
            "critical": f"likely hostile drone (p={pd_:.2f})",
            "warning": f"possible hostile drone (p={pd_:.2f})",
        }.get(level, f"{classes.label[i]} object")
        if bool(classes.spoof[i]):
            what += " with spoofed Remote ID"
        elif bool(classes.cooperative[i]):
            what = f"cooperative {classes.label[i]}"
        if tta == 0.0:
            return f"{what} inside {name}"
        if np.isfinite(tta):
            return f"{what} heading for {name}, arrival in {tta:.0f} s"
        return f"{what} may reach {name}"

    def _zone_name(self, zid: str) -> str:
        for z in self.zones:
            if z.id == zid:
                return z.zone.name or zid
        return zid
