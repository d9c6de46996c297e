"""skywarden: counter-drone early warning. It detects, tracks, classifies and warns; it never controls effectors."""

__version__ = "0.1.0"
