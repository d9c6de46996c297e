"""The optional stage timer: it times every stage and changes nothing."""

from __future__ import annotations

import time

import pytest

from skywarden.pipeline import build_engine
from skywarden.scenario import ScenarioReader
from skywarden.sim import load_spec, simulate_to_file
from skywarden.timing import STAGES, StageTimer
from skywarden.types import Detection


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("timing") / "s.jsonl"
    simulate_to_file(load_spec("swarm"), path, seed=4, duration_s=90.0)
    return path


def _run(path, timer):
    reader = ScenarioReader(path)
    eng = build_engine(reader.header)
    eng.set_timer(timer)
    out = []
    for rec in reader:
        if isinstance(rec, Detection):
            out += eng.push(rec)
    out += eng.flush()
    return eng, out


def test_timer_times_every_stage_and_changes_no_output(scenario):
    timer = StageTimer(clock=time.thread_time)
    t0 = time.thread_time()
    _, timed = _run(scenario, timer)
    total = time.thread_time() - t0
    _, plain = _run(scenario, None)
    assert timed == plain and any(o.alerts for o in plain)
    split = timer.rest(total)
    assert set(split) == set(STAGES)
    assert all(v > 0 for k, v in split.items() if k != "initiate")
    assert sum(split.values()) == pytest.approx(total)


def test_lap_charges_the_time_since_the_previous_lap():
    now = [10.0]
    timer = StageTimer(clock=lambda: now[0])
    timer.start()
    now[0] = 10.5
    timer.lap("gate")
    now[0] = 12.0
    timer.lap("assign")
    timer.reset()
    now[0] = 13.0
    timer.lap("gate")
    assert timer.seconds["gate"] == 1.0 and timer.seconds["assign"] == 0.0
