"""Learn the recorded flights of the real-flight train split into the classifier's likelihoods.

    .venv/bin/python scripts/learn_real_flights.py --out /tmp/params.json

The result is a candidate, not the shipped parameters: score it on the whole engine with
``scripts/warning_report.py --classifier-params FILE``. The defaults write the best
candidate measured so far; docs/classifier.md ("Recorded flights in the likelihoods")
gives what it gained and cost, and why it is not shipped.

Every real-flight *train* scenario (``scenarios/real/train``, built from corpus flights of
the train split only) is simulated (seed ``--seed``) and tracked by the real tracker;
the feature rows of tracks whose truth is a recorded flight are kept where the flight
was logged at least every ``--max-fix-s`` seconds (the seabird and gull logs have a fix
every 4-20 minutes: their per-second motion is our interpolation, not the bird's).

Two uses of them:

* Birds: for each class given a ``--weight`` w, each feature's histogram becomes
  ``(1 - w) p_simulated + w p_recorded`` (:func:`skywarden.classify.training.mix`), for
  the features ``--only`` names (default: speed, turn rate and hovering). Not the
  birds' straightness and speed spread: either moved a silent fixed-wing drone, which
  sits at the alert threshold, from 214 to 129 s of warning (``real-eval-03`` seed 2).
  Not their climb either: real birds climb and sink in thermals, and level flight (a
  multirotor's, a gull's flown at a set height) then spoke for a drone. The birds'
  speed is what keeps this candidate from shipping: homing pigeons in a tailwind fly
  25-27 m/s over the ground, and a silent fixed-wing drone at 25-28 m/s then reads
  ``bird`` (``real-eval-03`` seed 6: warned 38 s ahead instead of 96 s).
* Multirotors: a subclass of the drone class with histograms of its own
  (:func:`skywarden.classify.training.with_multirotor`; ``--multirotor`` w of the
  recorded multirotors mixed into the drone histograms, ``--multirotor-features``),
  whose evidence counts ``--multirotor-llr`` below the drone class's own. Mixed into the
  one drone class instead, the multirotors' slow, turning flight cost the fixed-wing
  drones their straight, steady evidence (warnings 57-59 s ahead instead of 97-121 s);
  left out, the birds' mixture read the recorded multirotors as birds (DJI video
  telemetry 83 -> 72 %).

Never height (the scenario places 2-D flights at a height it chooses), radar
cross-section or RF-emitter fraction (the simulated sensors give them, not the flight).
"""

from __future__ import annotations

import csv
import math
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from skywarden.classify.classifier import ClassifierParams
from skywarden.classify.training import Samples, collect, mix, truth_classes, with_multirotor
from skywarden.eval.scans import tracker_scans
from skywarden.scenario import ScenarioReader
from skywarden.sim import load_spec, simulate_to_file
from skywarden.sim.generate import recorded_flights
from skywarden.sim.recorded import corpus_dir, real_scenarios
from skywarden.types import CLASSES

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "skywarden" / "classify" / "params.json"
MOTION = ("speed_mps", "speed_std_mps", "turn_rate_dps", "straightness", "hover_frac")
CLIMB = ("climb_mps",)
console = Console(stderr=True)


def _manifest() -> dict[str, dict[str, str]]:
    with (corpus_dir() / "manifest.csv").open(encoding="utf-8") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


def _rows(job: tuple[str, int, float]) -> tuple[str, Samples, Samples, int]:
    """Feature rows of one train scenario's recorded flights: (all kept, with altitude)."""
    path, seed, max_fix_s = job
    spec = load_spec(path)
    man = _manifest()
    flights = {i: f for i, f in recorded_flights(spec).items() if f is not None}
    for name in flights.values():
        if man[name]["split"] != "train":
            raise ValueError(f"{path}: {name} is not of the train split")
    fine = {i for i, f in flights.items() if float(man[f]["median_dt_s"]) <= max_fix_s}
    alt = {i for i in fine if man[flights[i]]["has_alt"] == "yes"}
    with tempfile.TemporaryDirectory() as d:
        scen = Path(d) / "s.jsonl"
        simulate_to_file(spec, scen, seed=seed)
        reader = ScenarioReader(scen, quiet=True)
        records = list(reader)
    cls, _ = truth_classes(records)
    scans = list(tracker_scans(reader.header, records))
    return Path(path).stem, collect(scans, cls, keep=fine), collect(scans, cls, keep=alt), len(fine)


def _weights(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in CLASSES or not value:
            raise typer.BadParameter(f"{item!r}: give CLASS=WEIGHT, CLASS one of {CLASSES}")
        w = float(value)
        if not (math.isfinite(w) and 0.0 <= w <= 1.0):
            raise typer.BadParameter(f"{item!r}: the weight must be within 0..1")
        out[name] = w
    return out


def _only(items: list[str], weights: dict[str, float]) -> dict[str, tuple[str, ...]]:
    """The features mixed per weighted class: every one unless ``--only`` narrows it."""
    out = {name: (*MOTION, *CLIMB) for name in weights}
    for item in items:
        name, _, value = item.partition("=")
        feats = tuple(f for f in value.split(",") if f)
        if name not in weights:
            raise typer.BadParameter(f"--only {item!r}: {name!r} is not given a --weight")
        bad = [f for f in feats if f not in (*MOTION, *CLIMB)]
        if bad or not feats:
            raise typer.BadParameter(f"--only {item!r}: features from {(*MOTION, *CLIMB)}")
        out[name] = feats
    return out


def _simulated(params: ClassifierParams) -> ClassifierParams:
    """``params`` with any recorded-flight mixture taken out again."""
    real = params.trained_on.get("real_flights")
    if not isinstance(real, dict):
        return params
    log_lik = {f: [list(r) for r in t] for f, t in params.log_lik.items()}
    for f, cols in real["simulated_log_lik"].items():
        for name, col in cols.items():
            c = CLASSES.index(name)
            for row, v in zip(log_lik[f], col, strict=True):
                row[c] = v
    rest = {k: v for k, v in params.trained_on.items() if k != "real_flights"}
    return msgspec.structs.replace(params, log_lik=log_lik, trained_on=rest, multirotor_log_lik={})


def main(
    weight: list[str] = typer.Option(
        ["bird=0.5"],
        help="CLASS=WEIGHT: the recorded flights' share of a class's histograms.",
    ),
    only: list[str] = typer.Option(
        ["bird=speed_mps,turn_rate_dps,hover_frac"],
        help="CLASS=FEATURE[,FEATURE...]: mix only these features of that class.",
    ),
    seed: int = typer.Option(101, help="Simulation seed (evaluation seeds are 1 and 2)."),
    max_fix_s: float = typer.Option(10.0, help="Use flights logged at least this often (s)."),
    multirotor: float = typer.Option(
        0.75,
        min=0.0,
        max=1.0,
        help="The recorded multirotors' share of a multirotor subclass of the drone class, "
        "in every motion feature (0: no subclass).",
    ),
    multirotor_features: str = typer.Option(
        ",".join(MOTION),
        help="FEATURE[,FEATURE...]: the features the multirotor subclass learns from them.",
    ),
    multirotor_llr: float = typer.Option(
        -1.0, max=0.0, help="The subclass's evidence is weighed this much below the drone's."
    ),
    base: Path = typer.Option(SHIPPED, help="Parameters to start from."),
    out: Path = typer.Option(..., help="Where to write the parameters."),
    jobs: int = typer.Option(2, help="Parallel processes."),
) -> None:
    """Mix recorded train-split flights into the classifier's likelihoods."""
    weights = _weights(weight)
    features = _only(only, weights)
    sub_features = tuple(f for f in multirotor_features.split(",") if f)
    if not sub_features or set(sub_features) - {*MOTION, *CLIMB}:
        raise typer.BadParameter(f"--multirotor-features: features from {(*MOTION, *CLIMB)}")
    params = _simulated(ClassifierParams.load(base))
    paths = [str(p) for p in real_scenarios("train")]
    with ProcessPoolExecutor(jobs) as pool:
        parts = list(pool.map(_rows, [(p, seed, max_fix_s) for p in paths]))
    motion = Samples.concat([p[1] for p in parts])
    climb = Samples.concat([p[2] for p in parts])
    table = Table("class", "weight", "rows", "rows with altitude")
    for name, w in weights.items():
        c = CLASSES.index(name)
        table.add_row(
            name, f"{w:g}", str(int((motion.y == c).sum())), str(int((climb.y == c).sum()))
        )
    if multirotor > 0.0:
        d = CLASSES.index("drone")
        table.add_row(
            "drone: multirotor subclass",
            f"{multirotor:g}",
            str(int((motion.y == d).sum())),
            str(int((climb.y == d).sum())),
        )
    console.print(table)
    mixed = params
    for name, w in weights.items():
        for rows, feats in ((motion, MOTION), (climb, CLIMB)):
            mixed = mix(mixed, rows, {name: w}, [f for f in feats if f in features[name]])
    if multirotor > 0.0:
        for rows, feats in ((motion, MOTION), (climb, CLIMB)):
            taught = [f for f in feats if f in sub_features]
            mixed = with_multirotor(mixed, rows, multirotor, taught, llr=multirotor_llr)
    kept: dict[str, dict[str, list[float]]] = {}
    for name, feats in features.items():
        for f in feats:
            kept.setdefault(f, {})[name] = [row[CLASSES.index(name)] for row in params.log_lik[f]]
    real = {
        "scenarios": [Path(p).name for p in paths],
        "seed": seed,
        "max_fix_s": max_fix_s,
        "weights": weights,
        "features_by_class": {n: list(f) for n, f in features.items()},
        "flights": sum(p[3] for p in parts),
        "rows": {n: int((motion.y == CLASSES.index(n)).sum()) for n in weights},
        "simulated_log_lik": kept,
        "multirotor": {
            "weight": multirotor,
            "llr": multirotor_llr,
            "features": list(sub_features),
            "rows": int((motion.y == CLASSES.index("drone")).sum()),
        }
        if multirotor
        else None,
    }
    mixed = msgspec.structs.replace(mixed, trained_on={**params.trained_on, "real_flights": real})
    mixed.dump(out)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
