"""``skywarden validate FILE``: check a scenario file line by line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..scenario import ScenarioReader
from ._common import console, err_console, fail, iso, print_json


def validate(
    file: Annotated[Path, typer.Argument(help="Scenario file (JSON Lines).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON.")] = False,
    max_shown: Annotated[
        int, typer.Option(min=0, help="Rejections to list (all with --json).")
    ] = 50,
) -> None:
    """Validate a scenario file: counts by type and sensor, time span, rejected lines.

    Fails (exit 1) on any rejected line, and on a file with no detection lines.
    """
    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        reader = ScenarioReader(file, quiet=True)
        for _ in reader:
            pass
    except OSError as e:
        fail(f"cannot read {file}: {e.strerror or e}")
    st = reader.stats
    problem = None
    if st.n_rejected:
        problem = f"{st.n_rejected} rejected lines"
    elif not st.by_type["detection"]:
        problem = "no detection lines" + (" (the file is empty)" if not st.by_type else "")
    span = st.t_max - st.t_min if st.t_max >= st.t_min else 0.0
    if json_out:
        print_json(
            {
                "file": str(file),
                "lines": st.lines,
                "by_type": dict(st.by_type),
                "by_sensor": dict(st.by_sensor),
                "t_start": st.t_min if st.t_max >= st.t_min else None,
                "t_end": st.t_max if st.t_max >= st.t_min else None,
                "span_s": span,
                "ignored": st.ignored,
                "out_of_order": st.out_of_order,
                "n_rejected": st.n_rejected,
                "rejected": [{"line": r.line, "reason": r.reason} for r in st.rejected],
                "warnings": st.warnings,
                "ok": problem is None,
                "problem": problem,
            }
        )
    else:
        t = Table(title=escape(f"{file}: {st.lines} lines"))
        t.add_column("type")
        t.add_column("count", justify="right")
        for k, v in sorted(st.by_type.items()):
            t.add_row(escape(k), str(v))
        console.print(t)
        if st.by_sensor:
            s = Table(title="detections by sensor")
            s.add_column("sensor")
            s.add_column("kind")
            s.add_column("count", justify="right")
            for k, v in sorted(st.by_sensor.items()):
                s.add_row(escape(k), reader.header.sensors[k].kind, str(v))
            console.print(s)
        console.print(f"time span: {iso(st.t_min)} → {iso(st.t_max)} ({span:.1f} s)")
        for w in st.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}")
        if st.rejected:
            r = Table(title=f"{st.n_rejected} rejected lines")
            r.add_column("line", justify="right")
            r.add_column("reason")
            for rej in list(st.rejected)[:max_shown]:
                r.add_row(str(rej.line), escape(rej.reason))
            console.print(r)
            if st.n_rejected > max_shown:
                console.print(f"… and {st.n_rejected - max_shown} more")
        elif problem is None:
            console.print("[green]no rejected lines[/]")
    if problem is not None:
        err_console.print(f"[bold red]invalid:[/] {escape(str(file))}: {problem}")
        raise typer.Exit(1)
