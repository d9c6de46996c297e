"""Warning quality: lead time, missed warnings, false alerts, classification.

Only threat alerts count (``kind`` absent or ``"threat"``), and of those only
``raised`` events. An alert is attributed to the truth object its track was
matched to at the scan nearest the alert time, within ``window_scans`` scan
intervals either side (the alert stage may run a scan before or after the
written track line). When the track was not matched then — an early warning on
a drone 15 km out, where a radar's angle error alone exceeds the matching
cut-off — the object it was matched to nearest that time is taken instead (not
the one it followed longest: a track that outlived its drone, which dived into
its zone, and then followed a bird for minutes was the drone's when it warned of
it). A track never matched to anything is attributed to the truth
object nearest it within three of its own reported sigmas (``AlertAttribution``);
failing that, its alert is a false alert on clutter.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from ..threat.zones import ZoneSet
from ..types import CLASSES, TRUTH_CLASSES
from .calibration import Calibration, calibration
from .calibration import empty as empty_calibration
from .match import TrackMatching
from .outputs import CONFIRMED, Alert, OutputData
from .truth import ScenarioData

log = logging.getLogger(__name__)

#: A track's class is scored only this long after its first confirmed line.
SETTLE_S = 30.0
#: The warning every hostile drone should get before it enters its zone, seconds.
MIN_LEAD_S = 60.0
#: An unmatched track's alert goes to the nearest object within this many of its sigmas.
PROXIMITY_SIGMAS = 3.0


@dataclass(frozen=True, slots=True)
class DroneWarning:
    """One hostile drone that entered a zone: when, and how early it was warned of.

    ``lead_time_s`` = ``entry_t_s`` - first raised alert for that zone on a
    track matched to the drone (NaN when none); ``warned`` when that alert came
    before the entry. ``warning_lead_time_s`` the same for the first event
    (raised or updated) at ``warning`` or ``critical`` level. ``in_view_s`` =
    ``entry_t_s`` - the first time a sensor that sees any flying object (radar,
    camera, position; not the cooperative receivers nor the RF direction finders,
    which hear only emitters) covered the drone: how much notice any system could
    have given (0 when none did).
    """

    id: str
    zone: str
    entry_t_s: float
    first_alert_t_s: float
    alert_id: str | None
    lead_time_s: float
    warning_lead_time_s: float = math.nan
    in_view_s: float = math.inf

    @property
    def warned(self) -> bool:
        return math.isfinite(self.lead_time_s) and self.lead_time_s > 0.0

    def short_notice(self, lead_s: float) -> bool:
        """Whether the drone came into view too late to be warned ``lead_s`` ahead.

        A track needs its first scans to confirm and about ``SETTLE_S`` more to be
        classified, so a drone in view for less than ``lead_s + SETTLE_S`` before its
        entry (one launched near the zone) cannot be warned ``lead_s`` ahead.
        """
        return self.in_view_s < lead_s + SETTLE_S


@dataclass(frozen=True, slots=True)
class WrongZoneAlert:
    """A raised alert on a hostile drone for a zone that drone never entered.

    ``clear_delay_s`` = time the alert was cleared - the drone's closest approach
    to the zone after the raise (when it turned away); the end of the scenario
    stands for the clear time of an alert never cleared.
    """

    alert_id: str
    object_id: str
    zone: str
    raised_t_s: float
    cleared_t_s: float
    clear_delay_s: float


@dataclass(frozen=True, slots=True)
class WarningMetrics:
    """Per hostile drone that entered a zone, plus every raised alert sorted by whom it was for.

    ``false_alerts`` are raised alerts on what is no drone at all: birds,
    aircraft, helicopters and tracks matched to nothing (clutter), counted per
    class in ``false_by_class``, and those of them that were at ``warning`` or
    ``critical`` in any event of their life in ``false_warning_by_class`` (a bird
    must never reach warning). Alerts on drones that are not hostile in truth
    are counted apart, split by whether the drone had given an identity (Remote ID
    or ADS-B) when the alert was raised: for an anonymous drone an alert is right
    (also for one whose broadcast is first heard later), for an identified one it
    is noise. ``raises_per_object_zone``: the most raised alerts for one
    (object, zone) pair in any hour. ``attributed_by_proximity``: raised alerts on
    tracks never matched, attributed to the object near them (``AlertAttribution``).
    """

    drones: tuple[DroneWarning, ...]
    n_hostile: int
    n_raised: int
    false_alerts: int
    duration_s: float
    false_by_class: dict[str, int] = field(default_factory=dict)
    false_warning_by_class: dict[str, int] = field(default_factory=dict)
    hostile_alerts: int = 0
    nonhostile_identified: int = 0
    nonhostile_anonymous: int = 0
    wrong_zone: tuple[WrongZoneAlert, ...] = ()
    raises_per_object_zone: int = 0
    worst_object_zone: tuple[str, str] | None = None
    attributed_by_proximity: int = 0

    @property
    def missed_warnings(self) -> int:
        return sum(not d.warned for d in self.drones)

    @property
    def false_alerts_per_hour(self) -> float:
        if not self.duration_s > 0.0:
            return math.nan
        return self.false_alerts / (self.duration_s / 3600.0)

    @property
    def wrong_zone_fraction(self) -> float:
        """Wrong-zone alerts as a fraction of raised alerts on hostile drones."""
        return len(self.wrong_zone) / self.hostile_alerts if self.hostile_alerts else 0.0

    def late(self, lead_s: float) -> list[DroneWarning]:
        """Drones warned (at ``warning`` or above) less than ``lead_s`` before their entry,
        or not at all, among those in view long enough to be (see ``short_notice``)."""
        return [
            d
            for d in self.drones
            if not d.short_notice(lead_s)
            and not (math.isfinite(d.warning_lead_time_s) and d.warning_lead_time_s >= lead_s)
        ]

    def lead_times_s(self) -> np.ndarray:
        """Finite lead times (n,), seconds."""
        a = np.array([d.lead_time_s for d in self.drones], dtype=float)
        return a[np.isfinite(a)]

    def warning_lead_times_s(self) -> np.ndarray:
        """Finite lead times of the first warning-or-higher event (n,), seconds."""
        a = np.array([d.warning_lead_time_s for d in self.drones], dtype=float)
        return a[np.isfinite(a)]


def zone_entries(scen: ScenarioData, zones: ZoneSet) -> list[tuple[int, str, float]]:
    """First zone entry ``(object index, zone id, t_s)`` of every hostile truth object that has one."""
    out: list[tuple[int, str, float]] = []
    if len(zones) == 0:
        return out
    for i in np.flatnonzero(scen.truth.hostile):
        t, pos = scen.truth.samples(int(i))
        inside = zones.contains(pos)
        hit = np.flatnonzero(inside.any(axis=1))
        if hit.shape[0]:
            j = int(hit[0])
            out.append((int(i), zones.ids[int(np.argmax(inside[j]))], float(t[j])))
    return out


def _in_view_s(scen: ScenarioData, i: int, t_entry: float) -> float:
    """Seconds from the first time a radar, camera or position sensor covered object ``i``
    to ``t_entry``."""
    seeing = [
        sid for sid, s in scen.header.sensors.items() if s.kind in ("radar", "camera", "position")
    ]
    t, pos = scen.truth.samples(i)
    before = t <= t_entry
    seen = np.flatnonzero(scen.in_coverage(pos[before], seeing)) if seeing else np.empty(0, int)
    return t_entry - float(t[before][seen[0]]) if seen.shape[0] else 0.0


def entered_zones(scen: ScenarioData, zones: ZoneSet) -> set[tuple[int, str]]:
    """Every (hostile object index, zone id) such that the object was ever inside the zone."""
    out: set[tuple[int, str]] = set()
    for i in np.flatnonzero(scen.truth.hostile):
        _, pos = scen.truth.samples(int(i))
        inside = zones.contains(pos).any(axis=0)
        out.update((int(i), zones.ids[j]) for j in np.flatnonzero(inside))
    return out


class AlertAttribution:
    """Which truth object a track was matched to near a given time.

    A track never matched to any object is attributed, at a given time, to the
    truth object nearest its line then, if that object lies within
    ``n_sigma`` times the line's own reported position error (never less than
    the matching cut-off): a drone 1.7 km up whose first track carried a 70-240 m
    error sat 110-180 m from it, beyond the 100 m cut-off, and its warning
    belongs to that drone. A track near nothing stays unattributed (clutter); one
    near a bird is the bird's (a false alert still). ``n_by_proximity`` counts
    the calls answered that way.
    """

    def __init__(
        self,
        out: OutputData,
        m: TrackMatching,
        window_s: float,
        scen: ScenarioData,
        n_sigma: float = PROXIMITY_SIGMAS,
    ) -> None:
        self._code = {name: i for i, name in enumerate(out.track_ids)}
        track = out.track[m.pair_row]
        order = np.lexsort((m.pair_t_s, track))
        self._track = track[order]
        self._t = m.pair_t_s[order]
        self._obj = m.pair_obj[order]
        self._window_s = window_s
        self._out = out
        self._scen = scen
        self._cutoff_m = m.cutoff_m
        self._n_sigma = n_sigma
        self._rows_of: dict[int, np.ndarray] = {}
        self.n_by_proximity = 0

    def object_of(self, track: str, t_s: float) -> int:
        """Truth object index ``track`` was matched to at its matched scan nearest ``t_s``;
        for a track never matched, the object nearest its line within its error (see
        the class); -1 when none."""
        code = self._code.get(track)
        if code is None:
            return -1
        a, b = np.searchsorted(self._track, [code, code + 1])
        if a == b:
            return self._nearest(code, t_s)
        ts = self._t[a:b]
        return int(self._obj[a + int(np.argmin(np.abs(ts - t_s)))])

    def _nearest(self, code: int, t_s: float) -> int:
        rows = self._rows_of.get(code)
        if rows is None:
            rows = np.flatnonzero(self._out.track == code)
            self._rows_of[code] = rows
        if rows.shape[0] == 0:
            return -1
        r = int(rows[np.argmin(np.abs(self._out.t_s[rows] - t_s))])
        if abs(self._out.t_s[r] - t_s) > self._window_s:
            return -1
        _, obj, pos = self._scen.truth.at(self._out.t_s[r : r + 1])
        if obj.shape[0] == 0:
            return -1
        d = np.linalg.norm(pos - self._out.pos_enu_m[r], axis=1)
        k = int(np.argmin(d))
        sd = self._out.pos_std_m[r] if self._out.pos_std_m.shape[0] else math.nan
        gate = max(self._cutoff_m, self._n_sigma * sd) if math.isfinite(sd) else self._cutoff_m
        if d[k] > gate:
            return -1
        self.n_by_proximity += 1
        return int(obj[k])


def warning_metrics(
    scen: ScenarioData, out: OutputData, m: TrackMatching, window_scans: float = 2.0
) -> WarningMetrics:
    """Lead time per hostile drone that entered a zone, and every raised alert sorted by its object."""
    raised: list[Alert] = [a for a in out.alerts if a.state == "raised"]
    attr = AlertAttribution(out, m, window_scans * m.step_s + 1e-6, scen)
    owner = np.array([attr.object_of(a.track, a.t_s) for a in raised], dtype=np.int64)
    # Every event of an alert belongs to the object its raise was attributed to.
    owner_of = {a.id: int(o) for a, o in zip(raised, owner, strict=True)}
    hostile = scen.truth.hostile
    cls = scen.truth.cls
    id_t = scen.identified_t_s if scen.identified_t_s.shape[0] == len(scen.truth) else None
    # An alert raised at info may be escalated later: it is "at warning" if any event was.
    warned = {a.id for a in out.alerts if a.level in ("warning", "critical")}
    false_by: dict[str, int] = {}
    false_warn: dict[str, int] = {}
    hostile_n = nh_id = nh_anon = 0
    for a, o in zip(raised, owner, strict=True):
        if o < 0 or cls[o] != "drone":
            what = "clutter" if o < 0 else str(cls[o])
            false_by[what] = false_by.get(what, 0) + 1
            if a.id in warned:
                false_warn[what] = false_warn.get(what, 0) + 1
        elif hostile[o]:
            hostile_n += 1
        elif id_t is not None and id_t[o] <= a.t_s:
            nh_id += 1
        else:
            nh_anon += 1
    drones: list[DroneWarning] = []
    wrong: list[WrongZoneAlert] = []
    if scen.header.zones:
        zones = ZoneSet(scen.header.zones, scen.frame)
        level_events = [
            a for a in out.alerts if a.state != "cleared" and a.level in ("warning", "critical")
        ]
        for i, zone, t_entry in zone_entries(scen, zones):
            first = next(
                (a for a, o in zip(raised, owner, strict=True) if o == i and a.zone == zone), None
            )
            first_w = next(
                (a for a in level_events if owner_of.get(a.id) == i and a.zone == zone), None
            )
            drones.append(
                DroneWarning(
                    id=scen.truth.ids[i],
                    zone=zone,
                    entry_t_s=t_entry,
                    first_alert_t_s=first.t_s if first else math.nan,
                    alert_id=first.id if first else None,
                    lead_time_s=t_entry - first.t_s if first else math.nan,
                    warning_lead_time_s=t_entry - first_w.t_s if first_w else math.nan,
                    in_view_s=_in_view_s(scen, i, t_entry),
                )
            )
        wrong = _wrong_zone(scen, zones, out, raised, owner)
    worst, worst_pair = _raises_per_object_zone(scen, raised, owner)
    return WarningMetrics(
        drones=tuple(drones),
        n_hostile=int(hostile.sum()),
        n_raised=len(raised),
        false_alerts=sum(false_by.values()),
        duration_s=scen.t_max_s - scen.t_min_s,
        false_by_class=false_by,
        false_warning_by_class=false_warn,
        hostile_alerts=hostile_n,
        nonhostile_identified=nh_id,
        nonhostile_anonymous=nh_anon,
        wrong_zone=tuple(wrong),
        raises_per_object_zone=worst,
        worst_object_zone=worst_pair,
        attributed_by_proximity=attr.n_by_proximity,
    )


def _wrong_zone(
    scen: ScenarioData, zones: ZoneSet, out: OutputData, raised: list[Alert], owner: np.ndarray
) -> list[WrongZoneAlert]:
    """Raised alerts on hostile drones for zones they never entered, with how long each
    stayed open after the drone's closest approach to the zone."""
    entered = entered_zones(scen, zones)
    cleared = {a.id: a.t_s for a in out.alerts if a.state == "cleared"}
    polys = {z.id: z.polygon_enu for z in zones}
    t_end = scen.t_max_s
    found = []
    for a, o in zip(raised, owner, strict=True):
        if o < 0 or not scen.truth.hostile[o] or (int(o), a.zone) in entered:
            continue
        if a.zone not in polys:
            continue
        t_clear = cleared.get(a.id, t_end)
        ts, pos = scen.truth.samples(int(o))
        during = (ts >= a.t_s) & (ts <= t_clear)
        if not during.any():
            t_ca = a.t_s
        else:
            d = shapely.distance(polys[a.zone], shapely.points(pos[during, :2]))
            t_ca = float(ts[during][int(np.argmin(d))])
        found.append(
            WrongZoneAlert(
                alert_id=a.id,
                object_id=scen.truth.ids[int(o)],
                zone=a.zone,
                raised_t_s=a.t_s,
                cleared_t_s=t_clear,
                clear_delay_s=max(0.0, t_clear - t_ca),
            )
        )
    return found


def _raises_per_object_zone(
    scen: ScenarioData, raised: list[Alert], owner: np.ndarray, window_s: float = 3600.0
) -> tuple[int, tuple[str, str] | None]:
    """The most raised alerts for one (object, zone) in any ``window_s``, and that pair."""
    times: dict[tuple[int, str], list[float]] = {}
    for a, o in zip(raised, owner, strict=True):
        if o >= 0:
            times.setdefault((int(o), a.zone), []).append(a.t_s)
    worst, pair = 0, None
    for (o, zone), ts in times.items():
        t = np.sort(np.array(ts))
        n = int((np.searchsorted(t, t + window_s, side="left") - np.arange(t.shape[0])).max())
        if n > worst:
            worst, pair = n, (scen.truth.ids[o], zone)
    return worst, pair


@dataclass(frozen=True, slots=True)
class Classification:
    """Confusion counts of confirmed tracks matched to truth, rows truth class, columns track class.

    ``accuracy`` over all matched confirmed track-scans; ``accuracy_settled``
    over those at least ``SETTLE_S`` after the track's first confirmed line,
    whose counts are ``confusion_settled``. ``per_object`` maps each truth object
    id to (settled track-scans, of which correct); ``hostile_as_aircraft`` is the
    fraction of hostile-drone track-scans read as ``aircraft``;
    ``calibration_settled`` the reliability and log loss of the settled track-scans'
    ``class_p`` (truth classes the classifier has).
    """

    truth_labels: tuple[str, ...]
    track_labels: tuple[str, ...]
    confusion: np.ndarray
    n: int
    accuracy: float
    n_settled: int
    accuracy_settled: float
    confusion_settled: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    per_object: dict[str, tuple[int, int]] = field(default_factory=dict)
    hostile_as_aircraft: float = math.nan
    calibration_settled: Calibration = field(default_factory=empty_calibration)

    def class_accuracy_settled(self) -> dict[str, float]:
        """Settled accuracy per truth class that has settled track-scans."""
        out = {}
        for r, name in enumerate(self.truth_labels):
            n = int(self.confusion_settled[r].sum()) if self.confusion_settled.size else 0
            if n and name in self.track_labels:
                out[name] = float(self.confusion_settled[r, self.track_labels.index(name)]) / n
        return out


def classification(scen: ScenarioData, out: OutputData, m: TrackMatching) -> Classification:
    """Confusion matrix and accuracy of the ``class`` of confirmed tracks matched to truth."""
    truth_labels = tuple(TRUTH_CLASSES) + tuple(
        sorted(set(scen.truth.cls.tolist()) - set(TRUTH_CLASSES))
    )
    track_labels = tuple(TRUTH_CLASSES) + tuple(sorted(set(out.class_names) - set(TRUTH_CLASSES)))
    t_code = {c: i for i, c in enumerate(truth_labels)}
    k_code = {c: i for i, c in enumerate(track_labels)}
    obj_truth = np.array([t_code[c] for c in scen.truth.cls], dtype=np.int64)
    out_label = np.array([k_code[c] for c in out.class_names], dtype=np.int64)

    conf = out.status[m.pair_row] == CONFIRMED
    rows = m.pair_row[conf]
    ti = obj_truth[m.pair_obj[conf]]
    ki = out_label[out.cls[rows]] if rows.shape[0] else np.empty(0, np.int64)
    matrix = np.zeros((len(truth_labels), len(track_labels)), dtype=np.int64)
    np.add.at(matrix, (ti, ki), 1)

    first = np.full(len(out.track_ids), np.inf)
    is_conf = out.status == CONFIRMED
    np.minimum.at(first, out.track[is_conf], out.t_s[is_conf])
    settled = m.pair_t_s[conf] >= first[out.track[rows]] + SETTLE_S
    correct = np.array(truth_labels)[ti] == np.array(track_labels)[ki]
    n, n_s = int(rows.shape[0]), int(settled.sum())
    matrix_s = np.zeros_like(matrix)
    np.add.at(matrix_s, (ti[settled], ki[settled]), 1)
    objs = m.pair_obj[conf]
    per_n = np.bincount(objs[settled], minlength=len(scen.truth))
    per_ok = np.bincount(objs[settled & correct], minlength=len(scen.truth))
    per_object = {scen.truth.ids[i]: (int(per_n[i]), int(per_ok[i])) for i in np.flatnonzero(per_n)}
    hostile = scen.truth.hostile[objs]
    as_air = np.array(track_labels)[ki] == "aircraft" if n else np.zeros(0, bool)
    truth_k = np.array([CLASSES.index(c) if c in CLASSES else -1 for c in truth_labels])[ti]
    has_k = settled & (truth_k >= 0)
    cal = calibration(truth_k[has_k], out.class_p[rows[has_k]])
    return Classification(
        truth_labels=truth_labels,
        track_labels=track_labels,
        confusion=matrix,
        n=n,
        accuracy=float(correct.mean()) if n else math.nan,
        n_settled=n_s,
        accuracy_settled=float(correct[settled].mean()) if n_s else math.nan,
        confusion_settled=matrix_s,
        per_object=per_object,
        hostile_as_aircraft=float(as_air[hostile].mean()) if hostile.any() else math.nan,
        calibration_settled=cal,
    )
