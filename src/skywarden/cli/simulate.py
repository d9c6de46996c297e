"""``skywarden simulate NAME --out FILE``: write a simulated scenario file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..sim import SpecError, builtin_names, load_spec, simulate_to_file
from ._common import atomic_output, console, fail, finite_positive, print_json, progress_bar


def simulate(
    name: Annotated[
        str,
        typer.Argument(
            help=f"Built-in scenario ({', '.join(builtin_names())}) or a spec file (YAML/JSON)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Scenario file to write (JSON Lines).")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 0,
    duration: Annotated[
        float | None, typer.Option(help="Simulated seconds (default: the scenario's).")
    ] = None,
    targets: Annotated[
        int | None,
        typer.Option(
            help="Size: mass-raid's number of objects (a quarter hostile drones, decoys and "
            "loiterers; birds; aircraft), else the number in each 'target' group."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print only a JSON summary.")] = False,
) -> None:
    """Simulate a scenario: truth paths and sensor detections, written as a scenario file."""
    try:
        if targets is not None and targets < 0:
            fail("--targets must not be negative")
        spec = load_spec(name, targets)
    except (SpecError, ValueError) as e:
        fail(str(e))
    if duration is not None:
        finite_positive(duration, "--duration")
    spec_file = Path(name)
    inputs = (spec_file,) if spec_file.is_file() else ()
    with (
        atomic_output(out, *inputs) as tmp,
        progress_bar(f"simulating {spec.name}", console, json_out) as progress,
    ):
        task = progress.add_task("simulate", total=1.0)
        try:
            summary = simulate_to_file(
                spec,
                tmp,
                seed,
                duration,
                progress=lambda done, total: progress.update(task, completed=done / total),
            )
        except (OSError, ValueError) as e:
            fail(str(e))
    if json_out:
        print_json(summary.to_dict())
        return
    objects = Table(title=escape(f"{spec.name} (seed {seed}, {summary.duration_s:.0f} s)"))
    objects.add_column("class")
    objects.add_column("objects", justify="right")
    for cls, n in summary.objects_by_class.items():
        objects.add_row(escape(cls), str(n))
    objects.add_row("of which hostile", str(summary.hostile))
    console.print(objects)
    sensors = Table(title="detections by sensor")
    sensors.add_column("sensor")
    sensors.add_column("detections", justify="right")
    sensors.add_column("clutter", justify="right")
    for sid, n in summary.detections_by_sensor.items():
        sensors.add_row(escape(sid), str(n), str(summary.clutter_by_sensor[sid]))
    console.print(sensors)
    console.print(
        escape(f"{summary.lines} lines ({summary.truth_lines} truth) → {out}")
        + f" in {summary.wall_s:.2f} s"
    )
