"""Small specs and collectors for simulator tests."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from skywarden.sim import Simulation, spec_from_dict
from skywarden.types import Detection

SITE = {"name": "test site", "lat": 51.0, "lon": 1.0, "alt_m": 20.0}


def spec(sensors: list[dict[str, Any]], objects: list[dict[str, Any]], duration_s: float = 60.0):
    return spec_from_dict(
        {
            "name": "test",
            "duration_s": duration_s,
            "site": SITE,
            "sensors": sensors,
            "objects": objects,
        }
    )


def targets(count: int, e: float, n: float, radius_m: float, **kw: Any) -> dict[str, Any]:
    """A target group; straight lines by default (no process noise)."""
    return {
        "kind": "target",
        "count": count,
        "area": {"east_m": e, "north_m": n, "radius_m": radius_m},
        "accel_sigma_mps2": 0.0,
        **kw,
    }


def run(sim: Simulation) -> dict[str, list[Detection]]:
    """All detections of a run, by sensor id."""
    out: dict[str, list[Detection]] = defaultdict(list)
    for chunk in sim.chunks(20.0):
        for r in chunk:
            if isinstance(r, Detection):
                out[r.sensor].append(r)
    return out


def truth_at(sim: Simulation, dets: list[Detection]) -> tuple[np.ndarray, np.ndarray]:
    """True ENU positions and velocities (k, 3) of the objects behind detections, at their times."""
    index = {oid: i for i, oid in enumerate(sim.population.ids)}
    pos, vel = [], []
    for d in dets:
        p, v, ok = sim.population.sample(np.array([index[d.truth]]), np.array([d.t - 1767225600.0]))
        assert ok[0, 0]
        pos.append(p[0, 0])
        vel.append(v[0, 0])
    return np.array(pos), np.array(vel)
