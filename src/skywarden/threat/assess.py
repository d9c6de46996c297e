"""Threat level per (track, zone) and the alert lifecycle: raised -> updated -> cleared.

Level of a confirmed or coasting track against a zone, from its time to arrival
``tta`` (:mod:`.geometry`) and its classification:

* ``critical``: a likely hostile drone (drone probability >= ``drone_p``, not a
  believed cooperative identity) inside, or arriving within ``critical_horizon_s``;
* ``warning``: such a drone arriving within ``warning_horizon_s``, one that
  *may* arrive (uncertainty and manoeuvre allowance) within ``critical_horizon_s``,
  or one closing on the zone (heading within ``acos(closing_min_cos)`` of it)
  that would reach it within ``warning_horizon_s`` at its closing speed (attack
  drones fly doglegs whose straight-line extension misses the zone). An
  unidentified object (below) whose straight path or possible arrival enters
  within ``unidentified_warning_horizon_s`` is ``warning`` too, unless it is slow
  and reads less than ``unidentified_slow_drone_p`` drone (then ``info`` until it
  is inside or at the edge);
* ``info``: an object that may be a drone or is unidentified (drone + unknown
  probability >= ``info_p``, tracked for ``info_min_age_s``; or faster than a bird
  with drone probability >= ``info_fast_drone_p``, tracked for
  ``info_fast_min_age_s``), or
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
from typing import Any

import msgspec
import numpy as np
import shapely

from ..classify.classifier import ClassResult
from ..types import (
    CLASSES,
    COASTING,
    CONFIRMED,
    AlertLine,
    TrackTable,
    track_label,
    track_number,
)
from .geometry import (
    arrival,
    closing_time,
    distance_xy,
    position_sigma,
    possible_arrival,
    reach,
)
from .zones import ZoneSet

log = logging.getLogger(__name__)

_LEVELS = ("info", "warning", "critical")
_LEVEL_INDEX = {name: k for k, name in enumerate(_LEVELS)}
_ID = re.compile(r"^A(\d+)$")


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
    #: Also ``info``: an object faster than any bird (the classifier's flag, or
    #: ``info_fast_speed_mps`` where it gives none) that may be a drone
    #: (``info_fast_drone_p``) — without a radar cross-section or RF a fixed-wing drone
    #: and a helicopter fly alike, and a drone must not pass unseen.
    info_fast_drone_p: float = 0.25
    info_fast_speed_mps: float = 25.0
    #: ... tracked at least this long: the wait above is for a new track's "unknown",
    #: which a fast one does not need (its drone evidence builds up over the
    #: classifier's 10 s time constant). With 30 s, a fixed-wing drone whose track
    #: started 121 s before entry was warned 57 s ahead (real-eval-03 seed 2; now 81 s).
    info_fast_min_age_s: float = 10.0
    #: An object that qualifies for ``info`` (and gives no identity) whose straight
    #: path, or a possible arrival within its track's uncertainty (not the closing
    #: time: that is for drones), enters a zone within this is ``warning``: whatever
    #: it is, it is about to enter, and a drone it may be. Without a radar
    #: cross-section or RF a fixed-wing drone reads like a helicopter until it is
    #: close; this keeps a minute of warning for it. It is raised only after
    #: ``info_raise_hold_s``, like info. 0 turns it off. A slow one (below
    #: ``info_fast_speed_mps``) whose drone probability is under
    #: ``unidentified_slow_drone_p`` gets ``info`` for this instead, and ``warning``
    #: only inside or at the edge: it is more likely not a drone (a real gull drifting
    #: in at 5 m/s, drone 0.22, was warned 83 s out; real-train-05 seed 4).
    unidentified_warning_horizon_s: float = 120.0
    #: ... and so is one slower than ``edge_speed_mps`` within ``edge_m`` of a zone
    #: (horizontally, and of its floor and ceiling): hovering at its edge, a few
    #: seconds' drift takes it in.
    edge_m: float = 50.0
    edge_speed_mps: float = 5.0
    #: For an unidentified object slower than ``info_fast_speed_mps``, the possible
    #: arrival counts within this only (and gives ``info`` only), unless its drone
    #: probability is at least ``unidentified_slow_drone_p``: a real gannet circling
    #: at 5 m/s a kilometre out, ``unknown`` for a minute, was warned of as about to
    #: enter (a possible arrival 140-300 s out, manoeuvre allowance and all;
    #: real-train-05). A drone flying at a bird's speed with no signature is capped at
    #: 0.5 (docs/classifier.md) and mostly sits at the cap; the birds that qualify sit
    #: lower, on ``unknown``.
    unidentified_slow_possible_horizon_s: float = 60.0
    unidentified_slow_drone_p: float = 0.4
    #: Off its straight path (a possible arrival, or closing on a zone), a drone raises
    #: (or escalates) an alert only for the zones it would reach within this many
    #: seconds of the first (times to arrival over each zone's horizon factor); open
    #: alerts keep every zone's signs. Neighbouring zones a dogleg points at in turn
    #: are still warned; one far behind the first is not (mass-raid: wrong-zone
    #: alerts 151 -> 119, seed 1; 0 s cost one drone its lead, 241 -> 57 s).
    loose_zone_margin_s: float = 60.0
    #: A closing drone's heading is within acos(this) of the zone's nearest point.
    closing_min_cos: float = 0.7
    #: Whether a believed cooperative (Remote ID) drone heading for a zone raises ``info``;
    #: off by default: it is known and accountable, and shown with its identity.
    cooperative_info: bool = False
    #: A new alert's level must hold this long before it is raised: a bird's track that
    #: takes a passing drone's detections for a few scans reads as a drone for 4-6 s
    #: (3 s let 15 such alerts through in two hours of ``mass-raid``) ...
    raise_hold_s: float = 8.0
    #: ... and an ``info`` alert this long: an object has to stay unidentified for a
    #: while before it is worth an operator's glance (a bird's class wavers briefly).
    info_raise_hold_s: float = 30.0
    #: No alert on a track whose horizontal position one-sigma exceeds this (bearing-only
    #: tracks, or a first fix at the edge of radar cover: no usable time to arrival).
    max_pos_sigma_m: float = 60.0
    #: No level for a track whose position was last fixed longer ago than this (its
    #: alerts clear as for an object that turned away); 0 turns this off.
    max_unfixed_s: float = 8.0
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
    #: ... or this long when only its class fell (it still flies at the zone within
    #: the warning horizon): a drone's class wavers for tens of seconds in clutter,
    #: and clearing at once raised the same drone again and again.
    class_clear_delay_s: float = 60.0
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
    #: An alert whose track is lost waits this long for a successor track (the
    #: tracker lost and re-found the object) before it is cleared. Most successors
    #: start while the old track still coasts, which needs no wait.
    handover_s: float = 5.0
    #: A successor is within this many sigmas of the lost track's prediction ...
    handover_n_sigma: float = 3.0
    #: ... and within these limits (metres) whatever the covariance says.
    handover_min_gate_m: float = 150.0
    handover_max_gate_m: float = 600.0
    #: A live track not updated for this long is a handover candidate too (the tracker
    #: often confirms a second track on an object a few scans before it lets the
    #: first one coast) ...
    handover_stale_s: float = 2.0
    #: ... and a track this young that carries no alert of its own may still be found
    #: to continue an object (its first scans may come before the old track goes stale).
    handover_young_s: float = 10.0
    #: An object raised again for a zone within ``loiter_window_s`` of an earlier
    #: alert there, at least ``loiter_min_s`` later and less than
    #: ``loiter_max_displacement_m`` from where that alert found it, is
    #: loitering (it stays around instead of passing through): its alert then stays
    #: open, ``info`` at least, with its dwell time, while it stays within
    #: ``loiter_range_m`` of the zone — one alert, not a fresh one every pass. A
    #: quadcopter loitering between mass-raid's zones strays up to 7 km from one: at
    #: 5 km its alert cleared and was raised twice more in the hour (seed 1).
    loiter_window_s: float = 3600.0
    loiter_min_s: float = 30.0
    loiter_max_displacement_m: float = 1000.0
    #: ... or further, but less than this fraction of the way it would have flown at
    #: its present speed since that raise: a loiterer wanders and comes back, a drone
    #: passing through on doglegs makes way. Mass-raid seed 1: re-raises of attack
    #: drones at 31-59 m/s had moved 0.77-0.99 of that, of loitering quadcopters
    #: 0.12-0.70; 4 km flat judged an attack drone re-raised 90 s and 3.6 km on a
    #: loiterer, and missed a quadcopter back after 14 min 4.8 km from its first raise.
    loiter_max_net_frac: float = 0.7
    loiter_range_m: float = 8000.0
    #: ... or, for an object slower than a bird (the classifier's flag), anywhere: a
    #: multirotor's wander makes way too. A non-hostile quadcopter without Remote ID
    #: wandering 3-5 km from mass-raid's zones made 0.7 of its way or more between its
    #: first two raises for one zone and was raised three times in ten minutes.
    loiter_slow_anywhere: bool = True


def _faster_than_a_bird(
    classes: ClassResult, rows: np.ndarray | list[int], vel_en: np.ndarray, speed_mps: float
) -> np.ndarray:
    """(len(rows),) bool: the classifier's "faster than a bird" flag of ``rows`` (its
    hysteresis holds through the dips of a speed estimate at the bird limit, and not
    through a bird's burst), or where it gives none, a horizontal speed (``vel_en``
    (len(rows), 2), m/s) of ``speed_mps`` or more."""
    if classes.fast is not None:
        return np.asarray(classes.fast[rows], bool)
    return np.hypot(vel_en[:, 0], vel_en[:, 1]) >= speed_mps


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
    track: int = 0  # the track that carries the alert now (its object may change tracks)
    orphan_since: float | None = None  # the track was lost then; waiting for a successor
    loiter: bool = False  # raised again for the same zone: stays open while near
    dwell_from_t: float = math.nan  # first raise for this (object, zone) in the window


@dataclass
class _Lost:
    """The last state of a lost track, for a successor to take over its object."""

    t_s: float
    x: np.ndarray
    P: np.ndarray


class ThreatAssessor:
    """Turns tracks and their classes into alert lifecycle events, one alert per (object, zone).

    An object is a chain of tracks: when a track is lost and a new one starts
    where its prediction says the object is (within ``handover_s``), the new
    track continues the object, and its open alerts move with it (an update,
    not a fresh alarm).
    """

    def __init__(self, zones: ZoneSet, config: ThreatConfig | None = None) -> None:
        self.config = config or ThreatConfig()
        self._open: dict[tuple[int, str], _Alert] = {}  # keyed by (object, zone)
        self._pending: dict[tuple[int, str], float] = {}  # since when a new alert qualifies
        # Raises per (object, zone): time and where the object was (e, n).
        self._raises: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
        # Live track ids and their object ids (an object's id is its first track's id),
        # as arrays: the next scan looks thousands of them up at once.
        self._track_ids = np.empty(0, np.int64)
        self._track_obj = np.empty(0, np.int64)
        self._lost: dict[int, _Lost] = {}  # object id -> last state of its lost track
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
        objects = dict(zip(self._track_ids.tolist(), self._track_obj.tolist(), strict=True))
        for line in alerts:
            m = _ID.match(line.id)
            if m:
                self._next = max(self._next, int(m.group(1)) + 1)
            tid = track_number(line.track or "")
            if line.state == "cleared" or line.kind == "sensor" or tid is None or line.zone is None:
                if line.state == "cleared" and tid is not None and line.zone:
                    self._open.pop((tid, line.zone), None)
                continue
            objects[tid] = tid
            tta = line.tta_s if line.tta_s is not None else math.inf
            self._open[(tid, line.zone)] = _Alert(
                line=line,
                raised_t=line.t,
                level=line.level,
                tta_s=tta,
                last_emit_t=line.t,
                arrival_t=line.t + tta,
                track=tid,
                dwell_from_t=line.t,
            )
        self._track_ids = np.fromiter(objects.keys(), np.int64, len(objects))
        self._track_obj = np.fromiter(objects.values(), np.int64, len(objects))

    # --- per scan ----------------------------------------------------------------

    def levels(
        self, table: TrackTable, classes: ClassResult, keep: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per (row, zone): level index (n, Z) int (-1 none, 0 info, 1 warning, 2 critical)
        with entry thresholds, the same with exit thresholds, time to arrival (n, Z)
        seconds and entry points (n, Z, 3) ENU metres.

        Zone geometry is worked out only for tracks that could get a level (by
        their class) and for rows ``keep`` (n,) bool (those carrying open
        alerts); others keep level -1 and an infinite time to arrival: birds
        and airliners, most of a busy sky, cost nothing here. Likewise a
        (track, zone) pair that cannot reach a level at any horizon
        (:func:`~.geometry.reach`) gets level -1 and an infinite time to arrival
        without an exact test, unless its row is in ``keep``.

        The looser signs (a possible arrival within the uncertainty allowance,
        closing on a zone off the straight path) count for every zone: with
        neighbouring zones a few kilometres apart, an attack drone's doglegs
        do not show which one it is heading for until its final run, and
        warning only the likeliest one cost minutes of lead time and raised
        more alerts as the likeliest zone changed (measured on ``swarm``).
        """
        cfg = self.config
        n, nz = len(table), len(self.zones)
        lvl_in = np.full((n, nz), -1, np.int64)
        lvl_out = lvl_in.copy()
        tta = np.full((n, nz), np.inf)
        entry = np.full((n, nz, 3), np.nan)
        located = np.sqrt((table.P[:, 0, 0] + table.P[:, 1, 1]) / 2.0) <= cfg.max_pos_sigma_m
        live = (table.status == CONFIRMED) | (table.status == COASTING)
        pa = classes.p
        coop_all = np.asarray(classes.cooperative, bool) & ~np.asarray(classes.spoof, bool)
        pd_all = pa[:, CLASSES.index("drone")]
        could = (
            (pd_all >= min(cfg.drone_p, cfg.drone_p_exit, cfg.info_fast_drone_p))
            | (pd_all + pa[:, CLASSES.index("unknown")] >= cfg.info_p)
        ) & (~coop_all | cfg.cooperative_info)
        if keep is not None:
            could |= keep
        if table.t_fix_s is not None and cfg.max_unfixed_s > 0.0:
            # A track that has gone this long without a position fix no longer says
            # where its object is going (a drone that dived into a zone leaves a track
            # coasting on, and stray bearings may still update it).
            live = live & (table.t_s - table.t_fix_s <= cfg.max_unfixed_s)
        rows = np.flatnonzero(live & located & could)
        if rows.shape[0] == 0 or nz == 0:
            return lvl_in, lvl_out, tta, entry
        m = rows.shape[0]
        p = classes.p[rows]
        coop = np.asarray(classes.cooperative[rows], bool) & ~np.asarray(classes.spoof[rows], bool)
        p_drone = p[:, CLASSES.index("drone")]
        age = table.t_s - table.t_first_s[rows]
        fast = _faster_than_a_bird(classes, rows, table.x[rows, 3:5], cfg.info_fast_speed_mps)
        maybe = (
            (p_drone + p[:, CLASSES.index("unknown")] >= cfg.info_p) & (age >= cfg.info_min_age_s)
        ) | (fast & (p_drone >= cfg.info_fast_drone_p) & (age >= cfg.info_fast_min_age_s))
        x, P = table.x[rows], table.P[rows]
        h_max = cfg.warning_horizon_s * cfg.horizon_exit_factor * float(self._factor.max())
        t_samp = np.arange(
            0.0, cfg.critical_horizon_s * cfg.horizon_exit_factor * 2.0 + 1e-9, cfg.sample_step_s
        )
        vh = cfg.vertical_horizon_s
        t_str = np.full((m, nz), np.inf)
        t_pos = np.full((m, nz), np.inf)
        t_cl = np.full((m, nz), np.inf)
        # Exact geometry only for pairs that may reach a level (or carry an open
        # alert): the others, most of a busy sky, keep level -1 and an infinite tta.
        # Off the straight path only a drone gets a level: the possible arrival and
        # the closing time are worked out for drones (and open alerts) alone.
        straight, loose, near = reach(
            self.zones,
            x[:, :3],
            x[:, 3:],
            cfg.warning_horizon_s * cfg.horizon_exit_factor * self._factor,
            float(t_samp[-1]),
            cfg.max_allowance_m,
            cfg.closing_min_cos,
        )
        held = np.zeros(m, bool) if keep is None else keep[rows]
        drone_ish = p_drone >= min(cfg.drone_p, cfg.drone_p_exit)
        need = held | (drone_ish & ~coop)
        unid = maybe & ~coop
        # An unidentified object gets the possible arrival too (not the closing time):
        # far out, its heading swings by several degrees between updates, and a straight
        # path that grazes a zone's edge came and went with each (real-eval-01 seed 2: a
        # fixed-wing drone 5 km out, ±8° of heading, warned 54 s before entry).
        wide = need | (unid & (cfg.unidentified_warning_horizon_s > 0.0))
        # Rows that may get info (on the straight path) or more.
        can = need | unid | (coop & drone_ish & cfg.cooperative_info)
        # An unidentified object's pairs off the straight path: only those whose path
        # comes within the allowance (it gets no closing time).
        active = (
            (straight & can[:, None])
            | (loose & need[:, None])
            | (near & wide[:, None])
            | held[:, None]
        )
        busy = np.flatnonzero(wide & active.any(axis=1))
        sig = position_sigma(P[busy], t_samp, cfg.manoeuvre_sigma_mps * p_drone[busy])
        sig_row = np.zeros(m, np.int64)
        sig_row[busy] = np.arange(busy.shape[0])
        # One list of (row, zone) pairs over all zones.
        r, j = np.nonzero(active)
        if r.shape[0]:
            t_str[r, j], entry[rows[r], j] = arrival(self.zones, j, x[r, :3], x[r, 3:], h_max, vh)
            r, j = r[wide[r]], j[wide[r]]
        if r.shape[0]:
            d = need[r]
            rd, jd = r[d], j[d]
            t_cl[rd, jd] = closing_time(self.zones, jd, x[rd, :3], x[rd, 3:], cfg.closing_min_cos)
            # A possible arrival only where the path comes within the allowance (most
            # pairs kept are there for their closing time, kilometres out).
            w = near[r, j]
            r, j = r[w], j[w]
            t_pos[r, j] = possible_arrival(
                self.zones, j, x[r, :3], x[r, 3:], sig[sig_row[r]], t_samp, cfg.n_sigma,
                cfg.max_allowance_m, vh,
            )  # fmt: skip
        # An unidentified object hovering or creeping at a zone's edge: its heading
        # says nothing, a few seconds' drift puts it inside.
        at_edge = np.zeros((m, nz), bool)
        if cfg.edge_m > 0.0:
            slow = np.hypot(x[:, 3], x[:, 4]) < cfg.edge_speed_mps
            e_rows = np.flatnonzero(unid & slow)
            r, j = np.repeat(e_rows, nz), np.tile(np.arange(nz), e_rows.shape[0])
            if r.shape[0]:
                up = x[r, 2]
                at_edge[r, j] = (
                    (distance_xy(self.zones, j, x[r, 0], x[r, 1]) <= cfg.edge_m)
                    & (up >= self.zones.floor_u_m[j] - cfg.edge_m)
                    & (up <= self.zones.ceiling_u_m[j] + cfg.edge_m)
                )
        # Off the straight-line path, the time to arrival reported is the
        # earliest one a manoeuvre or a turn towards the zone allows.
        loose_t = np.minimum(t_pos, t_cl)
        tta[rows] = np.where(np.isfinite(t_str), t_str, loose_t)
        drone = (p_drone >= cfg.drone_p, p_drone >= cfg.drone_p_exit)
        may_drone = fast | (p_drone >= cfg.unidentified_slow_drone_p)
        scaled = tta[rows] / self._factor[None, :]
        first = scaled.min(axis=1, initial=np.inf)
        for k, (out, hx) in enumerate(((lvl_in, 1.0), (lvl_out, cfg.horizon_exit_factor))):
            hc = cfg.critical_horizon_s * self._factor[None, :] * hx
            hw = cfg.warning_horizon_s * self._factor[None, :] * hx
            straight = t_str <= hw
            loose = (t_pos <= hc) | (t_cl <= hw)
            if k == 0:
                loose &= scaled <= first[:, None] + cfg.loose_zone_margin_s
            dr = (drone[k] & ~coop)[:, None]
            info = (unid | (coop & drone[k] & cfg.cooperative_info))[:, None]
            lv = np.full((m, nz), -1)
            lv[info & straight] = 0
            if cfg.unidentified_warning_horizon_s > 0.0:
                hu = cfg.unidentified_warning_horizon_s * self._factor[None, :] * hx
                hp = np.where(
                    may_drone[:, None],
                    hu,
                    cfg.unidentified_slow_possible_horizon_s * self._factor[None, :] * hx,
                )
                soon = unid[:, None] & ((t_str <= hu) | (t_pos <= hp))
                lv[soon & may_drone[:, None]] = 1
                lv[soon & ~may_drone[:, None]] = 0
                lv[unid[:, None] & (at_edge | (t_str <= 0.0))] = 1
            lv[dr & (straight | loose)] = 1
            lv[dr & (t_str <= hc)] = 2
            # A believed cooperative drone is known and accountable: info at most.
            lv = np.where(coop[:, None], np.minimum(lv, 0 if cfg.cooperative_info else -1), lv)
            out[rows] = lv
        return lvl_in, lvl_out, tta, entry

    def assess(self, table: TrackTable, classes: ClassResult) -> list[AlertLine]:
        """Alert lifecycle events of this scan (raised, updated, cleared), in a stable order."""
        cfg = self.config
        t = table.t_s
        live = (table.status == CONFIRMED) | (table.status == COASTING)
        obj = self._objects(table, live)
        self._ids, self._pos, self._vel = table.id, table.x[:, :2], table.x[:, 3:5]
        # One row per object: of its tracks updated within handover_stale_s the most
        # drone-like, then the most recently updated (the last in a sort on those keys).
        # Two tracks of one object (a young one took it over while the old one missed a
        # few updates, then the old one came back) took turns by update time, and the
        # alert followed each turn: on the one that was a bird it cleared ("turned
        # away") and was raised again (real-train-07 seed 2: 4 raises for one
        # quadcopter and zone).
        fresh = t - table.t_last_update_s < cfg.handover_stale_s
        # (Among stale ones recency alone, as before.)
        pd = np.where(fresh, classes.p[:, CLASSES.index("drone")], 0.0)
        order = np.lexsort((table.t_last_update_s, pd, fresh))
        order = order[obj[order] >= 0]
        row_of = dict(zip(obj[order].tolist(), order.tolist(), strict=True))
        keep = np.zeros(len(table), bool)
        for oid, _ in self._open:
            if oid in row_of:
                keep[row_of[oid]] = True
        lvl_in, lvl_out, tta, entry = self.levels(table, classes, keep)
        # An arrival further off than the warning horizon is none: an alert held open
        # (a loiterer's) would otherwise report hours-long times to arrival that come
        # and go with every wiggle of its track, each an "updated" event.
        horizon = cfg.warning_horizon_s * cfg.horizon_exit_factor * self._factor[None, :]
        tta = np.where(tta <= horizon, tta, np.inf)
        entry = np.where(np.isfinite(tta)[..., None], entry, np.nan)
        events: list[AlertLine] = []

        # Existing alerts first: hand over, keep, update, downgrade or clear.
        zone_at = {z.id: j for j, z in enumerate(self.zones.zones)}
        keys = sorted(self._open, key=lambda k: self._open[k].line.id)
        # Each open alert's (row, zone) values read at once, as Python scalars: a raid
        # holds a thousand open alerts, and numpy scalar reads one by one cost more
        # than the rest of this loop.
        at_row = [row_of.get(k[0]) for k in keys]
        at_zone = [zone_at.get(k[1]) for k in keys]
        tta_k: list[Any] = [None] * len(keys)
        lvo_k, lvi_k, tid_k = tta_k, tta_k, tta_k
        if len(table) and len(self.zones):
            # Row and zone 0 stand in for a missing one: those values are never read.
            ri = np.array([r or 0 for r in at_row], np.int64)
            ci = np.array([c or 0 for c in at_zone], np.int64)
            tta_k, lvo_k = tta[ri, ci].tolist(), lvl_out[ri, ci].tolist()
            lvi_k, tid_k = lvl_in[ri, ci].tolist(), table.id[ri].tolist()
        for k, key in enumerate(keys):
            a = self._open[key]
            oid = key[0]
            i, j = at_row[k], at_zone[k]
            if j is None:
                events.append(self._clear(key, t, "zone removed", classes, i))
                continue
            if i is None:
                a.orphan_since = a.orphan_since if a.orphan_since is not None else t
                if t - a.orphan_since >= cfg.handover_s or oid not in self._lost:
                    events.append(self._clear(key, t, "track lost", classes, None))
                continue
            a.orphan_since = None
            tij, lv = tta_k[k], lvo_k[k]
            cur = _LEVEL_INDEX[a.level]
            self._smooth(a, tij, t)
            if tid_k[k] != a.track:
                # The object's new track carries the alert on, at its current level.
                a.track = tid_k[k]
                events.append(
                    self._emit(
                        key,
                        t,
                        "updated",
                        cur,
                        tij,
                        entry[i, j],
                        classes,
                        i,
                    )
                )
                continue
            if lv < 0 and a.was_inside and not a.loiter and self._near(i, j, table):
                # Out of the zone but still about: from now on a loiterer, so that
                # coming back updates this alert instead of raising a second one
                # (a recorded quadcopter left a depot and was raised again 10 s later).
                a.loiter = True
            if lv < 0 and a.loiter and self._near(i, j, table):
                lv = 0  # loitering near the zone: the alert stays open at info level
            if lv < 0:
                a.lower_since = None
                if a.quiet_since is None:
                    a.quiet_since = t
                heading_in = bool(
                    tij <= cfg.warning_horizon_s * cfg.horizon_exit_factor * self._factor[j]
                )
                delay = cfg.class_clear_delay_s if heading_in else cfg.clear_delay_s
                if t - a.quiet_since >= delay and t - a.raised_t >= cfg.min_hold_s:
                    if a.was_inside:
                        why = "left the zone"
                    elif a.loiter:
                        why = "left the area"
                    elif not math.isfinite(tij):
                        why = "turned away"
                    else:
                        why = "no longer a threat"
                    events.append(self._clear(key, t, why, classes, i))
                continue
            a.quiet_since = None
            # Rise with the entry thresholds at once (the looser exit thresholds only
            # hold a level, never raise one); fall with the exit ones after a hold.
            up = lvi_k[k]
            new = up if up > cur else min(cur, max(lv, up))
            if new > cur:
                a.lower_since = None
                events.append(self._emit(key, t, "updated", new, tij, entry[i, j], classes, i))
                continue
            if new < cur:
                a.lower_since = a.lower_since if a.lower_since is not None else t
                if t - a.lower_since >= cfg.downgrade_hold_s:
                    a.lower_since = None
                    events.append(self._emit(key, t, "updated", new, tij, entry[i, j], classes, i))
                    continue
            else:
                a.lower_since = None
            if self._material(a, tij, t):
                events.append(self._emit(key, t, "updated", cur, tij, entry[i, j], classes, i))

        # New alerts, with the entry thresholds, once they have held for raise_hold_s
        # (info_raise_hold_s when the drone evidence is weak).
        p_drone = classes.p[:, CLASSES.index("drone")]
        pending: dict[tuple[int, str], float] = {}
        for i, j in zip(*np.nonzero(lvl_in >= 0), strict=True):
            key = (int(obj[i]), self.zones.zones[j].id)
            if key in self._open or key[0] < 0:
                continue
            since = pending[key] = self._pending.get(key, t)
            weak = lvl_in[i, j] == 0 or p_drone[i] < cfg.drone_p
            hold = cfg.info_raise_hold_s if weak else cfg.raise_hold_s
            if t - since < hold:
                continue
            del pending[key]
            events.append(
                self._emit(key, t, "raised", int(lvl_in[i, j]), tta[i, j], entry[i, j], classes, i)
            )
        self._pending = pending
        return events

    def _objects(self, table: TrackTable, live: np.ndarray) -> np.ndarray:
        """Object id (n,) of every live track (-1 for others), continuing lost objects.

        A live track seen for the first time continues the lost object whose
        predicted position is nearest to it within the handover gate; lost
        objects are forgotten after ``handover_s``.
        """
        cfg = self.config
        t = table.t_s
        ids = table.id.astype(np.int64)
        obj = np.full(ids.shape[0], -1, np.int64)
        live_rows = np.flatnonzero(live)
        # The previous scan's track -> object map, looked up by a sorted search: a raid
        # has thousands of live tracks, and a dictionary lookup per track showed in profiles.
        known, known_obj = self._track_ids, self._track_obj
        if known.shape[0]:
            by_id = np.argsort(known)
            at = np.searchsorted(known, ids[live_rows], sorter=by_id)
            pos = by_id[np.minimum(at, known.shape[0] - 1)]
            obj[live_rows] = np.where(known[pos] == ids[live_rows], known_obj[pos], -1)
        # Tracks that may continue an object: new ones, and young ones still their own
        # object with no open alert.
        alerted = np.isin(obj, np.fromiter({o for o, _ in self._open}, np.int64))
        young = (t - table.t_first_s <= cfg.handover_young_s) & (obj == ids) & ~alerted
        new = live_rows[(obj[live_rows] < 0) | young[live_rows]].tolist()
        # Candidates: lost objects, and objects whose track is coasting or stale (the
        # tracker may start a second track on an object before it drops the first).
        cands = [(o, s.t_s, s.x, s.P) for o, s in self._lost.items()]
        stale = (t - table.t_last_update_s >= cfg.handover_stale_s) & alerted
        held = np.flatnonzero(live & (obj >= 0) & ((table.status == COASTING) | stale))
        cands += [(int(obj[i]), t, table.x[i], table.P[i]) for i in held]
        if new and cands:
            lx = np.array([c[2] for c in cands])
            lp = np.array([c[3] for c in cands])
            dt = t - np.array([c[1] for c in cands])
            pred = lx[:, :2] + lx[:, 3:5] * dt[:, None]
            var = (
                (lp[:, 0, 0] + lp[:, 1, 1]) / 2.0
                + dt * (lp[:, 0, 3] + lp[:, 1, 4])
                + dt**2 * (lp[:, 3, 3] + lp[:, 4, 4]) / 2.0
            )
            gate = np.clip(
                cfg.handover_n_sigma * np.sqrt(np.maximum(var, 0.0)),
                cfg.handover_min_gate_m,
                cfg.handover_max_gate_m,
            )
            own = np.array([c[0] for c in cands])
            new_rows = np.array(new)
            dist = np.hypot(
                pred[None, :, 0] - table.x[new_rows, 0, None],
                pred[None, :, 1] - table.x[new_rows, 1, None],
            )
            dist = np.where((dist <= gate[None]) & (own[None] != obj[new_rows, None]), dist, np.inf)
            # In the order of ``new``, each takes its nearest candidate not yet taken;
            # most new tracks have none within the gate and are skipped at once.
            taken = np.zeros(len(cands), bool)
            for r in np.flatnonzero(np.isfinite(dist).any(axis=1)).tolist():
                d = np.where(taken, np.inf, dist[r])
                k = int(np.argmin(d))
                if np.isfinite(d[k]):
                    taken[k] = True
                    obj[new_rows[r]] = cands[k][0]
                    self._lost.pop(cands[k][0], None)
        for i in new:
            if obj[i] < 0:
                obj[i] = ids[i]
        # Tracks gone from the live set: their objects, if no other track carries
        # them, wait for a successor.
        gone = ~np.isin(known, ids[live_rows]) & ~np.isin(known_obj, obj[live_rows])
        for tid, o in zip(known[gone].tolist(), known_obj[gone].tolist(), strict=True):
            rows = np.flatnonzero(ids == tid)
            if rows.shape[0]:
                r = int(rows[0])
                self._lost[o] = _Lost(t, table.x[r].copy(), table.P[r].copy())
            elif o not in self._lost:
                self._lost[o] = _Lost(t, np.full(6, np.nan), np.full((6, 6), np.nan))
        self._lost = {o: s for o, s in self._lost.items() if t - s.t_s <= cfg.handover_s}
        self._track_ids, self._track_obj = ids[live_rows], obj[live_rows]
        return obj

    def _near(self, i: int, j: int, table: TrackTable) -> bool:
        """Whether track row ``i`` is within ``loiter_range_m`` of zone ``j`` horizontally."""
        z = self.zones.zones[j]
        d = shapely.distance(z.polygon_enu, shapely.points(table.x[i, 0], table.x[i, 1]))
        return bool(d <= self.config.loiter_range_m)

    # --- helpers -------------------------------------------------------------------

    def _smooth(self, a: _Alert, tta: float, t: float) -> None:
        """Fold this scan's predicted arrival time t + tta into the alert's average."""
        arr = t + tta
        if math.isfinite(arr) and math.isfinite(a.arrival_t):
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
        if not math.isfinite(a.arrival_t) or not math.isfinite(last_arr):
            return math.isfinite(a.arrival_t) != math.isfinite(last_arr)
        thr = max(cfg.update_tta_rel * a.tta_s, cfg.update_tta_abs_s)
        d_arr = abs(a.arrival_t - last_arr)
        d_tta = abs((a.arrival_t - t) - a.tta_s)
        return d_arr > thr and d_tta > thr

    def _emit(self, key, t, state, level, tta, entry, classes, i) -> AlertLine:
        zid = key[1]
        a = self._open.get(key)
        if a is None:
            aid = f"A{self._next}"
            self._next += 1
            # Raises of this object for this zone within the window: a second
            # one means it keeps coming back (loitering).
            cfg = self.config
            e, n = float(self._pos[i, 0]), float(self._pos[i, 1])
            prev = [r for r in self._raises.get(key, []) if t - r[0] <= cfg.loiter_window_s]
            self._raises[key] = [*prev, (t, e, n)]
            # Any earlier raise counts: a loiterer wanders further than the limit from
            # its first raise over an hour, but comes back near one of them.
            speed = math.hypot(float(self._vel[i, 0]), float(self._vel[i, 1]))
            fast = _faster_than_a_bird(classes, [i], self._vel[[i]], cfg.info_fast_speed_mps)
            anywhere = cfg.loiter_slow_anywhere and not fast[0]
            loiter = any(
                t - r[0] >= cfg.loiter_min_s
                and (
                    anywhere
                    or math.hypot(e - r[1], n - r[2])
                    < max(
                        cfg.loiter_max_displacement_m,
                        cfg.loiter_max_net_frac * speed * (t - r[0]),
                    )
                )
                for r in prev
            )
            dwell_from = prev[0][0] if loiter else t
            tid = int(self._ids[i])
        else:
            aid = a.line.id
            loiter, dwell_from, tid = a.loiter, a.dwell_from_t, a.track
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
            dwell_s=float(t - dwell_from) if loiter else None,
            entry_lat=lat,
            entry_lon=lon,
            class_=str(classes.label[i]),
            reason=self._reason(lvl, tta, zid, classes, i, t - dwell_from if loiter else None),
        )
        tta_f = float(tta)
        if a is None:
            self._open[key] = _Alert(
                line=line,
                raised_t=t,
                level=lvl,
                tta_s=tta_f,
                last_emit_t=t,
                arrival_t=t + tta_f,
                track=tid,
                loiter=loiter,
                dwell_from_t=dwell_from,
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

    def _reason(
        self, level: str, tta: float, zid: str, classes, i: int, dwell_s: float | None = None
    ) -> str:
        name = self._zone_name(zid)
        if dwell_s is not None:
            mins = dwell_s / 60.0
            return f"{classes.label[i]} object loitering near {name} for {mins:.0f} min" + (
                f", arrival in {tta:.0f} s" if np.isfinite(tta) and tta > 0 else ""
            )
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
