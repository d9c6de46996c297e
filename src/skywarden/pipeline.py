"""Wiring of the stages: sources → tracker → classifier → threat → sinks.

:class:`Engine` is the one code path shared by ``skywarden track`` (batch, as
fast as the machine allows) and the live service (which adds transports,
clocks and queues around it). It takes detections in arrival order, puts them
in measurement-time order, runs the tracker per batch, and at every output
tick classifies the tracks, assesses the threat and returns a
:class:`~skywarden.types.ScanOutput`.

:class:`SiteRegistry` is the one table of the site's sensors and zones. Every
stage reads the same table (never a copy) and hears of changes as typed
events (:data:`~skywarden.types.SiteEvent`), registry to stage, one way.
:func:`build_engine` builds the full engine (tracker, classifier, threat) on one
registry.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, Protocol, cast

import msgspec
import numpy as np

from .classify import Classifier
from .classify.classifier import ClassifierParams, ClassResult
from .geodesy import LocalFrame
from .scenario import Header
from .threat import ThreatAssessor, ThreatConfig
from .threat.zones import ZoneSet
from .timing import StageTimer
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
    AlertLine,
    Association,
    Detection,
    ScanOutput,
    Sensor,
    SensorDeclared,
    Site,
    SiteEvent,
    TrackLine,
    TrackTable,
    Zone,
    ZonesReplaced,
    present,
    track_label,
)

if TYPE_CHECKING:
    from .classify import ClassResult

log = logging.getLogger(__name__)


class SiteRegistry:
    """The site's sensors and zones, owned here and shared by every stage.

    ``sensors`` is a read-only view of the one table; stages keep that view, not a
    copy. Changes go through :meth:`declare_sensor` and :meth:`replace_zones`,
    which tell every subscriber with a typed event, in subscription order.
    """

    def __init__(
        self, site: Site, sensors: Iterable[Sensor] = (), zones: Iterable[Zone] = ()
    ) -> None:
        self.site = site
        self._sensors: dict[str, Sensor] = {s.id: s for s in sensors}
        self.sensors: Mapping[str, Sensor] = MappingProxyType(self._sensors)
        self.zones: tuple[Zone, ...] = tuple(zones)
        self._subscribers: list[Callable[[SiteEvent], None]] = []

    @classmethod
    def from_header(cls, header: Header) -> SiteRegistry:
        """The registry of a scenario's declarations (the frame origin: see :func:`site_of`)."""
        return cls(site_of(header), header.sensors.values(), header.zones)

    def subscribe(self, fn: Callable[[SiteEvent], None]) -> None:
        """Call ``fn`` with every later change."""
        self._subscribers.append(fn)

    def declare_sensor(self, sensor: Sensor) -> None:
        """Add or replace a sensor (a sensor line, a SAPIENT registration)."""
        self._sensors[sensor.id] = sensor
        self._publish(SensorDeclared(sensor))

    def replace_zones(self, zones: Iterable[Zone]) -> None:
        """Replace the protected zones; a subscriber raising ``ValueError`` (e.g.
        ``ZoneError`` from the threat stage) refuses the change before later ones hear it."""
        new = tuple(zones)
        self._publish(ZonesReplaced(new))
        self.zones = new

    def _publish(self, event: SiteEvent) -> None:
        for fn in self._subscribers:
            fn(event)


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How often outputs are made and what they hold."""

    #: Track lines are written at most this often (seconds of measurement time).
    output_interval_s: float = 1.0
    #: Also write tentative tracks.
    tentative: bool = False
    #: Where ``serve`` runs the engine: on a ``thread`` beside the event loop, or in a
    #: ``process`` of its own, where no scan waits for the interpreter lock that the
    #: sources, the store and the WebSockets take (a busy sky: thousands of
    #: detections a second). Batch commands ignore it.
    worker: Literal["thread", "process"] = "process"


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


class ClassifierStage(Protocol):
    """Classes of every track at each output tick (:class:`~.classify.Classifier`)."""

    def update(self, table: TrackTable, assoc: Association) -> ClassResult:
        """Probabilities aligned with ``table``, from this tick's associations."""
        ...

    def on_site_event(self, event: SiteEvent) -> None:
        """A sensor declared or zones replaced in the site registry."""
        ...


class ThreatStage(Protocol):
    """Alert lifecycle events from tracks and their classes (:class:`~.threat.ThreatAssessor`)."""

    def assess(self, table: TrackTable, classes: ClassResult) -> list[AlertLine]:
        """This tick's raised, updated and cleared events."""
        ...

    def set_zones(self, zones: ZoneSet) -> None:
        """Replace the protected zones."""
        ...

    def open_alerts(self) -> list[AlertLine]:
        """The latest line of every open alert."""
        ...

    def restore(self, alerts: list[AlertLine]) -> None:
        """Reopen alerts after a restart from their latest lines."""
        ...


class Engine:
    """Detections in, per-tick track and alert output out."""

    def __init__(
        self,
        site: Header | SiteRegistry,
        *,
        tracker_config: TrackerConfig | None = None,
        config: EngineConfig | None = None,
        classifier: ClassifierStage | None = None,
        assessor: ThreatStage | None = None,
        first_track_id: int = 1,
        on_tracks: Callable[[TrackTable, Association], None] | None = None,
    ) -> None:
        """``site``: the registry every stage shares (a scenario header makes a new one).
        ``on_tracks`` sees each output tick's track table and associations before
        classification (classifier training reads the real tracker's output through it)."""
        self.site = site if isinstance(site, SiteRegistry) else SiteRegistry.from_header(site)
        self.frame = LocalFrame.from_site(self.site.site)
        self.config = config or EngineConfig()
        tcfg = tracker_config or TrackerConfig()
        self.tracker = Tracker(self.frame, self.site.sensors, tcfg, first_id=first_track_id)
        self.reorder = ReorderBuffer(tcfg.reorder_window_s)
        self.classifier = classifier
        self.assessor = assessor
        self.on_tracks = on_tracks
        #: Called with each output tick's alert events as soon as the threat stage has
        #: them, before the track lines are built (the live map hears of an alert
        #: without waiting for the picture of every track). They are in the tick's
        #: :class:`ScanOutput` as well.
        self.on_alerts: Callable[[list[AlertLine]], None] | None = None
        self.stats = EngineStats()
        self.timer: StageTimer | None = None
        self._next_out = -math.inf
        self.site.subscribe(self._on_site_event)

    def set_timer(self, timer: StageTimer | None) -> None:
        """Time each stage into ``timer`` (the scale benchmark); ``None`` turns timing off."""
        self.timer = self.tracker.timer = timer

    def _on_site_event(self, event: SiteEvent) -> None:
        self.tracker.on_site_event(event)
        if self.classifier is not None:
            self.classifier.on_site_event(event)
        if isinstance(event, ZonesReplaced) and self.assessor is not None:
            self.assessor.set_zones(ZoneSet(list(event.zones), self.frame))

    def push(self, det: Detection) -> list[ScanOutput]:
        """Take one detection (any order within the reorder window)."""
        self.stats.detections_in += 1
        if det.sensor not in self.tracker.sensors:
            self.stats.unknown_sensor += 1
            return []
        if not self.reorder.push(det):
            self.stats.late += 1
            return []
        if not self.reorder.has_ready():  # the usual case: nothing to release yet
            return []
        return self._run(self.reorder.pop_ready())

    def advance(self, now_s: float) -> list[ScanOutput]:
        """Release what the window holds up to ``now_s`` (live: the clock moves on)."""
        return self._run(self.reorder.pop_ready(now_s))

    def set_zones(self, zones: list[Zone]) -> None:
        """Replace the site's zones through the registry; raises ZoneError for an unusable zone."""
        self.site.replace_zones(zones)

    def tick(self, now_s: float, *, coast: bool = True) -> list[ScanOutput]:
        """Live: release what the window holds at clock time ``now_s`` and, if ``coast``
        (no detection is coming), keep the output flowing: tracks coast, and are deleted."""
        out = self._run(self.reorder.pop_ready(now_s))
        t = now_s - self.reorder.window_s
        if coast and not out and t >= self._next_out and t > self.tracker.t_s:
            self.tracker.advance(t)
            out.append(self._output(t))
            self._next_out = t + self.config.output_interval_s
        return out

    def flush(self) -> list[ScanOutput]:
        """Process everything still held (end of a file)."""
        return self._run(self.reorder.flush())

    def _run(self, batches) -> list[ScanOutput]:
        out = []
        tm = self.timer
        for batch in batches:
            if tm is not None:
                tm.start()
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
        tm = self.timer
        table = self.tracker.table(t)
        assoc = self.tracker.take_association()
        if tm is not None:
            tm.lap("predict")
        if self.on_tracks is not None:
            self.on_tracks(table, assoc)
        classes = self.classifier.update(table, assoc) if self.classifier else None
        if tm is not None:
            tm.lap("classify")
        alerts = self.assessor.assess(table, classes) if self.assessor and classes else []
        if tm is not None:
            tm.lap("threat")
        if alerts and self.on_alerts is not None:
            self.on_alerts(alerts)
        lines = self._track_lines(table, classes)
        if tm is not None:
            tm.lap("output")
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
        # Every field as a column, converted once; then one struct per track.
        x = table.x[rows]
        lat, lon, alt = self.frame.to_geodetic(x[:, :3])
        pos_std = np.sqrt(np.trace(table.P[rows, :3, :3], axis1=1, axis2=2) / 3.0)
        n = rows.shape[0]
        if classes is not None:
            labels = [str(c) for c in classes.label[rows].tolist()]
            class_p = [dict(zip(CLASSES, p, strict=True)) for p in round4(classes.p[rows])]
        else:
            labels = ["unknown"] * n
            class_p = [{"unknown": 1.0} for _ in range(n)]
        ident = table.identity[rows]
        identity: list[dict[str, str] | None] = [None] * n
        for j in np.flatnonzero(present(ident)):
            identity[j] = {ident[j].kind: ident[j].value}
        status = np.asarray(TRACK_STATUSES, dtype=object)[table.status[rows]].tolist()
        t = table.t_s
        return [
            TrackLine(
                t=t,
                id=tid,
                lat=la,
                lon=lo,
                alt_m=al,
                vel_enu_mps=tuple(v),
                status=st,
                class_=c,
                class_p=cp,
                identity=idt,
                pos_std_m=sd,
            )
            for tid, la, lo, al, v, st, c, cp, idt, sd in zip(
                map(track_label, table.id[rows].tolist()),
                np.asarray(lat).tolist(),
                np.asarray(lon).tolist(),
                np.asarray(alt).tolist(),
                x[:, 3:6].tolist(),
                status,
                labels,
                class_p,
                identity,
                pos_std.tolist(),
                strict=True,
            )
        ]


def round4(p: np.ndarray) -> list[list[float]]:
    """``p`` rounded to 4 decimals exactly as Python's ``round(v, 4)``, as nested lists.

    ``np.round`` scales, rounds half to even and scales back: the same result but
    for values within rounding error of a half (0.xxxx5), which are redone in Python.
    """
    out = np.round(p, 4)
    y = p * 1e4
    near_half = np.abs(y - np.floor(y) - 0.5) < 1e-6
    rows = out.tolist()
    for i, j in zip(*np.nonzero(near_half), strict=True):
        rows[i][j] = round(float(p[i, j]), 4)
    return rows


def site_of(header: Header) -> Site:
    """The frame origin: the site line, else the first sensor's position."""
    if header.site is not None:
        return header.site
    if not header.sensors:
        raise ValueError("scenario declares neither a site nor any sensor")
    s = next(iter(header.sensors.values()))
    return Site(name=s.id, lat=s.lat, lon=s.lon, alt_m=s.alt_m)


def build_engine(
    site: Header | SiteRegistry,
    *,
    engine_config: EngineConfig | None = None,
    tracker_config: TrackerConfig | None = None,
    threat_config: ThreatConfig | None = None,
    association: Literal["gnn", "jpda"] = "gnn",
    motion: Literal["imm", "cv"] = "imm",
    first_track_id: int = 1,
    classifier_params: ClassifierParams | None = None,
) -> Engine:
    """The full engine (tracker, classifier, threat) on one site registry;
    ``classifier_params`` replaces the shipped ones (a candidate classifier)."""
    reg = site if isinstance(site, SiteRegistry) else SiteRegistry.from_header(site)
    tcfg = tracker_config or TrackerConfig(association=association, motion=motion)
    frame = LocalFrame.from_site(reg.site)
    return Engine(
        reg,
        tracker_config=tcfg,
        config=engine_config,
        # The registry's live table, shared and never copied; the classifier only reads it.
        classifier=Classifier(
            classifier_params, frame=frame, sensors=cast(dict[str, Sensor], reg.sensors)
        ),
        assessor=ThreatAssessor(ZoneSet(list(reg.zones), frame), threat_config),
        first_track_id=first_track_id,
    )
