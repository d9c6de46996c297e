"""The engine on its own thread gives what the engine gives run in line; its inbox
drops the oldest detection when full; a held scan is released with no newer data."""

from __future__ import annotations

import threading
import time

import msgspec
import pytest

from skywarden.engine_thread import EngineThread
from skywarden.pipeline import Engine, SiteRegistry, build_engine
from skywarden.scenario import Header
from skywarden.sim import generate, load_spec
from skywarden.types import Detection, ScanOutput, Sensor, Site, Zone

from .test_service import RADAR, SITE, _radar_dets


class Collector:
    """Outputs as the thread hands them over; ``wait(n)`` until there are n of them."""

    def __init__(self) -> None:
        self.outs: list[ScanOutput] = []
        self._cond = threading.Condition()

    def __call__(self, outs: list[ScanOutput]) -> None:
        with self._cond:
            self.outs.extend(outs)
            self._cond.notify_all()

    def wait(self, n: int, timeout_s: float = 120.0) -> list[ScanOutput]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.outs) >= n, timeout_s), (
                f"{len(self.outs)} of {n} outputs came"
            )
            return list(self.outs)


def _scenario():
    recs = list(generate(load_spec("single-drone"), seed=3, duration_s=300.0))
    site = next(r for r in recs if isinstance(r, Site))
    sensors = [r for r in recs if isinstance(r, Sensor)]
    zones = [r for r in recs if isinstance(r, Zone)]
    dets = [r for r in recs if isinstance(r, Detection)]
    return site, sensors, zones, dets


def in_line(engine: Engine, dets: list[Detection], cam: Sensor) -> list[ScanOutput]:
    """The outputs of ``engine`` fed ``dets`` in line, ``cam`` declared just before its
    first detection (a sensor declared live)."""
    first_cam = next(i for i, d in enumerate(dets) if d.sensor == cam.id)
    out: list[ScanOutput] = []
    for i, d in enumerate(dets):
        if i == first_cam:
            engine.site.declare_sensor(cam)
        out.extend(engine.push(d))
    assert any(o.alerts for o in out), "the scenario should raise an alert"
    return out


def test_the_thread_gives_the_same_outputs_as_the_engine_in_line():
    site, sensors, zones, dets = _scenario()
    # The camera is declared live, just before its first detection.
    cam = next(s for s in sensors if s.kind == "camera")
    first_cam = next(i for i, d in enumerate(dets) if d.sensor == cam.id)
    others = [s for s in sensors if s.id != cam.id]

    def engine():
        return build_engine(SiteRegistry(site, others, zones))

    expected = in_line(engine(), dets, cam)

    got = Collector()
    # A clock before every detection: the engine's clock never moves on by itself here.
    th = EngineThread(engine(), maxsize=len(dets), on_outputs=got, clock=lambda: dets[0].t - 1e4)
    th.start()
    try:
        for i, d in enumerate(dets):
            if i == first_cam:
                th.declare(cam)
            th.put(d)
        outs = got.wait(len(expected))
    finally:
        th.stop()
    assert th.dropped == 0
    assert outs == expected


def test_a_full_inbox_drops_the_oldest_detection():
    dets = _radar_dets(time.time(), 5)
    got = Collector()
    th = EngineThread(
        build_engine(Header(site=SITE, sensors={RADAR.id: RADAR})),
        maxsize=3, on_outputs=got, clock=lambda: dets[0].t - 1e4,
    )  # fmt: skip
    accepted = [th.put(d) for d in dets]  # before the thread runs: the inbox fills
    assert accepted == [True, True, True, False, False]
    assert th.dropped == 2 and th.qsize() == 3
    th.start()
    try:
        # The three newest came through; the window holds the last one back.
        outs = got.wait(2)
    finally:
        th.stop()
    assert [o.t_s for o in outs] == pytest.approx([dets[2].t, dets[3].t])
    assert th.engine.stats.detections_in == 3


def test_a_held_scan_is_released_when_its_window_has_passed():
    got = Collector()
    th = EngineThread(
        build_engine(Header(site=SITE, sensors={RADAR.id: RADAR})),
        maxsize=10, on_outputs=got,
    )  # fmt: skip
    th.start()
    try:
        (det,) = _radar_dets(time.time(), 1)
        th.put(det)
        # No newer detection will ever push it out: the engine's clock must.
        (out,) = got.wait(1, timeout_s=30.0)
    finally:
        th.stop()
    assert out.t_s == det.t


class BusyEngine:
    """The engine, but after detection ``n`` the rest arrive while it works, and by
    the time it is done the wall clock has moved on by a minute (an engine behind)."""

    def __init__(self, engine: Engine, n: int, rest: list[Detection], clock: list[float]) -> None:
        self.engine, self.n, self.rest, self.clock = engine, n, rest, clock
        self.stats, self.reorder, self.site, self.config = (
            engine.stats, engine.reorder, engine.site, engine.config,
        )  # fmt: skip
        self.thread: EngineThread | None = None

    def push(self, det: Detection) -> list[ScanOutput]:
        out = self.engine.push(det)
        if self.stats.detections_in == self.n and self.thread is not None:
            for d in self.rest:
                self.thread.put(d)
            self.clock[0] = self.rest[-1].t + 60.0
        return out

    def tick(self, now_s: float, *, coast: bool = True) -> list[ScanOutput]:
        return self.engine.tick(now_s, coast=coast)


def test_the_clock_does_not_move_on_past_a_backlog():
    # A drone seen every 0.5 s; an output each second, so the scan the clock would
    # release behind the backlog makes none, and the engine would coast instead.
    dets = [
        msgspec.structs.replace(d, t=d.t - 0.5 * k)
        for k, d in enumerate(_radar_dets(time.time() - 120.0, 32))
    ]
    clock = [dets[0].t - 1e4]
    busy = BusyEngine(
        build_engine(Header(site=SITE, sensors={RADAR.id: RADAR})), 16, dets[16:], clock
    )
    got = Collector()
    th = busy.thread = EngineThread(busy, maxsize=100, on_outputs=got, clock=lambda: clock[0])  # type: ignore[arg-type]
    for d in dets[:16]:
        th.put(d)
    th.start()
    try:
        # An output a second through both halves, and the coasting one at the end.
        got.wait(17, timeout_s=30.0)
    finally:
        th.stop()
    # One track through both halves: the engine's clock waited for the backlog.
    last = next(o for o in got.outs if o.t_s == dets[-2].t)
    assert [(tl.id, tl.status) for tl in last.tracks] == [("T1", "confirmed")]


def test_a_feed_catching_up_is_not_coasted_past():
    # A link delivers half a minute of backlog in a burst, each detection as the engine
    # is idle again: all are older than the window, so each is released at once, and
    # the scans without an output would let the clock coast the track 30 s ahead.
    dets = [
        msgspec.structs.replace(d, t=d.t - 0.5 * k)
        for k, d in enumerate(_radar_dets(time.time() - 120.0, 32))
    ]
    clock = [dets[-1].t + 30.0]
    got = Collector()
    th = EngineThread(
        build_engine(Header(site=SITE, sensors={RADAR.id: RADAR})),
        maxsize=100, on_outputs=got, clock=lambda: clock[0],
    )  # fmt: skip
    th.start()
    try:
        for k, d in enumerate(dets):
            th.put(d)
            clock[0] += 0.01  # the burst takes a third of a second
            deadline = time.monotonic() + 30.0
            while th.engine.stats.detections_in <= k or th.qsize():
                assert time.monotonic() < deadline, "the engine did not take the detection"
                time.sleep(0.005)
        got.wait(16, timeout_s=30.0)
    finally:
        th.stop()
    last = next(o for o in got.outs if o.t_s == dets[-2].t)
    assert [(tl.id, tl.status) for tl in last.tracks] == [("T1", "confirmed")]


def test_idle_is_clear_while_the_engine_runs_and_set_while_it_waits():
    states: list[bool] = []
    th: EngineThread | None = None

    def on_outputs(outs: list[ScanOutput]) -> None:
        assert th is not None
        states.append(th.idle.is_set())
        got(outs)

    got = Collector()
    th = EngineThread(
        build_engine(Header(site=SITE, sensors={RADAR.id: RADAR})),
        maxsize=10, on_outputs=on_outputs,
    )  # fmt: skip
    assert not th.idle.is_set()
    th.start()
    try:
        assert th.idle.wait(10.0)  # nothing to do
        for d in _radar_dets(time.time(), 2):
            th.put(d)
        got.wait(1, timeout_s=30.0)
        assert th.idle.wait(10.0)  # done, waiting again
    finally:
        th.stop()
    assert states and not any(states)
