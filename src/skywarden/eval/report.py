"""Score a tracker output file against its scenario's truth: ``evaluate_files``.

``EvalReport.to_dict()`` is the ``skywarden eval --json`` document. Its keys
are stable; NaN (no data) becomes ``null`` in JSON. Distances in metres, times
in seconds (``*_t_s`` UTC seconds since the epoch).

- ``params``: ``c_m``, ``p``, ``all_truth``, ``coverage`` (``"in_coverage"``,
  ``"max_range"`` or ``"all"``: which truth objects count at a scan; ``+seen``
  when detections carry ``truth`` keys and an object counts only once it was
  named by a detection within the last 10 s).
- ``scenario``: ``duration_s``, ``n_truth_objects``, ``n_hostile``,
  ``n_track_lines``, ``n_alert_lines``, ``n_raw_detections``,
  ``rejected_scenario_lines``, ``rejected_output_lines``, ``output_lines_class_p_ignored``.
- ``gospa`` (tracks, per scan of the output) and ``raw_gospa`` (position-like
  detections, per sensor scan): ``n_scans``, ``mean_m``, ``median_m``,
  ``mean_localisation_m``, ``mean_missed_m``, ``mean_false_m`` (the parts'
  shares of each scan's GOSPA, averaged; they add up to ``mean_m``),
  ``mean_total_pp``, ``mean_localisation_pp``, ``mean_missed_pp``,
  ``mean_false_pp`` (the parts in m^p, as defined by the metric),
  ``mean_n_truth``, ``mean_n_estimates``, ``mean_n_missed``, ``mean_n_false``.
  ``raw_gospa`` also has ``by_sensor``: sensor id -> mean_m.
- ``tracking``: ``identity_switches``, ``fragmentations``, ``n_objects_counted``,
  ``never_tracked``, ``latency_mean_s``, ``latency_median_s``, ``latency_max_s``,
  ``objects``: list of {``id``, ``class``, ``hostile``, ``n_scans``,
  ``n_matched``, ``switches``, ``fragmentations``, ``first_detection_t_s``,
  ``first_confirmed_match_t_s``, ``latency_s``}.
- ``warning``: ``n_hostile``, ``n_entered``, ``missed_warnings``,
  ``lead_time_min_s``, ``lead_time_median_s``, ``n_raised_alerts``,
  ``false_alerts`` (raised alerts on birds, aircraft, helicopters and clutter),
  ``false_alerts_per_hour``, ``false_by_class``, ``false_warning_by_class`` (of
  those, the ones at ``warning`` or ``critical`` in any event), ``hostile_alerts``,
  ``nonhostile_drone_alerts`` ({``identified``, ``anonymous``}: alerts on drones
  not hostile in truth, by whether they had given a Remote ID / ADS-B identity when
  the alert was raised),
  ``wrong_zone_alerts`` (hostile drone alerted for a zone it never enters),
  ``wrong_zone_fraction`` (of ``hostile_alerts``), ``wrong_zone_clear_delay_max_s``
  (open time after the drone's closest approach), ``wrong_zone`` (list),
  ``max_raises_per_object_zone_per_hour``, ``worst_object_zone``,
  ``warning_lead_time_min_s``, ``warning_lead_time_median_s`` (first
  warning-or-higher event), ``drones``: list of {``id``, ``zone``,
  ``entry_t_s``, ``first_alert_t_s``, ``alert_id``, ``lead_time_s``,
  ``warning_lead_time_s``, ``in_view_s`` (seconds the drone was in view of a
  radar, camera or position sensor before its entry), ``warned``}.
- ``classification``: ``truth_labels``, ``track_labels``, ``confusion`` (rows
  truth, columns track class; counts of matched confirmed track-scans), ``n``,
  ``accuracy``, ``n_settled``, ``accuracy_settled`` (scans >= 30 s after each
  track's first confirmed line), ``confusion_settled``,
  ``accuracy_settled_by_class``, ``hostile_drones_as_aircraft`` (fraction of
  hostile-drone track-scans read as aircraft), ``per_object_settled`` (object id
  -> [settled scans, correct]), ``calibration_settled`` (``n``, ``log_loss`` and
  per class ``ece`` and reliability ``bins`` ``[lo, hi, forecasts, mean p, fraction
  true]`` of the settled scans' ``class_p``; eval.calibration).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .match import ObjectTracking, ScanGospa, match_tracks, object_tracking, raw_detection_gospa
from .outputs import OutputData, read_output
from .truth import COVERAGE_RULE, ScenarioData, read_scenario
from .warning_metrics import Classification, WarningMetrics, classification, warning_metrics

log = logging.getLogger(__name__)


def _num(x: float) -> float | None:
    """JSON-safe float: NaN and infinities become None."""
    x = float(x)
    return x if math.isfinite(x) else None


def _stat(a: np.ndarray, fn: Any) -> float:
    return float(fn(a)) if a.shape[0] else math.nan


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Every metric of one evaluation (see the module docstring for the JSON form)."""

    c_m: float
    p: float
    all_truth: bool
    scenario: ScenarioData
    output: OutputData
    gospa: ScanGospa
    raw_gospa: ScanGospa
    raw_gospa_sensor: np.ndarray
    objects: ObjectTracking
    warning: WarningMetrics
    classification: Classification

    @property
    def coverage_rule(self) -> str:
        if self.all_truth:
            return "all"
        if self.scenario.has_truth_keys:
            return f"{COVERAGE_RULE}+seen"
        return COVERAGE_RULE

    @property
    def counted(self) -> np.ndarray:
        """Truth objects (k,) that counted at one scan at least, or had a detection."""
        return (self.objects.n_counted > 0) | np.isfinite(self.objects.first_detection_t_s)

    def to_dict(self) -> dict[str, Any]:
        """All numbers as one JSON-ready document (keys as in the module docstring)."""
        scen, ob, w, cl = self.scenario, self.objects, self.warning, self.classification
        counted = self.counted
        lat = ob.latency_s[counted]
        lat = lat[np.isfinite(lat)]
        raw: dict[str, Any] = self.raw_gospa.summary()
        raw["by_sensor"] = {
            sid: _num(_stat(self.raw_gospa.value_m[self.raw_gospa_sensor == i], np.mean))
            for i, sid in enumerate(scen.raw.sensor_ids)
        }
        leads = w.lead_times_s()
        wleads = w.warning_lead_times_s()
        wz_delay = np.array([a.clear_delay_s for a in w.wrong_zone], dtype=float)
        return {
            "params": {
                "c_m": self.c_m,
                "p": self.p,
                "all_truth": self.all_truth,
                "coverage": self.coverage_rule,
            },
            "scenario": {
                "duration_s": _num(scen.t_max_s - scen.t_min_s),
                "n_truth_objects": len(scen.truth),
                "n_hostile": int(scen.truth.hostile.sum()),
                "n_track_lines": len(self.output),
                "n_alert_lines": self.output.n_alert_lines,
                "n_raw_detections": int(scen.raw.t_s.shape[0]),
                "rejected_scenario_lines": scen.n_rejected,
                "rejected_output_lines": sum(self.output.rejected.values()),
                "output_lines_class_p_ignored": self.output.class_p_ignored,
            },
            "gospa": _clean(self.gospa.summary()),
            "raw_gospa": _clean(raw),
            "tracking": {
                "identity_switches": int(ob.switches.sum()),
                "fragmentations": int(ob.fragmentations.sum()),
                "n_objects_counted": int(counted.sum()),
                "never_tracked": int(np.sum(counted & ~np.isfinite(ob.first_confirmed_match_t_s))),
                "latency_mean_s": _num(_stat(lat, np.mean)),
                "latency_median_s": _num(_stat(lat, np.median)),
                "latency_max_s": _num(_stat(lat, np.max)),
                "objects": [
                    {
                        "id": scen.truth.ids[i],
                        "class": str(scen.truth.cls[i]),
                        "hostile": bool(scen.truth.hostile[i]),
                        "n_scans": int(ob.n_counted[i]),
                        "n_matched": int(ob.n_matched[i]),
                        "switches": int(ob.switches[i]),
                        "fragmentations": int(ob.fragmentations[i]),
                        "first_detection_t_s": _num(ob.first_detection_t_s[i]),
                        "first_confirmed_match_t_s": _num(ob.first_confirmed_match_t_s[i]),
                        "latency_s": _num(ob.latency_s[i]),
                    }
                    for i in np.flatnonzero(counted)
                ],
            },
            "warning": {
                "n_hostile": w.n_hostile,
                "n_entered": len(w.drones),
                "missed_warnings": w.missed_warnings,
                "lead_time_min_s": _num(_stat(leads, np.min)),
                "lead_time_median_s": _num(_stat(leads, np.median)),
                "n_raised_alerts": w.n_raised,
                "false_alerts": w.false_alerts,
                "false_alerts_per_hour": _num(w.false_alerts_per_hour),
                "false_by_class": dict(w.false_by_class),
                "false_warning_by_class": dict(w.false_warning_by_class),
                "hostile_alerts": w.hostile_alerts,
                "attributed_by_proximity": w.attributed_by_proximity,
                "nonhostile_drone_alerts": {
                    "identified": w.nonhostile_identified,
                    "anonymous": w.nonhostile_anonymous,
                },
                "wrong_zone_alerts": len(w.wrong_zone),
                "wrong_zone_fraction": _num(w.wrong_zone_fraction),
                "wrong_zone_clear_delay_max_s": _num(_stat(wz_delay, np.max)),
                "wrong_zone": [
                    {
                        "alert_id": a.alert_id,
                        "object": a.object_id,
                        "zone": a.zone,
                        "raised_t_s": a.raised_t_s,
                        "cleared_t_s": _num(a.cleared_t_s),
                        "clear_delay_s": _num(a.clear_delay_s),
                    }
                    for a in w.wrong_zone
                ],
                "max_raises_per_object_zone_per_hour": w.raises_per_object_zone,
                "worst_object_zone": list(w.worst_object_zone) if w.worst_object_zone else None,
                "warning_lead_time_min_s": _num(_stat(wleads, np.min)),
                "warning_lead_time_median_s": _num(_stat(wleads, np.median)),
                "drones": [
                    {
                        "id": d.id,
                        "zone": d.zone,
                        "entry_t_s": d.entry_t_s,
                        "first_alert_t_s": _num(d.first_alert_t_s),
                        "alert_id": d.alert_id,
                        "lead_time_s": _num(d.lead_time_s),
                        "warning_lead_time_s": _num(d.warning_lead_time_s),
                        "in_view_s": _num(d.in_view_s),
                        "warned": d.warned,
                    }
                    for d in w.drones
                ],
            },
            "classification": {
                "truth_labels": list(cl.truth_labels),
                "track_labels": list(cl.track_labels),
                "confusion": cl.confusion.tolist(),
                "n": cl.n,
                "accuracy": _num(cl.accuracy),
                "n_settled": cl.n_settled,
                "accuracy_settled": _num(cl.accuracy_settled),
                "confusion_settled": cl.confusion_settled.tolist(),
                "accuracy_settled_by_class": cl.class_accuracy_settled(),
                "hostile_drones_as_aircraft": _num(cl.hostile_as_aircraft),
                "per_object_settled": {k: list(v) for k, v in cl.per_object.items()},
                "calibration_settled": cl.calibration_settled.to_dict(),
            },
        }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in d.items()}


def evaluate_files(
    scenario_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    c: float = 100.0,
    p: float = 2.0,
    all_truth: bool = False,
) -> EvalReport:
    """Score ``output_path`` (track/alert lines) against the truth in ``scenario_path``.

    ``c`` the GOSPA cut-off (m), ``p`` its order; ``all_truth`` counts every
    existing truth object, not only those some sensor covers.
    """
    scen = read_scenario(scenario_path)
    out = read_output(output_path, scen.frame)
    m = match_tracks(scen, out, c, p, all_truth)
    raw, raw_sensor = raw_detection_gospa(scen, c, p, all_truth)
    return EvalReport(
        c_m=float(c),
        p=float(p),
        all_truth=all_truth,
        scenario=scen,
        output=out,
        gospa=m.gospa,
        raw_gospa=raw,
        raw_gospa_sensor=raw_sensor,
        objects=object_tracking(scen, out, m),
        warning=warning_metrics(scen, out, m),
        classification=classification(scen, out, m),
    )
