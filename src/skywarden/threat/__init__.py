"""Threat assessment: protected zones, time to arrival, threat level and the alert lifecycle."""

from .assess import ThreatAssessor, ThreatConfig
from .zones import ZoneError, ZoneSet, load_geojson

__all__ = ["ThreatAssessor", "ThreatConfig", "ZoneError", "ZoneSet", "load_geojson"]
