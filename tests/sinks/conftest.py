"""Fixtures shared by the sink tests."""

from __future__ import annotations

import pytest

from skywarden.runner import run_file
from skywarden.sim import load_spec, simulate_to_file
from skywarden.types import ScanOutput, Zone


@pytest.fixture(scope="session")
def mass_raid(tmp_path_factory) -> tuple[list[ScanOutput], tuple[Zone, ...]]:
    """A short mass-raid run through the whole engine (long enough for an alert to be
    updated: a drone is raised about 300 s out and first updated some 60 s later)."""
    path = tmp_path_factory.mktemp("raid") / "raid.jsonl"
    simulate_to_file(load_spec("mass-raid"), path, seed=1, duration_s=360.0)
    outs: list[ScanOutput] = []
    res = run_file(path, None, on_output=outs.append)
    assert res.engine.stats.alert_lines > 0
    return outs, res.engine.site.zones
