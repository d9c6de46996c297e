"""Scoring a run against truth: GOSPA, track continuity and latency, warning lead time, classification."""

from .gospa import GospaResult, gospa, gospa_from_distances
from .report import EvalReport, evaluate_files

__all__ = ["EvalReport", "GospaResult", "evaluate_files", "gospa", "gospa_from_distances"]
