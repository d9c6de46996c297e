"""The whole engine as the sky fills up: ms per scan, stage by stage, from 100 to 10,000 targets.

Two scenarios, simulated with seed 1:

* ``scale`` — the built-in ``bench`` (N targets on nearly-constant-velocity paths over
  a 20 km disc, one position sensor σ = 10 m, Pd = 0.9, 1 Hz) with N/10 clutter
  detections per scan (at least 10) and five protected zones;
* ``mass-raid --targets N`` — hostile drones in waves from four directions, decoys and
  loiterers (a quarter of N), birds and aircraft; three radars in heavy clutter, an RF
  direction finder and a camera. Measured from ``--raid-start`` seconds, when the
  waves are in the air.

Each run reads the scenario's detections into memory (decoding is not timed) and
pushes them one by one through the whole engine, as ``skywarden track`` does:
reorder, tracker, classifier, threat, track and alert lines. The first ``--warmup``
seconds are not counted (tracks confirm, classes settle). Two passes: one with the
stage timer on, for the split; one with it off, for the total (the timer's own
cost is not in it). Times are this thread's CPU time, with BLAS on one thread:
what one core spends, however busy the machine (``wall`` is the wall-clock
total, which other processes inflate). A scan is one sensor batch, as in
``skywarden track``'s summary; ``ms/s`` is CPU time per second of data (below
1,000 is faster than real time).

Printed per N: ms per scan of each stage (reorder, predict, gate, assign, update,
initiate, classify, threat, output), the total, wall, ms/s, track lines per output
tick, and the log-log slope of the total against N.

Each size is run ``--repeat`` times (3) and the least time counts (other processes
only ever add time; on a shared machine single runs vary by ±20 %).

Run: ``.venv/bin/python bench/scale.py [--quick] [--json]``; ``--sizes``, ``--raid-sizes``,
``--duration``, ``--warmup``, ``--raid-start``, ``--repeat`` to change the runs.
"""

from __future__ import annotations

import argparse
import os

# One core: numpy's BLAS must not spread a matrix product over threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import gc  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from skywarden.pipeline import build_engine  # noqa: E402
from skywarden.scenario import Header, ScenarioReader  # noqa: E402
from skywarden.sim import load_spec, simulate_to_file, spec_from_dict  # noqa: E402
from skywarden.sim.builtin import builtin_data  # noqa: E402
from skywarden.sim.generate import EPOCH_S  # noqa: E402
from skywarden.timing import STAGES, StageTimer  # noqa: E402
from skywarden.types import Detection  # noqa: E402

console = Console(width=170)

#: Five zones over the ``bench`` area (east, north, radius m; height m; priority).
ZONES = (
    ("Z1", "Centre", 0.0, 0.0, 1_000.0, 1_000.0, 1),
    ("Z2", "North-east", 8_000.0, 5_000.0, 600.0, 800.0, 2),
    ("Z3", "West", -9_000.0, 3_000.0, 500.0, 600.0, 3),
    ("Z4", "South", 2_000.0, -10_000.0, 800.0, 800.0, 2),
    ("Z5", "South-west", -7_000.0, -8_000.0, 400.0, 500.0, 4),
)


def scale_spec(n: int) -> Any:
    """``bench`` with ``n`` targets, clutter n/10 per scan and the five zones."""
    d = builtin_data("bench")
    ground = d["site"]["alt_m"]
    d["name"] = "scale"
    d["objects"][0]["count"] = n
    d["sensors"][0]["clutter_per_scan"] = max(10.0, n / 10.0)
    d["zones"] = [
        {
            "id": zid,
            "name": name,
            "circle": {"east_m": e, "north_m": nn, "radius_m": r},
            "floor_m": ground,
            "ceiling_m": ground + h,
            "priority": prio,
        }
        for zid, name, e, nn, r, h, prio in ZONES
    ]
    return spec_from_dict(d, "scale")


def load(path: Path, t_from: float) -> tuple[Header, list[Detection]]:
    """The scenario's declarations and its detections from ``t_from`` on.

    The detections are held in memory for the runs; they are frozen out of the
    garbage collector's sweeps (``gc.freeze``), so that its passes over this input,
    which a streaming run never holds, are not charged to the engine.
    """
    reader = ScenarioReader(path)
    dets = [r for r in reader if isinstance(r, Detection) and r.t >= t_from]
    gc.collect()
    gc.freeze()
    return reader.header, dets


def run(header: Header, dets: list[Detection], count_from: float, timed: bool) -> dict[str, Any]:
    """Push every detection through a new engine; count from ``count_from`` on."""
    eng = build_engine(header)
    timer = StageTimer(clock=time.thread_time) if timed else None
    eng.set_timer(timer)
    counting = False
    scans0 = 0
    lines: list[int] = []
    cpu0 = wall0 = 0.0
    for d in dets:
        if not counting and d.t >= count_from:
            counting = True
            scans0 = eng.stats.scans
            if timer is not None:
                timer.reset()
            cpu0, wall0 = time.thread_time(), time.perf_counter()
        for o in eng.push(d):
            if counting:
                lines.append(len(o.tracks))
    for o in eng.flush():
        lines.append(len(o.tracks))
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    scans = eng.stats.scans - scans0
    span = dets[-1].t - count_from
    out: dict[str, Any] = {
        "scans": scans,
        "data_s": span,
        "ms_per_scan": 1000.0 * cpu / scans,
        "wall_ms_per_scan": 1000.0 * wall / scans,
        "ms_per_s": 1000.0 * cpu / span,
        "track_lines": float(np.mean(lines)) if lines else 0.0,
    }
    if timer is not None:
        out["stages_ms"] = {k: 1000.0 * v / scans for k, v in timer.rest(cpu).items()}
    return out


def measure(
    name: str,
    n: int,
    spec: Any,
    tmp: Path,
    duration: float,
    start: float,
    warmup: float,
    repeat: int,
) -> dict[str, Any]:
    path = tmp / f"{name}-{n}.jsonl"
    sim = simulate_to_file(spec, path, seed=1, duration_s=start + duration)
    header, dets = load(path, EPOCH_S + start)
    path.unlink()
    count_from = EPOCH_S + start + warmup
    # The least of a few runs: other processes only ever add time.
    timed = min((run(header, dets, count_from, True) for _ in range(repeat)),
                key=lambda r: r["ms_per_scan"])  # fmt: skip
    plain = min((run(header, dets, count_from, False) for _ in range(repeat)),
                key=lambda r: r["ms_per_scan"])  # fmt: skip
    gc.unfreeze()
    return {
        "scenario": name,
        "targets": n,
        "objects": sim.objects,
        "detections_per_scan": sum(1 for d in dets if d.t >= count_from) / plain["scans"],
        **plain,
        "stages_ms": timed["stages_ms"],
        "timed_total_ms": timed["ms_per_scan"],
    }


def slope(rows: list[dict[str, Any]]) -> float | None:
    """Log-log slope of the total ms per scan against N (least squares)."""
    if len(rows) < 2:
        return None
    x = np.log([r["targets"] for r in rows])
    y = np.log([r["ms_per_scan"] for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def table(title: str, rows: list[dict[str, Any]], k: float | None) -> Table:
    t = Table(title=title + ("" if k is None else f" — log-log slope of total {k:.2f}"))
    for col in ("N", "objects", "dets/scan", *STAGES, "total", "wall", "ms/s", "track lines"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            f"{r['targets']:,}",
            f"{r['objects']:,}",
            f"{r['detections_per_scan']:.0f}",
            *(f"{r['stages_ms'][s]:.2f}" for s in STAGES),
            f"[bold]{r['ms_per_scan']:.1f}[/bold]",
            f"{r['wall_ms_per_scan']:.1f}",
            f"{r['ms_per_s']:.0f}",
            f"{r['track_lines']:.0f}",
        )
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,300,1000,3000,10000")
    ap.add_argument("--raid-sizes", default="500,2000,5000")
    ap.add_argument("--quick", action="store_true", help="sizes 100,300,1000; raid 500")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of data per run")
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds not counted")
    ap.add_argument("--raid-start", type=float, default=300.0, help="mass-raid data from here")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size (the least counts)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sizes = "100,300,1000" if a.quick else a.sizes
    raid_sizes = "500" if a.quick else a.raid_sizes
    tmp = Path(tempfile.mkdtemp(prefix="skywarden-scale-"))
    out: dict[str, Any] = {"scale": [], "mass_raid": []}
    for n in [int(x) for x in sizes.split(",") if x]:
        r = measure("scale", n, scale_spec(n), tmp, a.duration, 0.0, a.warmup, a.repeat)
        out["scale"].append(r)
        if not a.json:
            console.print(f"scale N={n:,}: {r['ms_per_scan']:.1f} ms/scan")
    for n in [int(x) for x in raid_sizes.split(",") if x]:
        spec = load_spec("mass-raid", targets=n)
        r = measure("mass-raid", n, spec, tmp, a.duration, a.raid_start, a.warmup, a.repeat)
        out["mass_raid"].append(r)
        if not a.json:
            console.print(f"mass-raid N={n:,}: {r['ms_per_scan']:.1f} ms/scan")
    out["slope_scale"] = slope(out["scale"])
    out["slope_mass_raid"] = slope(out["mass_raid"])
    tmp.rmdir()
    if a.json:
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    console.print(table("scale: N targets, clutter, 5 zones (ms per scan)", out["scale"],
                        out["slope_scale"]))  # fmt: skip
    if out["mass_raid"]:
        console.print(table("mass-raid --targets N (ms per scan)", out["mass_raid"],
                            out["slope_mass_raid"]))  # fmt: skip


if __name__ == "__main__":
    main()
