"""``skywarden track SCENARIO --out OUT.jsonl``: the batch pipeline over a file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.markup import escape
from rich.table import Table

from ._common import atomic_output, console, fail, finite_positive, print_json, progress_bar


def track(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (JSON Lines).")],
    out: Annotated[Path, typer.Option("--out", help="Output file for track and alert lines.")],
    tentative: Annotated[bool, typer.Option(help="Also write tentative tracks.")] = False,
    association: Annotated[str, typer.Option(help="gnn or jpda.")] = "gnn",
    motion: Annotated[str, typer.Option(help="imm or cv.")] = "imm",
    output_interval: Annotated[
        float, typer.Option(help="Seconds between written scans (measurement time).")
    ] = 1.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON.")] = False,
) -> None:
    """Track, classify and assess every object in a scenario file; write track and alert lines."""
    if not scenario.is_file():
        fail(f"no such file: {scenario}")
    if association not in ("gnn", "jpda"):
        fail("--association must be gnn or jpda")
    if motion not in ("imm", "cv"):
        fail("--motion must be imm or cv")
    finite_positive(output_interval, "--output-interval")
    from ..pipeline import EngineConfig
    from ..runner import count_lines, run_file

    size = count_lines(scenario)
    t0 = time.perf_counter()
    with (
        atomic_output(out, scenario) as tmp,
        progress_bar("tracking", console, json_out) as progress,
    ):
        task = progress.add_task("track", total=size)
        try:
            result = run_file(
                scenario,
                tmp,
                engine_config=EngineConfig(output_interval_s=output_interval, tentative=tentative),
                association=cast(Literal["gnn", "jpda"], association),  # checked above
                motion=cast(Literal["imm", "cv"], motion),
                progress=lambda done: progress.update(task, completed=done),
            )
        except ValueError as e:
            fail(str(e))
        bad_zones = [r for r in result.rejected_by_reason if r.startswith("zone '")]
        if bad_zones:
            fail(f"{bad_zones[0]}; no alert could be raised for it")
        if not result.engine.stats.detections_in:
            fail(f"{scenario} has no usable detection lines ({result.lines_rejected} rejected)")
    wall = time.perf_counter() - t0
    summary = result.summary()
    summary["wall_s"] = round(wall, 3)
    if json_out:
        print_json(summary)
        return
    t = Table(title=escape(f"skywarden track: {scenario} → {out}"))
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in summary.items():
        if isinstance(v, dict):
            continue
        t.add_row(k.replace("_", " "), f"{v:.3f}" if isinstance(v, float) else str(v))
    console.print(t)
    if summary["rejected_by_reason"]:
        r = Table(title="rejected input")
        r.add_column("reason")
        r.add_column("count", justify="right")
        for k, v in summary["rejected_by_reason"].items():
            r.add_row(escape(k), str(v))
        console.print(r)
