"""Track and alert lines of a ``skywarden track`` output file, as columns.

Lines are decoded by a reduced msgspec schema (only the keys evaluation uses,
unknown keys ignored), so a file of hundreds of thousands of track lines reads
in about a second. A bad line (or one longer than the scenario reader's limit,
never held in memory) is counted as rejected with its reason and skipped;
unknown line types are ignored.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field

import msgspec
import numpy as np
import orjson

from ..geodesy import LocalFrame
from ..scenario import MAX_LINE_BYTES, bounded_lines
from ..types import CLASSES, TRACK_STATUSES

log = logging.getLogger(__name__)

STATUS_CODE: dict[str, int] = {s: i for i, s in enumerate(TRACK_STATUSES)}
CONFIRMED = STATUS_CODE["confirmed"]
COASTING = STATUS_CODE["coasting"]


class _ClassP(msgspec.Struct):
    # Fields in ``CLASSES`` order (checked below); a class a line leaves out is 0.
    drone: float = 0.0
    bird: float = 0.0
    aircraft: float = 0.0
    helicopter: float = 0.0
    unknown: float = 0.0


assert _ClassP.__struct_fields__ == CLASSES
#: A line without ``class_p``: calibration skips it.
_NO_P = (math.nan,) * len(CLASSES)


class _TrackRow(msgspec.Struct, tag="track", tag_field="type"):
    t: float
    id: str
    lat: float
    lon: float
    alt_m: float
    status: str
    class_: str = msgspec.field(name="class", default="unknown")
    class_p: _ClassP | None = None
    pos_std_m: float | None = None


class _AlertRow(msgspec.Struct, tag="alert", tag_field="type"):
    t: float
    id: str
    state: str
    kind: str | None = None
    track: str | None = None
    zone: str | None = None
    level: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One threat-alert event (sensor alerts are dropped on reading)."""

    t_s: float
    id: str
    state: str
    track: str
    zone: str
    level: str | None


@dataclass(frozen=True, slots=True)
class OutputData:
    """Track lines as columns (n rows) plus the threat alerts.

    ``t_s`` (n,), ``track`` (n,) codes into ``track_ids``, ``status`` (n,) codes
    into ``TRACK_STATUSES``, ``cls`` (n,) codes into ``class_names``,
    ``pos_enu_m`` (n, 3) in the scenario's site frame, ``class_p`` (n, len(CLASSES))
    the lines' class probabilities (a class a line leaves out: 0; a line without
    ``class_p``: NaN); ``class_p_ignored`` lines whose ``class_p`` gave a value outside
    [0, 1] (kept, with NaN; classes the classifier does not have are ignored);
    ``pos_std_m`` (n,) the lines' one-sigma position error, m (NaN when absent).
    """

    t_s: np.ndarray
    track: np.ndarray
    status: np.ndarray
    cls: np.ndarray
    pos_enu_m: np.ndarray
    track_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    alerts: tuple[Alert, ...]
    n_alert_lines: int
    rejected: Counter[str] = field(default_factory=Counter)
    class_p: np.ndarray = field(default_factory=lambda: np.empty((0, len(CLASSES))))
    class_p_ignored: int = 0
    pos_std_m: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


_DECODER = msgspec.json.Decoder(_TrackRow | _AlertRow)


def read_output(path: str | os.PathLike[str], frame: LocalFrame) -> OutputData:
    """Read an output file; positions are converted into ``frame`` (site ENU)."""
    t: list[float] = []
    tid: list[int] = []
    status: list[int] = []
    cls: list[int] = []
    lla: list[tuple[float, float, float]] = []
    probs: list[tuple[float, ...]] = []
    pos_std: list[float] = []
    track_code: dict[str, int] = {}
    class_code: dict[str, int] = {}
    alerts: list[Alert] = []
    n_alert_lines = 0
    rejected: Counter[str] = Counter()
    with open(path, "rb", buffering=1 << 20) as f:
        for raw in bounded_lines(f):
            if raw is None:
                rejected[f"line longer than {MAX_LINE_BYTES} bytes"] += 1
                continue
            try:
                rec = _DECODER.decode(raw)
            except msgspec.DecodeError as e:
                reason = _reason(raw, e)
                if reason:
                    rejected[reason] += 1
                continue
            if isinstance(rec, _TrackRow):
                st = STATUS_CODE.get(rec.status)
                if st is None:
                    rejected["unknown track status"] += 1
                    continue
                cp = rec.class_p
                row = _NO_P if cp is None else msgspec.structs.astuple(cp)
                t.append(rec.t)
                tid.append(track_code.setdefault(rec.id, len(track_code)))
                status.append(st)
                cls.append(class_code.setdefault(rec.class_, len(class_code)))
                lla.append((rec.lat, rec.lon, rec.alt_m))
                probs.append(row)
                pos_std.append(math.nan if rec.pos_std_m is None else rec.pos_std_m)
            else:
                n_alert_lines += 1
                if rec.kind not in (None, "threat"):
                    continue
                if rec.track is None or rec.zone is None:
                    rejected["threat alert without track or zone"] += 1
                    continue
                alerts.append(Alert(rec.t, rec.id, rec.state, rec.track, rec.zone, rec.level))
    probs_a = np.asarray(probs, dtype=float).reshape(-1, len(CLASSES))
    # A line's position and class still count when its class_p is bad; calibration
    # skips it (NaN row).
    bad = ((probs_a < 0.0) | (probs_a > 1.0)).any(axis=1)
    probs_a[bad] = np.nan
    bad_p = int(bad.sum())
    if bad_p:
        log.warning("output file: class_p of %d track lines ignored (not in [0, 1])", bad_p)
    if rejected:
        log.warning("output file: %d lines rejected: %s", sum(rejected.values()), dict(rejected))
    g = np.asarray(lla, dtype=float).reshape(-1, 3)
    pos = frame.to_enu(g[:, 0], g[:, 1], g[:, 2]).reshape(-1, 3) if len(g) else np.empty((0, 3))
    return OutputData(
        t_s=np.asarray(t, dtype=float),
        track=np.asarray(tid, dtype=np.int64),
        status=np.asarray(status, dtype=np.int8),
        cls=np.asarray(cls, dtype=np.int64),
        pos_enu_m=pos,
        track_ids=tuple(track_code),
        class_names=tuple(class_code),
        alerts=tuple(sorted(alerts, key=lambda a: a.t_s)),
        n_alert_lines=n_alert_lines,
        rejected=rejected,
        class_p=probs_a,
        class_p_ignored=bad_p,
        pos_std_m=np.asarray(pos_std, dtype=float),
    )


def _reason(raw: bytes, err: msgspec.DecodeError) -> str | None:
    """Why a line failed, or None for blank lines and unknown line types (ignored)."""
    text = raw.strip()
    if not text:
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "invalid JSON"
    if isinstance(obj, dict) and obj.get("type") not in ("track", "alert"):
        return None
    return str(err).split(" - at ")[0]
