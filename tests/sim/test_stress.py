"""Stress variants of a spec change what they name and nothing else."""

from __future__ import annotations

import pytest

from skywarden.sim import load_spec
from skywarden.sim.recorded import real_scenarios
from skywarden.sim.spec import HostileDrone, Recorded
from skywarden.sim.stress import birds_in_wind, hostile_drones, without_sensors


@pytest.fixture(scope="module")
def spec():
    real = {p.stem: p for p in real_scenarios("eval")}
    return load_spec(real["real-eval-04"])


def _others(a, b, changed):
    return [(x, y) for x, y in zip(a.objects, b.objects, strict=True) if not changed(x)]


def test_birds_in_wind_blows_on_recorded_birds_only(spec):
    def is_bird(o):
        return isinstance(o, Recorded) and o.truth_class == "bird"

    windy = birds_in_wind(spec, (8.0, -3.0))
    birds = [o for o in windy.objects if is_bird(o)]
    assert birds and all(o.wind_mps == (8.0, -3.0) for o in birds)
    # The recorded drones and aircraft of this scenario keep still air.
    assert any(isinstance(o, Recorded) for o, _ in _others(spec, windy, is_bird))
    assert all(x == y for x, y in _others(spec, windy, is_bird))
    assert windy.sensors == spec.sensors
    assert birds_in_wind(spec, (0.0, 0.0)) is spec


def test_without_sensors_takes_out_one_kind_and_refuses_to_leave_none(spec):
    kinds = {s.kind for s in spec.sensors}
    assert "camera" in kinds and len(kinds) > 1
    blind = without_sensors(spec, ["camera"])
    assert {s.kind for s in blind.sensors} == kinds - {"camera"}
    assert blind.objects == spec.objects
    assert without_sensors(spec, []) is spec
    with pytest.raises(ValueError, match="no sensor left"):
        without_sensors(spec, kinds)


def test_hostile_drones_changes_the_scripted_fixed_wing_drones_only():
    spec = load_spec(real_scenarios("eval")[0])
    slow = hostile_drones(spec, speed_mps=(17.0, 24.0), radio_fraction=1.0)
    scripted = [o for o in slow.objects if isinstance(o, HostileDrone)]
    assert scripted and all(
        o.speed_mps == (17.0, 24.0) and o.radio_fraction == 1.0 for o in scripted
    )

    def is_scripted(o):
        return isinstance(o, HostileDrone)

    assert all(x == y for x, y in _others(spec, slow, is_scripted))
    assert hostile_drones(spec).objects == spec.objects
    radio_only = hostile_drones(spec, radio_fraction=0.0)
    assert [o.speed_mps for o in radio_only.objects if is_scripted(o)] == [
        o.speed_mps for o in spec.objects if is_scripted(o)
    ]
