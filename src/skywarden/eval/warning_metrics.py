"""Warning quality: lead time, missed warnings, false alerts, classification.

Only threat alerts count (``kind`` absent or ``"threat"``), and of those only
``raised`` events. An alert is attributed to the truth object its track was
matched to at the scan nearest the alert time, within ``window_scans`` scan
intervals either side (the alert stage may run a scan before or after the
written track line). When the track was not matched then — an early warning on
a drone 15 km out, where a radar's angle error alone exceeds the matching
cut-off — the object the track was matched to most often over its life is
taken instead; a track never matched to anything makes a false alert.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..threat.zones import ZoneSet
from ..types import TRUTH_CLASSES
from .match import TrackMatching
from .outputs import CONFIRMED, Alert, OutputData
from .truth import ScenarioData

log = logging.getLogger(__name__)

#: A track's class is scored only this long after its first confirmed line.
SETTLE_S = 30.0


@dataclass(frozen=True, slots=True)
class DroneWarning:
    """One hostile drone that entered a zone: when, and how early it was warned of.

    ``lead_time_s`` = ``entry_t_s`` - first raised alert for that zone on a
    track matched to the drone (NaN when none); ``warned`` when that alert came
    before the entry.
    """

    id: str
    zone: str
    entry_t_s: float
    first_alert_t_s: float
    alert_id: str | None
    lead_time_s: float

    @property
    def warned(self) -> bool:
        return math.isfinite(self.lead_time_s) and self.lead_time_s > 0.0


@dataclass(frozen=True, slots=True)
class WarningMetrics:
    """Per hostile drone that entered a zone, plus false alerts over the scenario."""

    drones: tuple[DroneWarning, ...]
    n_hostile: int
    n_raised: int
    false_alerts: int
    duration_s: float

    @property
    def missed_warnings(self) -> int:
        return sum(not d.warned for d in self.drones)

    @property
    def false_alerts_per_hour(self) -> float:
        if not self.duration_s > 0.0:
            return math.nan
        return self.false_alerts / (self.duration_s / 3600.0)

    def lead_times_s(self) -> np.ndarray:
        """Finite lead times (n,), seconds."""
        a = np.array([d.lead_time_s for d in self.drones], dtype=float)
        return a[np.isfinite(a)]


def zone_entries(scen: ScenarioData, zones: ZoneSet) -> list[tuple[int, str, float]]:
    """First zone entry ``(object index, zone id, t_s)`` of every hostile truth object that has one."""
    out = []
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


class AlertAttribution:
    """Which truth object a track was matched to near a given time."""

    def __init__(self, out: OutputData, m: TrackMatching, window_s: float) -> None:
        self._code = {name: i for i, name in enumerate(out.track_ids)}
        track = out.track[m.pair_row]
        order = np.lexsort((m.pair_t_s, track))
        self._track = track[order]
        self._t = m.pair_t_s[order]
        self._obj = m.pair_obj[order]
        self._window_s = window_s

    def object_of(self, track: str, t_s: float) -> int:
        """Truth object index matched to ``track`` at the scan nearest ``t_s`` (within the window), or -1."""
        code = self._code.get(track)
        if code is None:
            return -1
        a, b = np.searchsorted(self._track, [code, code + 1])
        if a == b:
            return -1
        ts = self._t[a:b]
        j = int(np.argmin(np.abs(ts - t_s)))
        if abs(ts[j] - t_s) <= self._window_s:
            return int(self._obj[a + j])
        return int(np.bincount(self._obj[a:b]).argmax())


def warning_metrics(
    scen: ScenarioData, out: OutputData, m: TrackMatching, window_scans: float = 2.0
) -> WarningMetrics:
    """Lead time per hostile drone that entered a zone, missed warnings, false alerts."""
    raised: list[Alert] = [a for a in out.alerts if a.state == "raised"]
    attr = AlertAttribution(out, m, window_scans * m.step_s + 1e-6)
    owner = np.array([attr.object_of(a.track, a.t_s) for a in raised], dtype=np.int64)
    hostile = scen.truth.hostile
    false = int(np.sum((owner < 0) | ~hostile[np.maximum(owner, 0)])) if raised else 0
    drones = []
    if scen.header.zones:
        zones = ZoneSet(scen.header.zones, scen.frame)
        for i, zone, t_entry in zone_entries(scen, zones):
            first = next(
                (a for a, o in zip(raised, owner, strict=True) if o == i and a.zone == zone), None
            )
            drones.append(
                DroneWarning(
                    id=scen.truth.ids[i],
                    zone=zone,
                    entry_t_s=t_entry,
                    first_alert_t_s=first.t_s if first else math.nan,
                    alert_id=first.id if first else None,
                    lead_time_s=t_entry - first.t_s if first else math.nan,
                )
            )
    return WarningMetrics(
        drones=tuple(drones),
        n_hostile=int(hostile.sum()),
        n_raised=len(raised),
        false_alerts=false,
        duration_s=scen.t_max_s - scen.t_min_s,
    )


@dataclass(frozen=True, slots=True)
class Classification:
    """Confusion counts of confirmed tracks matched to truth, rows truth class, columns track class.

    ``accuracy`` over all matched confirmed track-scans; ``accuracy_settled``
    over those at least ``SETTLE_S`` after the track's first confirmed line.
    """

    truth_labels: tuple[str, ...]
    track_labels: tuple[str, ...]
    confusion: np.ndarray
    n: int
    accuracy: float
    n_settled: int
    accuracy_settled: float


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
    return Classification(
        truth_labels=truth_labels,
        track_labels=track_labels,
        confusion=matrix,
        n=n,
        accuracy=float(correct.mean()) if n else math.nan,
        n_settled=n_s,
        accuracy_settled=float(correct[settled].mean()) if n_s else math.nan,
    )
