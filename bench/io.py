"""Scenario I/O throughput and simulator speed (a script, not a test).

Run: ``.venv/bin/python bench/io.py [--lines N]``. Writes a simulated scenario
of about N lines (default 1,000,000) into a temporary directory, times
``ScenarioWriter`` (encoding and writing only) and ``ScenarioReader`` (full
validation), then times ``simulate mass-raid --duration 3600``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from skywarden.scenario import ScenarioReader, ScenarioWriter
from skywarden.sim import Simulation, load_spec, simulate_to_file, with_targets

console = Console()


def write_file(path: Path, n_lines: int) -> tuple[int, float]:
    """Write about ``n_lines`` simulated lines; returns (lines, seconds spent in the writer)."""
    # bench: 1,000 targets make about 1,900 lines per simulated second.
    targets = 1_000
    duration_s = math.ceil(n_lines / (1.9 * targets))
    sim = Simulation(with_targets(load_spec("bench"), targets), seed=0, duration_s=duration_s)
    spent = 0.0
    w = ScenarioWriter(path)
    t0 = time.perf_counter()
    w.write_all(sim.header())
    spent += time.perf_counter() - t0
    for chunk in sim.chunks(10.0):
        room = n_lines - w.count
        if room <= 0:
            break
        chunk = chunk[:room]
        t0 = time.perf_counter()
        w.write_all(chunk)
        spent += time.perf_counter() - t0
    t0 = time.perf_counter()
    w.close()
    spent += time.perf_counter() - t0
    return w.count, spent


def read_file(path: Path) -> tuple[int, float, int]:
    """Read and validate the whole file; returns (lines, seconds, rejected)."""
    t0 = time.perf_counter()
    reader = ScenarioReader(path, quiet=True)
    for _ in reader:
        pass
    return reader.stats.lines, time.perf_counter() - t0, reader.stats.n_rejected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--raid-duration", type=float, default=3_600.0)
    args = ap.parse_args()
    table = Table(title="skywarden scenario I/O")
    table.add_column("step")
    table.add_column("lines", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("lines/s", justify="right")
    table.add_column("MB", justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        with console.status(f"writing {args.lines:,} lines"):
            n_w, s_w = write_file(path, args.lines)
        mb = path.stat().st_size / 1e6
        table.add_row("ScenarioWriter", f"{n_w:,}", f"{s_w:.2f}", f"{n_w / s_w:,.0f}", f"{mb:.0f}")
        with console.status("reading"):
            n_r, s_r, rejected = read_file(path)
        table.add_row("ScenarioReader", f"{n_r:,}", f"{s_r:.2f}", f"{n_r / s_r:,.0f}", f"{mb:.0f}")
        if rejected:
            console.print(f"[red]{rejected} lines rejected[/]")
        raid = Path(tmp) / "mass-raid.jsonl"
        with console.status(f"simulate mass-raid --duration {args.raid_duration:g}"):
            s = simulate_to_file(
                load_spec("mass-raid"), raid, seed=0, duration_s=args.raid_duration
            )
        table.add_row(
            f"simulate mass-raid {s.duration_s:.0f} s ({s.objects} objects)",
            f"{s.lines:,}",
            f"{s.wall_s:.2f}",
            f"{s.lines / s.wall_s:,.0f}",
            f"{raid.stat().st_size / 1e6:.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
