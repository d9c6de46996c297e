"""Warning quality of every acceptance scenario, as one table (the README's figures).

    .venv/bin/python scripts/warning_report.py [--seeds 1 --seeds 2] [--jobs 2] [--json]
        [--bird-wind E N] [--without KIND ...] [--set acceptance|train]
        [--hostile-speed LO HI] [--hostile-radio FRAC]

Simulates every built-in and every real-flight evaluation scenario with each
seed, runs the whole engine on it and scores it with ``skywarden eval``'s
metrics, in parallel processes. The same runs as ``tests/acceptance``. A second
table gives the settled classification accuracy per source of the real-flight
scenarios' objects (the corpus source of each recorded flight, ``synthetic`` for
the simulator's own). A third gives the reliability of the settled track-scans'
drone probability (forecasts binned by p(drone), the fraction that were drones)
and the log loss of their class probabilities, for the built-ins and the
real-flight scenarios apart. ``--bird-wind`` flies every recorded bird in a steady
wind, a stress test of birds faster over the ground than any logged one.
``--without camera`` (or any sensor kind, repeatable) takes those sensors out of every
scenario: the same objects seen by a smaller sensor suite, a stress test of the
classifier on noisier tracks (a radar's elevation alone fixes a far bird's height).
``--hostile-speed 17 24`` flies every scripted hostile fixed-wing drone
(``hostile_drone``) at 17-24 m/s, a bird's speed, and ``--hostile-radio 1`` (or 0)
makes every one of them an emitter (or none): a check of slow fixed-wing drones with
and without RF.
``--set train`` runs the real-flight *training* scenarios instead
(``scenarios/real/train``, flights of the training split): the shipped classifier
parameters were fitted on simulated scenarios only and no rule was tuned on these, so
they are a second, held-out check of the same behaviour (they are not acceptance
scenarios).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from skywarden.classify.classifier import ClassifierParams
from skywarden.eval import evaluate_files
from skywarden.eval.calibration import Calibration
from skywarden.eval.warning_metrics import MIN_LEAD_S
from skywarden.runner import run_file
from skywarden.sim import load_spec, simulate_to_file
from skywarden.sim.generate import recorded_flights
from skywarden.sim.recorded import corpus_dir, real_scenarios
from skywarden.sim.stress import birds_in_wind, hostile_drones, without_sensors
from skywarden.types import SENSOR_KINDS

BUILTINS = ("single-drone", "swarm", "birds", "airport", "coastal", "mass-raid")
REAL_NAMES = {p.stem for split in ("eval", "train") for p in real_scenarios(split)}
console = Console(stderr=True)


def _sources(spec_path: str) -> dict[str, str]:
    """Truth object id -> ``class: source`` of the recorded flight it flies (its corpus
    class and the first part of its source id, e.g. ``bird: sula``, ``helicopter: havo``),
    ``synthetic`` for the simulator's own objects."""
    with (corpus_dir() / "manifest.csv").open(encoding="utf-8") as f:
        source_of = {
            r["file"]: f"{r['class']}: {r['source'].split('-')[0]}" for r in csv.DictReader(f)
        }
    flights = recorded_flights(load_spec(spec_path))
    return {i: "synthetic" if f is None else source_of[f] for i, f in flights.items()}


def _summed(items: Iterable[tuple[str, int, int]]) -> dict[str, list[int]]:
    """``[track-scans, correct]`` summed per key of ``(key, track-scans, correct)``."""
    out: dict[str, list[int]] = {}
    for key, n, ok in items:
        acc = out.setdefault(key, [0, 0])
        acc[0] += n
        acc[1] += ok
    return out


def _by_source(spec_path: str, per_object: dict[str, list[int]]) -> dict[str, list[int]]:
    """Settled track-scans and the correct ones, summed per source."""
    src = _sources(spec_path)
    return _summed((src[oid], n, ok) for oid, (n, ok) in per_object.items())


Hostile = tuple[tuple[float, float] | None, float | None]


Job = tuple[str, str, int, tuple[float, float], tuple[str, ...], Hostile, str | None]


def _one(job: Job) -> dict:
    name, spec, seed, wind, without, hostile, params_path = job
    params = None if params_path is None else ClassifierParams.load(params_path)
    with tempfile.TemporaryDirectory() as d:
        scen, out = Path(d) / "s.jsonl", Path(d) / "o.jsonl"
        sim = without_sensors(birds_in_wind(load_spec(spec), wind), without)
        sim = hostile_drones(sim, speed_mps=hostile[0], radio_fraction=hostile[1])
        simulate_to_file(sim, scen, seed=seed)
        run_file(scen, out, classifier_params=params)
        rep = evaluate_files(scen, out)
    doc = rep.to_dict()
    w, c = doc["warning"], doc["classification"]
    return {
        "scenario": name,
        "seed": seed,
        "hours": doc["scenario"]["duration_s"] / 3600.0,
        "entered": w["n_entered"],
        "short_notice": sum(d.short_notice(MIN_LEAD_S) for d in rep.warning.drones),
        "late_or_missed": len(rep.warning.late(MIN_LEAD_S)),
        "lead_min_s": w["lead_time_min_s"],
        "lead_median_s": w["lead_time_median_s"],
        "warning_lead_min_s": w["warning_lead_time_min_s"],
        "warning_lead_median_s": w["warning_lead_time_median_s"],
        "false_alerts": w["false_alerts"],
        "false_by_class": w["false_by_class"],
        "false_warning_by_class": w["false_warning_by_class"],
        "hostile_alerts": w["hostile_alerts"],
        "nonhostile_drone_alerts": w["nonhostile_drone_alerts"],
        "wrong_zone_fraction": w["wrong_zone_fraction"],
        "wrong_zone_open_max_s": w["wrong_zone_clear_delay_max_s"],
        "raises_per_object_zone": w["max_raises_per_object_zone_per_hour"],
        "accuracy_settled": c["accuracy_settled"],
        "accuracy_by_class": c["accuracy_settled_by_class"],
        "hostile_as_aircraft": c["hostile_drones_as_aircraft"],
        "log_loss": c["calibration_settled"]["log_loss"],
        "calibration": rep.classification.calibration_settled,
        # [settled track-scans, correct] per real-flight source (real scenarios only).
        "accuracy_by_source": (
            _by_source(spec, c["per_object_settled"]) if name in REAL_NAMES else {}
        ),
    }


def main(
    seeds: list[int] = typer.Option([1, 2], help="Simulation seeds (evaluation seeds: 1, 2)."),
    jobs: int = typer.Option(2, help="Parallel processes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
    bird_wind: tuple[float, float] = typer.Option(
        (0.0, 0.0),
        help="Fly every recorded bird of the real-flight scenarios in this steady wind "
        "(East North, m/s): its ground speed is what it logged plus the wind (a stress "
        "test; the acceptance runs are at 0 0).",
    ),
    without: list[str] = typer.Option(
        [],
        help=f"Take every sensor of this kind ({', '.join(SENSOR_KINDS)}) out of every "
        "scenario (a stress test; repeat for more kinds).",
    ),
    hostile_speed: tuple[float, float] | None = typer.Option(
        None,
        help="Fly every scripted hostile fixed-wing drone at this speed (from to, m/s; a "
        "check: 17 24 is a bird's speed).",
    ),
    hostile_radio: float | None = typer.Option(
        None,
        help="Make every scripted hostile fixed-wing drone an RF emitter with this "
        "chance (0-1; a check).",
    ),
    classifier_params: Path | None = typer.Option(
        None,
        "--classifier-params",
        help="A candidate classifier's parameters (a params.json, e.g. written by "
        "scripts/learn_real_flights.py) in place of the shipped ones.",
    ),
    scenario_set: str = typer.Option(
        "acceptance",
        "--set",
        help="acceptance: every built-in and real-flight evaluation scenario; train: the "
        "real-flight training scenarios (a held-out check).",
    ),
) -> None:
    """Run and score every acceptance scenario; print one row per (scenario, seed)."""
    if scenario_set == "acceptance":
        real = real_scenarios("eval")
        specs = [(n, n) for n in BUILTINS] + [(p.stem, str(p)) for p in real]
    elif scenario_set == "train":
        specs = [(p.stem, str(p)) for p in real_scenarios("train")]
    else:
        raise typer.BadParameter(f"--set must be acceptance or train, not {scenario_set!r}")
    bad = sorted(set(without) - set(SENSOR_KINDS))
    if bad:
        raise typer.BadParameter(f"--without: unknown sensor kind {bad[0]!r}")
    if hostile_speed is not None and not (
        np.all(np.isfinite(hostile_speed)) and 0.0 < hostile_speed[0] <= hostile_speed[1]
    ):
        raise typer.BadParameter("--hostile-speed: two speeds, 0 < from <= to (m/s)")
    if hostile_radio is not None and not 0.0 <= hostile_radio <= 1.0:
        raise typer.BadParameter("--hostile-radio: a chance from 0 to 1")
    hostile = (hostile_speed, hostile_radio)
    params_path = None
    if classifier_params is not None:
        try:
            ClassifierParams.load(classifier_params)
        except (OSError, ValueError) as e:
            raise typer.BadParameter(f"--classifier-params {classifier_params}: {e}") from None
        params_path = str(classifier_params)
    work: list[Job] = [
        (n, s, seed, bird_wind, tuple(without), hostile, params_path)
        for n, s in specs
        for seed in seeds
    ]
    with ProcessPoolExecutor(jobs) as pool:
        rows = list(pool.map(_one, work))
    hours = sum(r["hours"] for r in rows)
    false = sum(r["false_alerts"] for r in rows)
    cal = {
        group: Calibration.merged(
            r["calibration"] for r in rows if (r["scenario"] in REAL_NAMES) == real
        )
        for group, real in (("built-in", False), ("real-flight", True))
    }
    for r in rows:
        r["calibration"] = r["calibration"].to_dict()
    if as_json:
        doc = {
            "without": list(without),
            "bird_wind_mps": list(bird_wind),
            "hostile_speed_mps": None if hostile_speed is None else list(hostile_speed),
            "hostile_radio": hostile_radio,
            "classifier_params": params_path,
            "rows": rows,
            "false_per_hour_all": false / hours,
            "calibration": {g: c.to_dict() for g, c in cal.items()},
        }
        print(json.dumps(doc, indent=1))
        return
    stress = "".join(f"; without {k}" for k in without)
    if hostile_speed is not None:
        stress += f"; hostile drones at {hostile_speed[0]:g}-{hostile_speed[1]:g} m/s"
    if hostile_radio is not None:
        stress += f"; hostile drones emitting {hostile_radio:g}"
    if params_path is not None:
        stress += f"; classifier {Path(params_path).name}"
    stress += (
        f"; birds in wind {bird_wind[0]:g} {bird_wind[1]:g} m/s" if bird_wind != (0.0, 0.0) else ""
    )
    t = Table(
        title=f"Warning quality ({hours:.1f} h; false alerts {false / hours:.2f}/h over all{stress})"
    )
    for col in (
        "scenario", "seed", "entered", "short notice", "warned <60 s", "warning lead min",
        "warning lead med", "first alert lead min", "false/h", "false at warning+",
        "non-hostile drone", "wrong zone", "raises/obj-zone", "accuracy", "log loss",
        "hostile→aircraft",
    ):  # fmt: skip
        t.add_column(col, justify="left" if col == "scenario" else "right")

    def f(x, d=0):
        return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{d}f}"

    for r in rows:
        nh = r["nonhostile_drone_alerts"]
        t.add_row(
            r["scenario"],
            str(r["seed"]),
            str(r["entered"]),
            str(r["short_notice"]),
            str(r["late_or_missed"]),
            f(r["warning_lead_min_s"]),
            f(r["warning_lead_median_s"]),
            f(r["lead_min_s"]),
            f(r["false_alerts"] / r["hours"], 1),
            str(sum(r["false_warning_by_class"].values())),
            f"{nh['anonymous']}+{nh['identified']} id",
            f(r["wrong_zone_fraction"], 2),
            str(r["raises_per_object_zone"]),
            f(r["accuracy_settled"], 3),
            f(r["log_loss"], 3),
            f(r["hostile_as_aircraft"], 3),
        )
    Console().print(t)
    by_source = _summed((s, n, ok) for r in rows for s, (n, ok) in r["accuracy_by_source"].items())
    if by_source:
        ts = Table(title="Settled accuracy by source (real-flight scenarios, every seed)")
        for col in ("source", "track-scans", "accuracy"):
            ts.add_column(col, justify="left" if col == "source" else "right")
        for src, (n, ok) in sorted(by_source.items()):
            ts.add_row(src, str(n), f(ok / n, 3) if n else "-")
        Console().print(ts)
    tc = Table(title="Reliability of p(drone), settled track-scans (every seed)")
    for col in ("p(drone)", *(f"{g} {k}" for g in cal for k in ("n", "mean p", "drones"))):
        tc.add_column(col, justify="right")
    bins = {g: {row[0]: row for row in c.table("drone")} for g, c in cal.items()}
    for lo in sorted({lo for b in bins.values() for lo in b}):
        cells = [f"{lo:.1f}-{lo + 0.1:.1f}"]
        for g in cal:
            _, _, n, mean_p, frac = bins[g].get(lo, (lo, lo, 0, np.nan, np.nan))
            cells += [str(n), f(mean_p, 3), f(frac, 3)]
        tc.add_row(*cells)
    tc.add_row(
        "log loss, ECE",
        *(x for c in cal.values() for x in ("", f(c.log_loss, 3), f(c.ece("drone"), 3))),
    )
    Console().print(tc)


if __name__ == "__main__":
    typer.run(main)
