"""``skywarden export cwa18150 SCENARIO OUT.jsonl --out FILE``: a run as a C-UAS trial log."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Annotated

import msgspec
import orjson
import typer
from rich.markup import escape
from rich.table import Table

from ..scenario import ScenarioReader, bounded_lines
from ..types import AlertLine, Detection, OutputRecord, TrackLine
from ._common import atomic_output, console, fail, print_json

app = typer.Typer(no_args_is_help=True, help="Export a run in a format other tools score.")


def _read_output(path: Path, rejected: Counter[str]) -> list[TrackLine | AlertLine]:
    dec = msgspec.json.Decoder(OutputRecord)
    lines: list[TrackLine | AlertLine] = []
    with path.open("rb") as f:
        for raw in bounded_lines(f):
            if raw is None:
                rejected["output line too long"] += 1
            elif raw.strip():
                try:
                    lines.append(dec.decode(raw))
                except msgspec.DecodeError as e:
                    rejected[f"output line: {str(e)[:120]}"] += 1
    return lines


@app.command("cwa18150")
def cwa18150(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario the run was tracked from (site, sensors, detections).")
    ],
    output: Annotated[Path, typer.Argument(help="Output of skywarden track (track/alert lines).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="COURAGEOUS JSON document to write.")],
    geoid_m: Annotated[
        float,
        typer.Option(
            "--geoid-m",
            help="EGM96 geoid undulation at the site, metres (ellipsoid minus mean sea level): "
            "the format's heights are above mean sea level, skywarden's above the ellipsoid.",
        ),
    ],
    system_name: Annotated[str, typer.Option(help="system_name of the document.")] = "skywarden",
    vendor_name: Annotated[
        str, typer.Option(help="vendor_name of the document.")
    ] = "skywarden project",
    alarm_level: Annotated[
        str,
        typer.Option(
            help="Lowest alert level that counts as an active alarm: info, warning, critical."
        ),
    ] = "warning",
    detections: Annotated[
        bool, typer.Option(help="Include the scenario's detections as detection sets.")
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON.")] = False,
) -> None:
    """Write detections, tracks and alarms as a COURAGEOUS format document (CEN CWA 18150 trials)."""
    for path in (scenario, output):
        if not path.is_file():
            fail(f"no such file: {path}")
    if not (math.isfinite(geoid_m) and -120.0 <= geoid_m <= 100.0):
        fail("--geoid-m must be within -120..100 m (the EGM96 geoid's range)", 2)
    if alarm_level not in ("info", "warning", "critical"):
        fail("--alarm-level must be info, warning or critical", 2)
    from ..eval.cwa18150 import FORMAT_VERSION, Cwa18150Export

    reader = ScenarioReader(scenario, quiet=True)
    site = reader.header.site
    if site is None:
        fail(f"{scenario} declares no site: the C-UAS location is the site", 2)
    rejected: Counter[str] = Counter()
    lines = _read_output(output, rejected)
    exp = Cwa18150Export(
        site,
        reader.header.sensors,
        geoid_m=geoid_m,
        system_name=system_name,
        vendor_name=vendor_name,
        alarm_level=alarm_level,
    )
    dets = (r for r in reader if isinstance(r, Detection)) if detections else ()
    doc = exp.document(dets, lines)
    with atomic_output(out, scenario, output) as tmp:
        tmp.write_bytes(orjson.dumps(doc) + b"\n")
    summary = {
        "format": f"COURAGEOUS {FORMAT_VERSION}",
        "out": str(out),
        "tracks": len(doc["tracks"]),
        "track_records": sum(len(t["records"]) for t in doc["tracks"]),
        "active_alarm_records": sum(
            r["alarm"]["active"] for t in doc["tracks"] for r in t["records"]
        ),
        "detection_sets": len(doc["detection"]),
        "detection_records": sum(len(d["records"]) for d in doc["detection"]),
        "skipped": dict(exp.skipped.most_common()),
        "rejected_output_lines": dict(rejected.most_common()),
        "rejected_scenario_lines": reader.stats.n_rejected,
    }
    if json_out:
        print_json(summary)
        return
    t = Table(title=escape(f"{output} → {out} ({summary['format']})"))
    t.add_column("")
    t.add_column("count", justify="right")
    for k in (
        "tracks",
        "track_records",
        "active_alarm_records",
        "detection_sets",
        "detection_records",
    ):
        t.add_row(k.replace("_", " "), str(summary[k]))
    for reason, n in exp.skipped.most_common():
        t.add_row(f"[yellow]skipped[/]: {escape(reason)}", str(n))
    for reason, n in rejected.most_common():
        t.add_row(f"[red]rejected[/]: {escape(reason)}", str(n))
    console.print(t)
