"""Stress variants of a scenario spec, for checks beside the scenarios as written.

Each returns a new spec with one thing changed and everything else as it was:
recorded birds flown in a steady wind, the sensors of some kinds taken out, or every
scripted hostile fixed-wing drone flown at another speed or made an RF emitter.
``scripts/warning_report.py`` (``--bird-wind``, ``--without``, ``--hostile-speed``,
``--hostile-radio``) and the acceptance tests use them.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from .spec import HostileDrone, Recorded, ScenarioSpec


def birds_in_wind(spec: ScenarioSpec, wind_mps: tuple[float, float]) -> ScenarioSpec:
    """Every recorded bird flown in a steady wind (East, North, m/s): its ground speed is
    what it logged plus the wind. Each keeps its anchor (the corpus birds are anchored on
    their centroid, so they stay about the site)."""
    if tuple(wind_mps) == (0.0, 0.0):
        return spec
    objs = [
        msgspec.structs.replace(o, wind_mps=tuple(wind_mps))
        if isinstance(o, Recorded) and o.truth_class == "bird"
        else o
        for o in spec.objects
    ]
    return msgspec.structs.replace(spec, objects=objs)


def without_sensors(spec: ScenarioSpec, kinds: Iterable[str]) -> ScenarioSpec:
    """The spec without its sensors of these ``kinds``; ValueError if none would be left."""
    kinds = tuple(kinds)
    if not kinds:
        return spec
    kept = [s for s in spec.sensors if s.kind not in kinds]
    if not kept:
        raise ValueError(f"{spec.name}: no sensor left without {', '.join(kinds)}")
    return msgspec.structs.replace(spec, sensors=kept)


def hostile_drones(
    spec: ScenarioSpec,
    *,
    speed_mps: tuple[float, float] | None = None,
    radio_fraction: float | None = None,
) -> ScenarioSpec:
    """Every scripted hostile fixed-wing drone flown at ``speed_mps`` (from, to, m/s) and
    with ``radio_fraction`` as its chance of being an RF emitter, where given."""
    objs = [
        msgspec.structs.replace(
            o,
            speed_mps=o.speed_mps if speed_mps is None else tuple(speed_mps),
            radio_fraction=o.radio_fraction if radio_fraction is None else radio_fraction,
        )
        if isinstance(o, HostileDrone)
        else o
        for o in spec.objects
    ]
    return msgspec.structs.replace(spec, objects=objs)
