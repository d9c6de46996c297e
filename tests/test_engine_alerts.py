"""The engine hands each tick's alert events over before it builds the track lines."""

from __future__ import annotations

from skywarden.pipeline import build_engine
from skywarden.scenario import ScenarioReader
from skywarden.sim import load_spec, simulate_to_file
from skywarden.types import AlertLine, Detection, ScanOutput


def test_alerts_are_handed_over_before_their_scan_output(tmp_path):
    path = tmp_path / "s.jsonl"
    simulate_to_file(load_spec("swarm"), path, seed=4, duration_s=90.0)
    reader = ScenarioReader(path)
    eng = build_engine(reader.header)
    early: list[tuple[int, list[AlertLine]]] = []
    # The outputs finished when the hook is called: the tick's own is not yet.
    eng.on_alerts = lambda alerts: early.append((eng.stats.outputs, list(alerts)))
    outs: list[ScanOutput] = []
    for rec in reader:
        if isinstance(rec, Detection):
            outs += eng.push(rec)
    outs += eng.flush()
    with_alerts = [(i, list(o.alerts)) for i, o in enumerate(outs) if o.alerts]
    assert with_alerts and early == with_alerts
