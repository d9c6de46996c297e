"""Run a scenario spec: header lines, then truth and detections merged by time.

The truth of every object is flown up front (cheap arrays); sensor records are
made lazily, one time chunk at a time, so a live demo can consume the stream
in real time. Output is deterministic for a seed: each sensor and the truth
draw from their own child generator of one seeded root.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..geodesy import LocalFrame, SensorGeometry
from ..scenario import ScenarioWriter
from ..threat.zones import ZoneSet
from ..types import Record, Site, TruthPoint, Zone
from .sensors import SensorModel, sensor_record
from .spec import Recorded, ScenarioSpec, ZoneSpec
from .truth import Population, build_population

#: Simulated time starts at 2026-01-01T00:00:00Z, so files are reproducible.
EPOCH_S = 1_767_225_600.0


def _zone_record(z: ZoneSpec, frame: LocalFrame) -> Zone:
    if z.polygon is not None:
        poly = [(float(lon), float(lat)) for lon, lat in z.polygon]
    else:
        c = z.circle
        assert c is not None  # ZoneSpec checks that one of the two is given
        a = np.linspace(0.0, 2.0 * np.pi, 32, endpoint=False)
        enu = np.column_stack(
            [c.east_m + c.radius_m * np.sin(a), c.north_m + c.radius_m * np.cos(a), np.zeros(32)]
        )
        lat, lon, _ = frame.to_geodetic(enu)
        poly = list(zip(np.round(lon, 7).tolist(), np.round(lat, 7).tolist(), strict=True))
    return Zone(
        id=z.id,
        name=z.name,
        polygon=poly,
        floor_m=z.floor_m,
        ceiling_m=z.ceiling_m,
        priority=z.priority,
    )


@dataclass
class SimSummary:
    """What a run produced: objects by class, detections and clutter per sensor, lines, time."""

    name: str
    seed: int
    duration_s: float
    objects: int = 0
    objects_by_class: dict[str, int] = field(default_factory=dict)
    hostile: int = 0
    detections_by_sensor: dict[str, int] = field(default_factory=dict)
    clutter_by_sensor: dict[str, int] = field(default_factory=dict)
    truth_lines: int = 0
    lines: int = 0
    wall_s: float = 0.0
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "objects": self.objects,
            "objects_by_class": self.objects_by_class,
            "hostile": self.hostile,
            "detections_by_sensor": self.detections_by_sensor,
            "clutter_by_sensor": self.clutter_by_sensor,
            "truth_lines": self.truth_lines,
            "lines": self.lines,
            "wall_s": round(self.wall_s, 3),
            "out": self.path,
        }


class Simulation:
    """One scenario run: the flown population and the sensor models, streamed in chunks.

    ``duration_s`` defaults to the spec's and is rounded up to whole seconds;
    ``rng`` overrides the generator seeded with ``seed``.
    """

    def __init__(
        self,
        spec: ScenarioSpec,
        *,
        seed: int,
        duration_s: float | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.duration_s = float(math.ceil(spec.duration_s if duration_s is None else duration_s))
        if self.duration_s <= 0:
            raise ValueError("duration must be positive")
        root = rng if rng is not None else np.random.default_rng(seed)
        streams = root.spawn(1 + len(spec.sensors))
        s = spec.site
        self.frame = LocalFrame(s.lat, s.lon, s.alt_m)
        self.site = Site(name=s.name, lat=s.lat, lon=s.lon, alt_m=s.alt_m)
        self.zones = [_zone_record(z, self.frame) for z in spec.zones]
        self.zone_set = ZoneSet(self.zones, self.frame)
        n_t = int(self.duration_s) + 1
        self.population: Population = build_population(
            list(spec.objects), self.zone_set, n_t, streams[0]
        )
        self.sensors: list[SensorModel] = []
        for sp, r in zip(spec.sensors, streams[1:], strict=True):
            line = sensor_record(sp, self.frame)
            geom = SensorGeometry.from_sensor(self.frame, line)
            self.sensors.append(SensorModel(sp, line, geom, self.frame, r, EPOCH_S))
        self.truth_lines = 0

    def header(self) -> list[Record]:
        """The site, sensor and zone lines."""
        return [self.site, *(m.sensor for m in self.sensors), *self.zones]

    def _truth(self, k0: int, k1: int) -> tuple[np.ndarray, list[TruthPoint]]:
        pop = self.population
        # Time-major order, so the records are already sorted by t.
        kk, obj = np.nonzero(pop.exists[:, k0:k1].T)
        kk += k0
        pos = pop.pos_enu_m[obj, kk]
        vel = np.round(pop.vel_enu_mps[obj, kk], 2).tolist()
        lat, lon, alt = self.frame.to_geodetic(pos)
        ids, cls, hostile = pop.ids, pop.truth_class, pop.hostile.tolist()
        o = obj.tolist()
        recs = [
            TruthPoint(
                t=t,
                id=ids[i],
                class_=cls[i],
                lat=la,
                lon=lo,
                alt_m=al,
                hostile=hostile[i],
                vel_enu_mps=tuple(v),
            )
            for t, i, la, lo, al, v in zip(
                (EPOCH_S + kk * 1.0).tolist(),
                o,
                np.round(lat, 7).tolist(),
                np.round(lon, 7).tolist(),
                np.round(alt, 2).tolist(),
                vel,
                strict=True,
            )
        ]
        self.truth_lines += len(recs)
        return kk.astype(float), recs

    def chunks(self, chunk_s: float = 30.0) -> Iterator[list[Record]]:
        """Truth and detection records, sorted by ``t``, one list per ``chunk_s`` of sim time."""
        n_t = self.population.n_times
        step = max(1, int(chunk_s))
        for k0 in range(0, n_t, step):
            k1 = min(k0 + step, n_t)
            # The last chunk also takes scans up to the final grid time.
            t_to = float(k1) if k1 < n_t else float(n_t - 1) + 0.5
            times = []
            recs: list[Record] = []
            t_truth, truth = self._truth(k0, k1)
            times.append(t_truth)
            recs.extend(truth)
            for m in self.sensors:
                out = m.chunk(self.population, float(k0), t_to)
                times.append(out.t_s)
                recs.extend(out.records)
            order = np.argsort(np.concatenate(times), kind="stable")
            yield [recs[i] for i in order.tolist()]

    def summary(self, wall_s: float, lines: int, path: str | None = None) -> SimSummary:
        pop = self.population
        return SimSummary(
            name=self.spec.name,
            seed=self.seed,
            duration_s=self.duration_s,
            objects=len(pop),
            objects_by_class=dict(sorted(Counter(pop.truth_class).items())),
            hostile=int(pop.hostile.sum()),
            detections_by_sensor={m.spec.id: m.n_detections + m.n_clutter for m in self.sensors},
            clutter_by_sensor={m.spec.id: m.n_clutter for m in self.sensors},
            truth_lines=self.truth_lines,
            lines=lines,
            wall_s=wall_s,
            path=path,
        )


def generate(
    spec: ScenarioSpec,
    *,
    seed: int,
    duration_s: float | None = None,
    rng: np.random.Generator | None = None,
    chunk_s: float = 30.0,
) -> Iterator[Record]:
    """Header records, then truth and detections sorted by ``t``, generated lazily by chunk."""
    sim = Simulation(spec, seed=seed, duration_s=duration_s, rng=rng)
    yield from sim.header()
    for chunk in sim.chunks(chunk_s):
        yield from chunk


def simulate_to_file(
    spec: ScenarioSpec,
    path: str | os.PathLike[str],
    seed: int,
    duration_s: float | None = None,
    *,
    progress: Callable[[float, float], None] | None = None,
) -> SimSummary:
    """Write the scenario to ``path``; ``progress(done_s, total_s)`` is called per chunk."""
    t0 = time.perf_counter()
    sim = Simulation(spec, seed=seed, duration_s=duration_s)
    done = 0.0
    step = 30.0
    with ScenarioWriter(path) as w:
        w.write_all(sim.header())
        for chunk in sim.chunks(step):
            w.write_all(chunk)
            done = min(done + step, sim.duration_s)
            if progress is not None:
                progress(done, sim.duration_s)
        lines = w.count
    return sim.summary(time.perf_counter() - t0, lines, str(path))


def recorded_flights(spec: ScenarioSpec) -> dict[str, str | None]:
    """Every truth object id of ``spec`` -> file name of the recorded flight it flies,
    None for the simulator's own objects (the simulator numbers objects in spec order)."""
    ids = Simulation(spec, seed=0, duration_s=1.0).population.ids
    groups = [g for g in spec.objects for _ in range(g.count)]
    return {
        i: Path(g.track).name if isinstance(g, Recorded) else None
        for i, g in zip(ids, groups, strict=True)
    }
