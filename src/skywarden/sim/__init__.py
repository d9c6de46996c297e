"""Scenario simulator: truth trajectories and sensor models, written as scenario files.

``load_spec`` gives a built-in scenario or a user's spec file; ``generate``
streams its records lazily; ``simulate_to_file`` writes them. The simulator
models only what sensors see of objects in the air.
"""

from .generate import EPOCH_S, SimSummary, Simulation, generate, simulate_to_file
from .spec import (
    ScenarioSpec,
    SpecError,
    builtin_names,
    load_spec,
    spec_from_dict,
    with_targets,
)

__all__ = [
    "EPOCH_S",
    "ScenarioSpec",
    "SimSummary",
    "Simulation",
    "SpecError",
    "builtin_names",
    "generate",
    "load_spec",
    "simulate_to_file",
    "spec_from_dict",
    "with_targets",
]
