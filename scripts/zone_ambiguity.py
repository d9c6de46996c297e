"""How early the truth itself says which zone a hostile drone is heading for, per scenario.

    .venv/bin/python scripts/zone_ambiguity.py SCENARIO.jsonl [...] [--json]

For every hostile drone's zone entry, from exact truth (``skywarden.eval.ambiguity``):
the lead a warning of only the zone the drone points at could give (``straight``), the
lead of only the zone it is best aimed at (``best-aimed``), and the wrong-zone share of
that ideal one-zone rule. Entries with a lead under a minute are counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from skywarden.eval.ambiguity import analyse
from skywarden.eval.warning_metrics import MIN_LEAD_S

console = Console(width=140)


def _summary(rep: dict[str, Any], key: str) -> tuple[float, float, int]:
    leads = np.array([e[key] for e in rep["entries"]], dtype=float)
    if leads.shape[0] == 0:
        return float("nan"), float("nan"), 0
    return float(leads.min()), float(np.median(leads)), int((leads < MIN_LEAD_S).sum())


def main(
    scenarios: list[Path] = typer.Argument(..., help="Scenario files (skywarden simulate)."),
    horizon_s: float = typer.Option(300.0, help="Ray length in seconds of flight."),
    hold_s: float = typer.Option(8.0, help="How long a best-aimed zone must hold."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Leads and wrong zones that the truth alone allows, per scenario."""
    reports = [analyse(p, horizon_s, hold_s) for p in scenarios]
    if as_json:
        print(json.dumps(reports, indent=2))
        return
    table = Table(title=f"What the truth allows (entries warned < {MIN_LEAD_S:.0f} s counted)")
    for col in ("scenario", "entries", "straight lead min / median, s", "< 60 s",
                "best-aimed lead min / median, s", "< 60 s", "ideal one-zone wrong share"):  # fmt: skip
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for rep in reports:
        s_min, s_med, s_late = _summary(rep, "straight_lead_s")
        b_min, b_med, b_late = _summary(rep, "best_lead_s")
        table.add_row(
            rep["scenario"], str(len(rep["entries"])), f"{s_min:.0f} / {s_med:.0f}",
            str(s_late), f"{b_min:.0f} / {b_med:.0f}", str(b_late), f"{rep['wrong_share']:.2f}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
