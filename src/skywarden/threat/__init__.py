"""Threat assessment: protected zones, time to arrival, threat level and the alert lifecycle."""

from typing import TYPE_CHECKING, Any

from .zones import ZoneError, ZoneSet, load_geojson

if TYPE_CHECKING:
    from .assess import ThreatAssessor, ThreatConfig

__all__ = ["ThreatAssessor", "ThreatConfig", "ZoneError", "ZoneSet", "load_geojson"]


def __getattr__(name: str) -> Any:
    # The assessor pulls in the classifier and its compiled features (about half a
    # second): reading a scenario's zones, or printing the command line's help, needs
    # only the zones.
    if name in ("ThreatAssessor", "ThreatConfig"):
        from . import assess

        return getattr(assess, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
