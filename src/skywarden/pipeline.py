"""Wiring of the stages: sources → tracker → classifier → threat → sinks.

:class:`Engine` is the one code path shared by ``skywarden track`` (batch, as
fast as the machine allows) and the live service (which adds transports,
clocks and queues around it). It takes detections in arrival order, puts them
in measurement-time order, runs the tracker per batch, and at every output
tick classifies the tracks, assesses the threat and returns a
:class:`~skywarden.sinks.base.ScanOutput`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from .geodesy import LocalFrame
from .scenario import Header
from .sinks.base import ScanOutput
from .threat.zones import ZoneSet
from .tracking.config import TrackerConfig
from .tracking.reorder import ReorderBuffer
from .tracking.tracker import Tracker
from .types import (
    CLASSES,
    COASTING,
    CONFIRMED,
    DELETED,
    TENTATIVE,
    TRACK_STATUSES,
    Detection,
    Site,
    TrackLine,
    TrackTable,
    Zone,
    track_label,
)

if TYPE_CHECKING:
    from .classify import Classifier, ClassResult
    from .threat import ThreatAssessor

log = logging.getLogger(__name__)


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How often outputs are made and what they hold."""

    #: Track lines are written at most this often (seconds of measurement time).
    output_interval_s: float = 1.0
    #: Also write tentative tracks.
    tentative: bool = False


@dataclass
class EngineStats:
    """What a run did, for the summary table and metrics."""

    detections_in: int = 0
    late: int = 0
    unknown_sensor: int = 0
    scans: int = 0
    outputs: int = 0
    track_lines: int = 0
    alert_lines: int = 0
    #: Wall time spent on all scans (a running sum: a live service runs for weeks).
    scan_seconds: float = 0.0

    @property
    def ms_per_scan(self) -> float:
        return 1000.0 * self.scan_seconds / self.scans if self.scans else 0.0


class Engine:
    """Detections in, per-tick track and alert output out."""

    def __init__(
        self,
        header: Header,
        *,
        tracker_config: TrackerConfig | None = None,
        config: EngineConfig | None = None,
        classifier: Classifier | None = None,
        assessor: ThreatAssessor | None = None,
    ) -> None:
        site = site_of(header)
        self.frame = LocalFrame.from_site(site)
        self.header = header
        self.config = config or EngineConfig()
        tcfg = tracker_config or TrackerConfig()
        self.tracker = Tracker(self.frame, header.sensors, tcfg)
        self.reorder = ReorderBuffer(tcfg.reorder_window_s)
        self.classifier = classifier
        self.assessor = assessor
        self.stats = EngineStats()
        self._next_out = -math.inf

    def push(self, det: Detection) -> list[ScanOutput]:
        """Take one detection (any order within the reorder window)."""
        self.stats.detections_in += 1
        if det.sensor not in self.tracker.sensors:
            self.stats.unknown_sensor += 1
            return []
        if not self.reorder.push(det):
            self.stats.late += 1
            return []
        return self._run(self.reorder.pop_ready())

    def advance(self, now_s: float) -> list[ScanOutput]:
        """Release what the window holds up to ``now_s`` (live: the clock moves on)."""
        return self._run(self.reorder.pop_ready(now_s))

    def set_zones(self, zones: list[Zone]) -> None:
        """Replace the protected zones (live edits); raises ZoneError for an unusable zone."""
        if self.assessor is not None:
            self.assessor.set_zones(ZoneSet(zones, self.frame))

    def tick(self, now_s: float) -> list[ScanOutput]:
        """Live: release what the window holds at clock time ``now_s`` and keep the
        output flowing when no detection comes (tracks coast, and are deleted)."""
        out = self._run(self.reorder.pop_ready(now_s))
        t = now_s - self.reorder.window_s
        if not out and t >= self._next_out and t > self.tracker.t_s:
            self.tracker.advance(t)
            out.append(self._output(t))
            self._next_out = t + self.config.output_interval_s
        return out

    def flush(self) -> list[ScanOutput]:
        """Process everything still held (end of a file)."""
        return self._run(self.reorder.flush())

    def _run(self, batches) -> list[ScanOutput]:
        out = []
        for batch in batches:
            t0 = time.perf_counter()
            self.tracker.process(batch)
            self.stats.scans += 1
            t = self.tracker.t_s
            if t >= self._next_out:
                out.append(self._output(t))
                self._next_out = t + self.config.output_interval_s
            self.stats.scan_seconds += time.perf_counter() - t0
        return out

    def _output(self, t: float) -> ScanOutput:
        table = self.tracker.table(t)
        assoc = self.tracker.take_association()
        classes = self.classifier.update(table, assoc) if self.classifier else None
        alerts = self.assessor.assess(table, classes) if self.assessor and classes else []
        lines = self._track_lines(table, classes)
        self.stats.outputs += 1
        self.stats.track_lines += len(lines)
        self.stats.alert_lines += len(alerts)
        return ScanOutput(t_s=t, tracks=tuple(lines), alerts=tuple(alerts))

    def _track_lines(self, table: TrackTable, classes: ClassResult | None) -> list[TrackLine]:
        show = (table.status == CONFIRMED) | (table.status == COASTING) | (table.status == DELETED)
        if self.config.tentative:
            show |= table.status == TENTATIVE
        rows = np.flatnonzero(show)
        if rows.shape[0] == 0:
            return []
        x = table.x[rows]
        lat, lon, alt = self.frame.to_geodetic(x[:, :3])
        pos_std = np.sqrt(np.trace(table.P[rows, :3, :3], axis1=1, axis2=2) / 3.0)
        out = []
        for j, i in enumerate(rows):
            if classes is not None:
                p = classes.p[i]
                cls = str(classes.label[i])
                class_p = {c: round(float(v), 4) for c, v in zip(CLASSES, p, strict=True)}
            else:
                cls, class_p = "unknown", {"unknown": 1.0}
            ident = table.identity[i]
            identity = None
            if ident:
                k, _, v = str(ident).partition(":")
                identity = {k: v}
            out.append(
                TrackLine(
                    t=table.t_s,
                    id=track_label(table.id[i]),
                    lat=float(lat[j]),
                    lon=float(lon[j]),
                    alt_m=float(alt[j]),
                    vel_enu_mps=(float(x[j, 3]), float(x[j, 4]), float(x[j, 5])),
                    status=TRACK_STATUSES[int(table.status[i])],  # type: ignore[arg-type]
                    class_=cls,
                    class_p=class_p,
                    identity=identity,
                    pos_std_m=float(pos_std[j]),
                )
            )
        return out


def site_of(header: Header) -> Site:
    """The frame origin: the site line, else the first sensor's position."""
    if header.site is not None:
        return header.site
    if not header.sensors:
        raise ValueError("scenario declares neither a site nor any sensor")
    s = next(iter(header.sensors.values()))
    return Site(name=s.id, lat=s.lat, lon=s.lon, alt_m=s.alt_m)
