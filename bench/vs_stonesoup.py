"""skywarden's tracker against Stone Soup's GNN tracker, side by side, in one process.

Both trackers get the same detections, from ``skywarden simulate bench --targets N``
(N objects on nearly-constant-velocity paths, one ``position`` sensor with
sigma = 10 m, Pd = 0.9, Poisson clutter, 1 Hz). Stone Soup runs its
MultiTargetTracker with GNNWith2DAssignment, a Mahalanobis DistanceHypothesiser,
Kalman predictor/updater, MultiMeasurementInitiator and a covariance deleter
on a 3-D constant-velocity model. skywarden runs its default tracker (IMM) and
its constant-velocity-only variant. Printed per N: ms per scan, the speed
ratio and mean GOSPA (c = 100 m, p = 2) against truth.

Run: ``.venv/bin/python bench/vs_stonesoup.py`` (needs the ``bench`` extra:
``pip install -e '.[bench]'``). Options: ``--sizes 10,50,200,1000``,
``--duration 40``, ``--cap-s 300`` (Stone Soup time cap per size),
``--scaling 100,200,500,1000,2000,5000`` (skywarden alone), ``--json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from rich.console import Console
from rich.table import Table

from skywarden.eval.gospa import gospa
from skywarden.geodesy import LocalFrame
from skywarden.pipeline import Engine, EngineConfig
from skywarden.scenario import ScenarioReader
from skywarden.tracking.config import TrackerConfig
from skywarden.types import Detection, TruthPoint

# Wide enough for the comparison table when the output is piped to a file.
console = Console(width=160)


def simulate(n: int, duration: float, seed: int, out: Path) -> None:
    exe = Path(sys.executable).with_name("skywarden")
    subprocess.run(
        [str(exe), "simulate", "bench", "--targets", str(n), "--seed", str(seed),
         "--duration", str(duration), "--out", str(out), "--json"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def load(path: Path):
    """Scans (t, ENU detections (k,3), Detection list) and truth per time, from a bench file."""
    reader = ScenarioReader(path)
    frame = LocalFrame.from_site(reader.header.site)
    dets: dict[float, list[Detection]] = {}
    truth: dict[float, list[TruthPoint]] = {}
    for rec in reader:
        if isinstance(rec, Detection):
            dets.setdefault(rec.t, []).append(rec)
        elif isinstance(rec, TruthPoint):
            truth.setdefault(rec.t, []).append(rec)
    sigma = next(iter(reader.header.sensors.values())).sigma_pos_m or 10.0
    return reader.header, frame, dets, truth, sigma


def truth_at(frame, truth, t):
    """Truth positions (n, 3) at scan time t (nearest truth sample within 0.5 s)."""
    keys = np.fromiter(truth.keys(), float)
    k = keys[np.argmin(np.abs(keys - t))]
    if abs(k - t) > 0.5:
        return np.empty((0, 3))
    pts = truth[k]
    return frame.to_enu(
        np.array([p.lat for p in pts]),
        np.array([p.lon for p in pts]),
        np.array([p.alt_m for p in pts]),
    ).reshape(-1, 3)


def run_skywarden(header, frame, dets, truth, motion):
    eng = Engine(
        header,
        tracker_config=TrackerConfig(motion=motion),
        config=EngineConfig(output_interval_s=0.0),
    )
    times, gos = [], []
    for t in sorted(dets):
        t0 = time.perf_counter()
        outs = []
        for d in dets[t]:
            outs += eng.push(d)
        outs += eng.flush()
        times.append(time.perf_counter() - t0)
        for o in outs:
            tr = [x for x in o.tracks if x.status in ("confirmed", "coasting")]
            est = (
                frame.to_enu(
                    np.array([x.lat for x in tr]),
                    np.array([x.lon for x in tr]),
                    np.array([x.alt_m for x in tr]),
                ).reshape(-1, 3)
                if tr
                else np.empty((0, 3))
            )
            gos.append(gospa(truth_at(frame, truth, o.t_s), est, 100.0, 2.0).value_m)
    return 1000 * float(np.mean(times)), float(np.mean(gos))


def run_stonesoup(frame, dets, truth, sigma, q, cap_s):
    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.deleter.error import CovarianceBasedDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import (
        CombinedLinearGaussianTransitionModel,
        ConstantVelocity,
    )
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.detection import Detection as SSDetection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * 3)
    mm = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=np.eye(3) * sigma**2)
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(mm)
    hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=4)
    assoc = GNNWith2DAssignment(hyp)
    deleter = CovarianceBasedDeleter(covar_trace_thresh=3 * 300.0**2, mapping=[0, 2, 4])
    init_assoc = GNNWith2DAssignment(
        DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=4)
    )
    initiator = MultiMeasurementInitiator(
        prior_state=GaussianState(np.zeros((6, 1)), np.diag([0, 80.0**2] * 3)),
        measurement_model=mm,
        deleter=deleter,
        data_associator=init_assoc,
        updater=updater,
        min_points=3,
    )
    tracker = MultiTargetTracker(
        initiator=initiator, deleter=deleter, detector=None, data_associator=assoc, updater=updater
    )
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    times, gos = [], []
    spent = 0.0
    for t in sorted(dets):
        enu = frame.to_enu(
            np.array([d.lat for d in dets[t]]),
            np.array([d.lon for d in dets[t]]),
            np.array([d.alt_m for d in dets[t]]),
        ).reshape(-1, 3)
        stamp = epoch + dt.timedelta(seconds=t)
        ss = {SSDetection(p.reshape(3, 1), timestamp=stamp, measurement_model=mm) for p in enu}
        t0 = time.perf_counter()
        _, tracks = tracker.update_tracker(stamp, ss)
        el = time.perf_counter() - t0
        times.append(el)
        spent += el
        est = np.array(
            [[tr.state_vector[0, 0], tr.state_vector[2, 0], tr.state_vector[4, 0]] for tr in tracks]
        )
        gos.append(gospa(truth_at(frame, truth, t), est.reshape(-1, 3), 100.0, 2.0).value_m)
        if spent > cap_s:
            return 1000 * float(np.mean(times)), float(np.mean(gos)), len(times)
    return 1000 * float(np.mean(times)), float(np.mean(gos)), None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,50,200,1000")
    ap.add_argument("--scaling", default="100,200,500,1000,2000,5000")
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cap-s", type=float, default=300.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="skywarden-bench-"))
    q = TrackerConfig().sigma_a_mps2[0] ** 2
    for n in [int(x) for x in a.sizes.split(",") if x]:
        path = tmp / f"bench-{n}.jsonl"
        simulate(n, a.duration, a.seed, path)
        header, frame, dets, truth, sigma = load(path)
        ms_imm, g_imm = run_skywarden(header, frame, dets, truth, "imm")
        ms_cv, g_cv = run_skywarden(header, frame, dets, truth, "cv")
        ms_ss, g_ss, cut = run_stonesoup(frame, dets, truth, sigma, q, a.cap_s)
        rows.append(
            {"targets": n, "skywarden_ms": ms_imm, "skywarden_cv_ms": ms_cv, "stonesoup_ms": ms_ss,
             "speedup": ms_ss / ms_imm, "speedup_cv": ms_ss / ms_cv, "gospa_skywarden": g_imm,
             "gospa_skywarden_cv": g_cv, "gospa_stonesoup": g_ss,
             "stonesoup_cut_after_scans": cut}
        )  # fmt: skip
        if not a.json:
            console.print(f"N={n}: done")
    scaling = []
    for n in [int(x) for x in a.scaling.split(",") if x]:
        path = tmp / f"scale-{n}.jsonl"
        simulate(n, min(a.duration, 20.0), a.seed, path)
        header, frame, dets, truth, _ = load(path)
        ms, g = run_skywarden(header, frame, dets, truth, "imm")
        scaling.append({"targets": n, "skywarden_ms": ms, "gospa": g})
    ns = np.array([s["targets"] for s in scaling], float)
    ms = np.array([s["skywarden_ms"] for s in scaling])
    slope = float(np.polyfit(np.log(ns), np.log(ms), 1)[0]) if len(ns) > 1 else math.nan
    if a.json:
        sys.stdout.write(
            orjson.dumps({"vs_stonesoup": rows, "scaling": scaling, "loglog_slope": slope}).decode()
            + "\n"
        )
        return
    t = Table(
        title="skywarden vs Stone Soup GNN: same detections, ms per scan and mean GOSPA (c=100 m, p=2)"
    )
    for col in ("N", "skywarden IMM ms", "skywarden CV ms", "Stone Soup ms", "speed-up (IMM)", "speed-up (CV)",
                "GOSPA IMM", "GOSPA CV", "GOSPA Stone Soup", "note"):  # fmt: skip
        t.add_column(col, justify="right")
    for r in rows:
        note = (
            f"Stone Soup stopped after {r['stonesoup_cut_after_scans']} scans (time cap)"
            if r["stonesoup_cut_after_scans"]
            else ""
        )
        t.add_row(str(r["targets"]), f"{r['skywarden_ms']:.2f}", f"{r['skywarden_cv_ms']:.2f}", f"{r['stonesoup_ms']:.1f}",
                  f"{r['speedup']:.0f}x", f"{r['speedup_cv']:.0f}x", f"{r['gospa_skywarden']:.1f}",
                  f"{r['gospa_skywarden_cv']:.1f}", f"{r['gospa_stonesoup']:.1f}", note)  # fmt: skip
    console.print(t)
    s = Table(
        title=f"skywarden scaling (log-log slope {slope:.2f}; 1.0 is linear, N log N is ~1.1)"
    )
    s.add_column("N", justify="right")
    s.add_column("ms per scan", justify="right")
    s.add_column("µs per target", justify="right")
    s.add_column("GOSPA", justify="right")
    for r in scaling:
        s.add_row(
            str(r["targets"]),
            f"{r['skywarden_ms']:.2f}",
            f"{1000 * r['skywarden_ms'] / r['targets']:.1f}",
            f"{r['gospa']:.1f}",
        )
    console.print(s)


if __name__ == "__main__":
    main()
