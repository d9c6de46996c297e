"""The batch path: read a scenario file, run the :class:`~skywarden.pipeline.Engine`, write output.

Used by ``skywarden track``, the tests and the benchmarks. The file is read in
one streaming pass; the tracker never sees ``truth`` lines.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from .classify.classifier import ClassifierParams
from .pipeline import Engine, EngineConfig, build_engine
from .scenario import ScenarioReader, ScenarioWriter
from .threat.assess import ThreatConfig
from .tracking.config import TrackerConfig
from .types import Detection, OutputRecord, ScanOutput, Sensor

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a batch run did."""

    engine: Engine
    lines_rejected: int
    rejected_by_reason: dict[str, int]

    def summary(self) -> dict[str, Any]:
        """Numbers for the summary table and ``--json``."""
        e = self.engine
        ts = e.tracker.stats
        return {
            "detections": e.stats.detections_in,
            "detections_used": ts.used,
            "detections_unassociated": ts.unassociated,
            "detections_rejected": self.lines_rejected + e.stats.late + e.stats.unknown_sensor,
            "late_detections": e.stats.late,
            "tracks_initiated": ts.initiated,
            "tracks_confirmed": ts.confirmed,
            "tracks_deleted": ts.deleted,
            "scans": e.stats.scans,
            "outputs": e.stats.outputs,
            "track_lines": e.stats.track_lines,
            "alert_lines": e.stats.alert_lines,
            "ms_per_scan": round(e.stats.ms_per_scan, 4),
            "rejected_by_reason": self.rejected_by_reason,
        }


def run_file(
    scenario: str | os.PathLike[str],
    out: str | os.PathLike[str] | None,
    *,
    engine_config: EngineConfig | None = None,
    tracker_config: TrackerConfig | None = None,
    threat_config: ThreatConfig | None = None,
    association: Literal["gnn", "jpda"] = "gnn",
    motion: Literal["imm", "cv"] = "imm",
    progress: Callable[[int], None] | None = None,
    on_output: Callable[[ScanOutput], None] | None = None,
    classifier_params: ClassifierParams | None = None,
) -> RunResult:
    """Track a scenario file; write its track and alert lines to ``out`` (if given).
    ``classifier_params`` replaces the shipped classifier parameters."""
    reader = ScenarioReader(scenario)
    engine = build_engine(
        reader.header,
        engine_config=engine_config,
        tracker_config=tracker_config,
        threat_config=threat_config,
        association=association,
        motion=motion,
        classifier_params=classifier_params,
    )
    writer = ScenarioWriter(out) if out is not None else None
    total = count_lines(scenario) if progress is not None else 0
    n = 0

    def emit(outputs: list[ScanOutput]) -> None:
        for o in outputs:
            if writer is not None:
                writer.write_all(o.tracks)
                writer.write_all(o.alerts)
            if on_output is not None:
                on_output(o)

    try:
        for rec in reader:
            if isinstance(rec, Detection):
                emit(engine.push(rec))
            elif isinstance(rec, Sensor):
                engine.site.declare_sensor(rec)
            n += 1
            if progress is not None and n % 20_000 == 0:
                progress(reader.stats.lines)
        emit(engine.flush())
    finally:
        if writer is not None:
            writer.close()
    if progress is not None:
        progress(total)
    reasons = Counter(r.reason.split(" at ")[0] for r in reader.stats.rejected)
    return RunResult(engine, reader.stats.n_rejected, dict(reasons))


def count_lines(path: str | os.PathLike[str]) -> int:
    """Number of lines in a file, counted in 1 MiB chunks."""
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def read_outputs(path: str | os.PathLike[str]) -> list[Any]:
    """Every track and alert line of an output file (for tests and small tools)."""
    dec = msgspec.json.Decoder(OutputRecord)
    with open(Path(path), "rb") as f:
        return [dec.decode(line) for line in f if line.strip()]
