"""Track classification: drone, bird, aircraft, helicopter or unknown, and cooperative identity."""

from .classifier import Classifier, ClassifierParams, ClassResult
from .spoof import SpoofConfig

__all__ = ["ClassResult", "Classifier", "ClassifierParams", "SpoofConfig"]
