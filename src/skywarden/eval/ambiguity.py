"""How early the truth itself says which zone a hostile drone is heading for.

From a scenario's truth alone (no sensor, no tracker: exact positions and headings),
for every hostile drone's zone entry:

* ``straight_lead_s``: how long before entry its straight path (the ray along its
  present horizontal heading, ``horizon_s`` long at its present speed) has entered that
  zone, without a break up to the entry. A warning system that warns only the zone a
  drone is pointed at cannot warn earlier than this.
* ``best_lead_s``: how long before entry that zone has been, without a break, the one
  the ray passes nearest (ties: the sooner closest approach). Warning only the zone a
  drone is best aimed at cannot warn earlier than this either.
* ``wrong_zones``: the other zones that were, on the way in, the best-aimed one for at
  least ``hold_s`` with the ray's closest approach within ``horizon_s``: the
  wrong-zone alerts of that ideal one-zone rule. ``wrong_share`` is their share of
  its alerts (one right one per entry).

Together they show what a per-zone warning can achieve on a scenario: where doglegs
point drones at neighbouring zones until their final run, a short straight lead means
a minute's warning needs alerts off the straight path, and a large wrong share means
those alerts name the wrong zone however good the tracker is
(``scripts/zone_ambiguity.py`` prints them as a table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ..threat.zones import ZoneSet
from .truth import ScenarioData, read_scenario
from .warning_metrics import zone_entries


def _tail(ok: np.ndarray, t: np.ndarray, t_entry: float) -> float:
    """Seconds before ``t_entry`` since when ``ok`` (per sample, ending at the entry)
    has held without a break; 0 if it does not hold at the last sample."""
    if ok.shape[0] == 0 or not ok[-1]:
        return 0.0
    broken = np.flatnonzero(~ok)
    first = broken[-1] + 1 if broken.shape[0] else 0
    return float(t_entry - t[first])


def drone_rays(
    scen: ScenarioData, zones: ZoneSet, i: int, t_entry: float, horizon_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Object ``i``'s sample times before ``t_entry`` (n,), the horizontal distance (m)
    from its ray to each zone (n, Z) and the time (s) to the ray's closest approach."""
    ts, pos = scen.truth.samples(i)
    keep = ts <= t_entry
    ts, pos = ts[keep], pos[keep, :2]
    if ts.shape[0] < 2:
        return ts[:0], np.zeros((0, len(zones))), np.zeros((0, len(zones)))
    vel = np.gradient(pos, ts, axis=0)
    ends = pos + vel * horizon_s
    rays = shapely.linestrings(np.stack([pos, ends], axis=1))
    miss = np.empty((ts.shape[0], len(zones)))
    t_ca = np.empty_like(miss)
    speed = np.maximum(np.hypot(vel[:, 0], vel[:, 1]), 1e-6)
    for j, z in enumerate(zones):
        miss[:, j] = shapely.distance(rays, z.polygon_enu)
        along = shapely.line_locate_point(rays, shapely.centroid(z.polygon_enu))
        t_ca[:, j] = along / speed
        # Inside the zone horizontally: it is there now.
        here = shapely.contains_xy(z.polygon_enu, pos[:, 0], pos[:, 1])
        miss[here, j], t_ca[here, j] = 0.0, 0.0
    return ts, miss, t_ca


def analyse(path: Path, horizon_s: float = 300.0, hold_s: float = 8.0) -> dict[str, Any]:
    """The per-entry leads and the ideal one-zone rule's wrong zones of one scenario."""
    scen = read_scenario(path)
    zones = ZoneSet(scen.header.zones, scen.frame)
    ids = list(zones.ids)
    entries = []
    wrong_total = 0
    for i, zone, t_entry in zone_entries(scen, zones):
        ts, miss, t_ca = drone_rays(scen, zones, i, t_entry, horizon_s)
        j = ids.index(zone)
        # The best-aimed zone: least miss, then the soonest closest approach.
        best = np.lexsort((t_ca.T, miss.T), axis=0)[0] if ts.shape[0] else np.zeros(0, int)
        wrong: set[str] = set()
        run_zone, run_t = -1, 0.0
        for k in range(ts.shape[0]):
            b = int(best[k])
            if t_ca[k, b] > horizon_s:
                run_zone = -1
                continue
            if b != run_zone:
                run_zone, run_t = b, float(ts[k])
            if b != j and ts[k] - run_t >= hold_s:
                wrong.add(ids[b])
        wrong_total += len(wrong)
        entries.append(
            {
                "object": scen.truth.ids[i],
                "zone": zone,
                "straight_lead_s": _tail(miss[:, j] == 0.0, ts, t_entry),
                "best_lead_s": _tail(best == j, ts, t_entry),
                "wrong_zones": sorted(wrong),
            }
        )
    n = len(entries)
    return {
        "scenario": path.name,
        "entries": entries,
        "wrong_share": wrong_total / (wrong_total + n) if n else 0.0,
    }
