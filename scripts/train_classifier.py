"""Train the track classifier reproducibly and write its parameters into the package.

    .venv/bin/python scripts/train_classifier.py                  # synthetic scenarios only
    .venv/bin/python scripts/train_classifier.py --tracker \\
        --scenario fit1.jsonl ... --validate v1.jsonl ... --test t1.jsonl ...

Three disjoint data sets: histograms are fitted on the first, the evidence
weight is chosen on the second (lowest log loss of the true class), and
accuracy is measured on the third. With ``--scenario`` files (``skywarden
simulate`` output) those are the fitting set, ``--validate`` and ``--test``
the other two (seeds of the simulator kept apart by the caller); one
synthetic scenario of every class (seed ``seed``) is added to the fitting set
unless ``--no-synthetic``, so that classes the simulator lacks (``unknown``)
still have a likelihood. Without files the three sets are synthetic
scenarios of seeds ``seed``, ``seed + 1``, ``seed + 2``. The result goes to
``src/skywarden/classify/params.json`` (or ``--out``) with the metrics in its
``trained_on`` field; docs/classifier.md quotes them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import msgspec
import numpy as np
import typer
from rich.console import Console

from skywarden.classify.classifier import Classifier
from skywarden.classify.training import Samples, collect, evaluate, fit, truth_classes
from skywarden.eval.scans import pseudo_scans, tracker_scans
from skywarden.scenario import Header, ScenarioReader
from skywarden.sim.synthetic import synthetic_scenario

log = logging.getLogger(__name__)
console = Console(stderr=True)
OUT = Path(__file__).resolve().parents[1] / "src" / "skywarden" / "classify" / "params.json"
WEIGHTS = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)


def _read(path: Path) -> tuple[Header, list]:
    reader = ScenarioReader(path, quiet=True)
    return reader.header, list(reader)


def main(
    scenario: list[Path] = typer.Option([], help="Simulated scenario files to fit on."),
    validate: list[Path] = typer.Option([], help="Scenario files to choose the weight on."),
    test: list[Path] = typer.Option([], help="Scenario files to measure accuracy on."),
    seed: int = typer.Option(
        1, help="Seed of the first synthetic scenario and of measurement noise."
    ),
    n_per_class: int = typer.Option(40, help="Objects per class in each synthetic scenario."),
    duration_s: float = typer.Option(150.0, help="Length of each synthetic scenario, seconds."),
    synthetic: bool = typer.Option(True, help="Add a synthetic scenario to the fitting set."),
    tracker: bool = typer.Option(False, "--tracker", help="Use skywarden.tracking's tracker."),
    out: Path = typer.Option(OUT, help="Where to write the parameters."),
) -> None:
    """Fit, calibrate and test the classifier; write params.json."""

    def synth(k: int) -> tuple[Header, list]:
        return synthetic_scenario(np.random.default_rng(seed + k), n_per_class, duration_s)

    if scenario:
        if not validate or not test:
            raise typer.BadParameter("--scenario needs --validate and --test files too")
        sets = [[_read(p) for p in files] for files in (scenario, validate, test)]
        if synthetic:
            sets[0].append(synth(0))
        source: dict[str, object] = {
            "fit": [p.name for p in scenario],
            "validate": [p.name for p in validate],
            "test": [p.name for p in test],
            "synthetic_fit_seed": seed if synthetic else None,
        }
    else:
        sets = [[synth(k)] for k in range(3)]
        source = {
            "synthetic_seeds": [seed, seed + 1, seed + 2],
            "n_per_class": n_per_class,
            "duration_s": duration_s,
        }

    def scans(header, records, k):
        # Tracker output is kept in memory: the weight search replays it 8 times.
        if tracker:
            return list(tracker_scans(header, records))
        return list(pseudo_scans(header, records, np.random.default_rng(1000 * seed + k)))

    parts = []
    for k, (h, recs) in enumerate(sets[0]):
        cls, _ = truth_classes(recs)
        parts.append(collect(scans(h, recs, k), cls))
        console.print(f"fit file {k}: {len(parts[-1].y)} samples")
    samples = Samples.concat(parts)
    console.print(f"fitted on {len(samples.y)} samples: {np.bincount(samples.y, minlength=5)}")

    val = [(recs, scans(h, recs, 10 + k)) for k, (h, recs) in enumerate(sets[1])]
    best = None
    for w in WEIGHTS:
        params = msgspec.structs.replace(fit(samples), evidence_weight=w)
        loss = np.mean([_eval(params, recs, sc).log_loss for recs, sc in val])
        console.print(f"evidence_weight {w}: validation log loss {loss:.3f}")
        if best is None or loss < best[0]:
            best = (loss, params)
    assert best is not None
    params = best[1]
    results = [_eval(params, recs, scans(h, recs, 20 + k)) for k, (h, recs) in enumerate(sets[2])]
    conf = np.sum([r.confusion for r in results], axis=0)
    metrics = {
        "accuracy_30s": float(np.trace(conf) / max(conf.sum(), 1)),
        "accuracy_30s_by_file": [round(r.accuracy, 4) for r in results],
        "per_class_30s": {
            c: float(conf[k, k] / conf[k].sum()) if conf[k].sum() else None
            for k, c in enumerate(results[0].per_class)
        },
        "scored_scans": int(conf.sum()),
        "max_drone_p_bird": max(r.max_drone_p_bird for r in results),
        "max_drone_p_slow_aircraft": max(r.max_drone_p_slow_aircraft for r in results),
        "log_loss": float(np.mean([r.log_loss for r in results])),
        "confusion": conf.tolist(),
    }
    trained_on = {**source, "tracks": "tracker" if tracker else "pseudo", "test": metrics}
    params = msgspec.structs.replace(params, trained_on=trained_on)
    params.dump(out)
    console.print_json(json.dumps(metrics))
    console.print(f"wrote {out}")


def _eval(params, records, scans):
    cls, spd = truth_classes(records)
    return evaluate(Classifier(params), scans, cls, spd)


if __name__ == "__main__":
    typer.run(main)
