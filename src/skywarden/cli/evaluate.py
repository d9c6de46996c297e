"""``skywarden eval SCENARIO OUT.jsonl``: score a tracker output against the scenario's truth.

The JSON document (``--json``) and its keys are described in ``skywarden.eval.report``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ._common import console, fail, iso, print_json

if TYPE_CHECKING:
    from ..eval.report import EvalReport


def evaluate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file with truth lines (JSON Lines).")],
    output: Annotated[Path, typer.Argument(help="Output of skywarden track (track/alert lines).")],
    c: Annotated[float, typer.Option("--c", help="GOSPA cut-off distance, metres.")] = 100.0,
    p: Annotated[float, typer.Option("--p", help="GOSPA order (>= 1).")] = 2.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON.")] = False,
    all_truth: Annotated[
        bool, typer.Option("--all-truth", help="Count every truth object, not only covered ones.")
    ] = False,
) -> None:
    """Score tracks and alerts against truth: GOSPA, continuity, latency, lead time, false alerts."""
    for path in (scenario, output):
        if not path.is_file():
            fail(f"no such file: {path}")
    if not (math.isfinite(c) and c > 0.0 and math.isfinite(p) and p >= 1.0):
        fail("--c must be a finite number > 0 and --p a finite number >= 1")
    _check_complete(output)
    _check_truth(scenario)
    from ..eval.report import evaluate_files

    try:
        report = evaluate_files(scenario, output, c=c, p=p, all_truth=all_truth)
    except (ValueError, OSError) as e:
        fail(str(e))
    doc = report.to_dict()
    if json_out:
        print_json(doc)
        return
    _render(report, doc)


def _check_truth(scenario: Path) -> None:
    """Refuse a scenario with rejected lines (scores on part of the truth would mislead)
    or without truth lines (nothing to score against)."""
    from ..scenario import ScenarioReader

    try:
        reader = ScenarioReader(scenario, quiet=True)
        for _ in reader:
            pass
    except OSError as e:
        fail(f"cannot read {scenario}: {e.strerror or e}")
    st = reader.stats
    if st.n_rejected:
        first = st.rejected[0]
        fail(f"{scenario} has {st.n_rejected} rejected lines (line {first.line}: "
             f"{first.reason}); see skywarden validate {scenario}")  # fmt: skip
    if not st.by_type["truth"]:
        fail(f"{scenario} has no truth lines: there is nothing to score against")


def _check_complete(output: Path) -> None:
    """Refuse an output that is empty or whose last line was cut off (a run that did not finish)."""
    try:
        with open(output, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - 65_536))
            tail = f.read()
    except OSError as e:
        fail(f"cannot read {output}: {e.strerror or e}")
    if not tail.strip():
        fail(f"{output} is empty: it holds no track or alert lines (did skywarden track finish?)")
    if not tail.endswith(b"\n"):
        fail(f"{output} is truncated: its last line is cut off (did skywarden track finish?)")


def _f(x: Any, nd: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def _render(report: EvalReport, doc: dict[str, Any]) -> None:
    prm = doc["params"]
    g = Table(title=f"GOSPA (c = {prm['c_m']:g} m, p = {prm['p']:g}, truth: {prm['coverage']})")
    for col in (
        "",
        "scans",
        "mean m",
        "median m",
        "localisation m",
        "missed m",
        "false m",
        "missed/scan",
        "false/scan",
    ):
        g.add_column(col, justify="right" if col else "left")
    for name, key in (("tracks", "gospa"), ("raw detections", "raw_gospa")):
        s = doc[key]
        g.add_row(
            name,
            str(s["n_scans"]),
            _f(s["mean_m"]),
            _f(s["median_m"]),
            _f(s["mean_localisation_m"]),
            _f(s["mean_missed_m"]),
            _f(s["mean_false_m"]),
            _f(s["mean_n_missed"], 2),
            _f(s["mean_n_false"], 2),
        )
    console.print(g)

    tr = doc["tracking"]
    t = Table(title="Track continuity and latency")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in (
        "n_objects_counted",
        "identity_switches",
        "fragmentations",
        "never_tracked",
        "latency_mean_s",
        "latency_median_s",
        "latency_max_s",
    ):
        t.add_row(k.replace("_", " "), _f(tr[k]))
    console.print(t)
    worst = sorted(tr["objects"], key=lambda o: -(o["switches"] + o["fragmentations"]))[:10]
    if worst and worst[0]["switches"] + worst[0]["fragmentations"] > 0:
        o = Table(title="Objects with most switches/fragmentations")
        for col in ("object", "class", "scans", "matched", "switches", "frags", "latency s"):
            o.add_column(col, justify="left" if col in ("object", "class") else "right")
        for r in worst:
            o.add_row(
                escape(r["id"]),
                escape(r["class"]),
                str(r["n_scans"]),
                str(r["n_matched"]),
                str(r["switches"]),
                str(r["fragmentations"]),
                _f(r["latency_s"]),
            )
        console.print(o)

    w = doc["warning"]
    wt = Table(
        title=f"Warnings: {w['n_entered']} hostile drones entered a zone, "
        f"{w['missed_warnings']} missed"
    )
    for col in ("drone", "zone", "entry (UTC)", "first alert (UTC)", "lead s", "warning lead s"):
        wt.add_column(col, justify="right" if col.endswith(" s") else "left")
    wt.add_column("warned")
    for d in w["drones"]:
        wt.add_row(
            escape(d["id"]),
            escape(d["zone"]),
            iso(d["entry_t_s"]),
            iso(d["first_alert_t_s"] if d["first_alert_t_s"] is not None else math.nan),
            _f(d["lead_time_s"]),
            _f(d["warning_lead_time_s"]),
            "yes" if d["warned"] else "[red]no[/]",
        )
    console.print(wt)
    console.print(
        f"lead time min {_f(w['lead_time_min_s'])} s, median {_f(w['lead_time_median_s'])} s; "
        f"false alerts {w['false_alerts']} of {w['n_raised_alerts']} raised "
        f"({_f(w['false_alerts_per_hour'], 2)} per hour)"
    )
    at = Table(title="Raised alerts by what they were for")
    at.add_column("for")
    at.add_column("alerts", justify="right")
    at.add_column("at warning or above", justify="right")
    for cls_name, n in sorted(w["false_by_class"].items()):
        at.add_row(f"false: {cls_name}", str(n), str(w["false_warning_by_class"].get(cls_name, 0)))
    at.add_row("hostile drone", str(w["hostile_alerts"]))
    at.add_row("  of which wrong zone", str(w["wrong_zone_alerts"]))
    at.add_row("non-hostile drone, identified", str(w["nonhostile_drone_alerts"]["identified"]))
    at.add_row("non-hostile drone, anonymous", str(w["nonhostile_drone_alerts"]["anonymous"]))
    at.add_row("(on unmatched tracks, by proximity)", str(w["attributed_by_proximity"]))
    console.print(at)
    worst = w["worst_object_zone"]
    console.print(
        f"most raises per (object, zone) in an hour: {w['max_raises_per_object_zone_per_hour']}"
        + (f" ({worst[0]}, {worst[1]})" if worst else "")
        + f"; wrong-zone alerts open after turning away: max "
        f"{_f(w['wrong_zone_clear_delay_max_s'])} s; first warning-or-higher lead: min "
        f"{_f(w['warning_lead_time_min_s'])} s, median {_f(w['warning_lead_time_median_s'])} s"
    )

    cl = report.classification
    ct = Table(
        title=f"Classification of confirmed tracks (rows truth, columns track class); "
        f"accuracy {_f(doc['classification']['accuracy'], 3)}, "
        f"after 30 s {_f(doc['classification']['accuracy_settled'], 3)}"
    )
    ct.add_column("truth \\ track")
    for lab in cl.track_labels:
        ct.add_column(escape(lab), justify="right")
    for i, lab in enumerate(cl.truth_labels):
        ct.add_row(escape(lab), *(str(int(v)) for v in cl.confusion[i]))
    console.print(ct)
    by_class = doc["classification"]["accuracy_settled_by_class"]
    console.print(
        "settled accuracy by class: "
        + ", ".join(f"{k} {_f(v, 3)}" for k, v in by_class.items())
        + f"; hostile drones read as aircraft {_f(doc['classification']['hostile_drones_as_aircraft'], 3)}"
    )
    cal = cl.calibration_settled
    console.print(
        f"class probabilities after 30 s: log loss {_f(cal.log_loss, 3)} nats over {cal.n} "
        f"track-scans; p(drone) expected calibration error {_f(cal.ece('drone'), 3)}"
    )
