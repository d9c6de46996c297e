"""The engine in a process of its own gives what the engine gives run in line: the
same outputs, the same alert objects handed over early, zone edits checked in the
parent first, counters back, and a child that ends with its parent's pipe."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import msgspec
import pytest

from skywarden.engine_process import EngineProcess, EngineSetup
from skywarden.pipeline import Engine, EngineConfig, SiteRegistry, build_engine
from skywarden.threat import ThreatConfig, ZoneError
from skywarden.tracking.config import TrackerConfig
from skywarden.types import AlertLine, Detection, Sensor, Site, Zone

from .test_engine_thread import Collector, _scenario, in_line


def _process(
    site: Site, sensors: list[Sensor], zones: list[Zone], got: Collector, maxsize: int = 100_000
) -> tuple[EngineProcess, Engine]:
    parent = build_engine(SiteRegistry(site, sensors, zones))
    setup = EngineSetup(
        site=site, sensors=sensors, zones=zones, engine=EngineConfig(), tracker=TrackerConfig(),
        threat=ThreatConfig(), first_track_id=1, alerts=[], maxsize=maxsize,
    )  # fmt: skip
    return EngineProcess(parent, maxsize=maxsize, on_outputs=got, setup=setup), parent


def _recent(dets: list[Detection]) -> list[Detection]:
    """The detections moved to end a second ago: the child's clock is the wall clock."""
    shift = time.time() - 1.0 - dets[-1].t
    return [msgspec.structs.replace(d, t=d.t + shift) for d in dets]


def test_the_process_gives_the_same_outputs_as_the_engine_in_line():
    site, sensors, zones, dets = _scenario()
    dets = _recent(dets)
    cam = next(s for s in sensors if s.kind == "camera")
    first_cam = next(i for i, d in enumerate(dets) if d.sensor == cam.id)
    others = [s for s in sensors if s.id != cam.id]
    # The operator renames the zone before the data: the child must hear of it.
    renamed = [msgspec.structs.replace(z, id=f"{z.id}-new") for z in zones]

    direct = build_engine(SiteRegistry(site, others, zones))
    direct.site.replace_zones(renamed)
    expected = in_line(direct, dets, cam)
    assert {a.zone for o in expected for a in o.alerts} == {z.id for z in renamed}

    got = Collector()
    proc, parent = _process(site, others, zones, got)
    early: list[AlertLine] = []
    parent.on_alerts = early.extend
    with proc.lock:
        parent.site.replace_zones(renamed)
    # Queued before the child runs: one batch, taken by its engine at once.
    for i, d in enumerate(dets):
        if i == first_cam:
            proc.declare(cam)
        assert proc.put(d)
    assert cam.id in parent.site.sensors  # here at once, for the live map and sinks
    proc.start()
    try:
        outs = got.wait(len(expected))
        stats = proc.snapshot()
    finally:
        proc.stop()
    # The scans the data made, then the held last ones released by the clock.
    assert outs[: len(expected)] == expected
    assert proc.dropped == 0
    # Tracks made, by the ids given out: how many are still live depends on the wall clock
    # (the data ended a second before ``direct`` ran; on a loaded machine the child's clock
    # had coasted and deleted every track before the snapshot).
    assert stats.scans >= direct.stats.scans and stats.next_track_id > 1
    # Each alert event handed over early is the very object in its scan's output.
    sent = [a for o in outs for a in o.alerts]
    assert early and {id(a) for a in early} <= {id(a) for a in sent}


def test_a_bad_zone_is_refused_in_the_parent_before_the_child_hears_of_it():
    site, sensors, zones, _ = _scenario()
    got = Collector()
    proc, parent = _process(site, sensors, zones, got)
    bad = Zone(id="bad", name="bad", polygon=[[0.0, 0.0]], floor_m=0.0, ceiling_m=100.0)
    with pytest.raises(ZoneError):
        parent.site.replace_zones([bad])
    assert parent.site.zones == tuple(zones)
    assert not proc._ctrl  # nothing queued for the child


def test_a_full_queue_drops_the_oldest_detection():
    site, sensors, zones, dets = _scenario()
    proc, _ = _process(site, sensors, zones, Collector(), maxsize=3)
    accepted = [proc.put(d) for d in dets[:5]]  # not started: nothing is sent
    assert accepted == [True, True, True, False, False]
    assert proc.dropped == 2 and proc.qsize() == 3


def test_a_dead_engine_process_is_reported_not_silent(caplog):
    site, sensors, zones, dets = _scenario()
    got = Collector()
    proc, _ = _process(site, sensors, zones, got)
    for d in _recent(dets)[:200]:
        proc.put(d)
    proc.start()
    try:
        got.wait(1)  # the child is up
        with caplog.at_level(logging.ERROR, logger="skywarden.engine_process"):
            os.kill(proc._proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + 20.0
            while "engine process ended" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
        assert "engine process ended (exit code -9)" in caplog.text
    finally:
        proc.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("skywarden-engine-")]
