"""Streaming reader and writer for scenario files (JSON Lines, CONVENTIONS.md).

The reader never holds the whole file: it yields one record at a time. Every
bad line becomes a ``Rejected`` with its 1-based line number and a reason,
is counted and skipped; the lines around it are kept. Unknown keys and unknown
line types are ignored with one warning each (per type and key), so newer
files still read.

Speed: each line is first decoded by a strict, typed msgspec decoder (about a
microsecond). Only lines that fail take the slow path, which works out the
exact reason or strips unknown keys and retries.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import msgspec
import numpy as np
import orjson

from .threat.zones import ZoneError, check_zone
from .types import (
    RECORD_TYPES,
    REQUIRED_BY_KIND,
    Detection,
    Record,
    RejectCode,
    Rejected,
    Sensor,
    Site,
    TruthPoint,
    Zone,
)

log = logging.getLogger(__name__)

_DECODER = msgspec.json.Decoder(Record)
#: Deepest nesting of objects and arrays a line may have (records need 3: a zone's polygon).
MAX_DEPTH = 16
#: Longest line a file may have; a longer one is rejected alone (zones with many vertices fit).
MAX_LINE_BYTES = 1 << 20
#: Rejections kept as examples (every one is counted): files keep the first ones.
FILE_REJECTED_SAMPLES = 100_000
#: Distinct reasons and warnings remembered; beyond that they are only counted.
_MAX_REASONS = 1_000
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes(range(256)).translate(None, b"{}[]")
_ENCODER = msgspec.json.Encoder()
_KNOWN_KEYS: dict[str, frozenset[str]] = {
    name: frozenset(f.encode_name for f in msgspec.structs.fields(cls)) | {"type"}
    for name, cls in RECORD_TYPES.items()
}
# Fields that name a kind-specific measurement; a detection may only carry the
# ones its sensor's kind defines (plus the common optional ones).
_KIND_KEYS: dict[str, frozenset[str]] = {
    "radar": frozenset({"range_m", "az_deg", "el_deg", "range_rate_mps"}),
    "rf": frozenset({"az_deg", "el_deg"}),
    "camera": frozenset({"az_deg", "el_deg"}),
    # vrate_mps on remoteid extends CONVENTIONS.md: the Location message carries it.
    "remoteid": frozenset(
        {
            "uas_id",
            "lat",
            "lon",
            "alt_m",
            "operator_lat",
            "operator_lon",
            "speed_mps",
            "track_deg",
            "vrate_mps",
        }
    ),
    "adsb": frozenset(
        {
            "icao24",
            "lat",
            "lon",
            "alt_m",
            "callsign",
            "emitter_cat",
            "speed_mps",
            "track_deg",
            "vrate_mps",
        }
    ),
    "position": frozenset({"lat", "lon", "alt_m"}),
}


def too_deep(raw: bytes) -> bool:
    """Whether a JSON text nests objects/arrays deeper than ``MAX_DEPTH`` (strings not counted).

    Cheap for ordinary lines (two byte counts); only a line with many brackets
    is scanned exactly.
    """
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    if not brackets:
        return False
    b = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((b == ord("{")) | (b == ord("[")), 1, -1)
    return int(np.cumsum(steps).max()) > MAX_DEPTH


def reason_kind(reason: str) -> str:
    """A reason without its particulars (quoted names, where), to count by."""
    return re.sub(r"'[^']*'", "'…'", reason.split(" at ")[0])[:120]


@dataclass
class ReadStats:
    """What a read saw: counts, time span, rejections and warnings.

    Memory stays bounded whatever arrives: ``rejected`` keeps at most
    ``max_samples`` examples (the first ones for a file, the latest for a live
    stream), ``by_reason`` counts every rejection by :func:`reason_kind`, and
    warnings stop being remembered after a thousand distinct ones.
    """

    lines: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_sensor: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejected] | deque[Rejected] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    ignored: int = 0
    out_of_order: int = 0
    t_min: float = math.inf
    t_max: float = -math.inf
    quiet: bool = False
    max_samples: int = FILE_REJECTED_SAMPLES
    live: bool = False
    n_rejected: int = 0
    #: Called with every rejection (a live listener counts them site-wide).
    on_reject: Callable[[Rejected], None] | None = None
    _warned: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.live:
            self.rejected = deque(maxlen=self.max_samples)

    def warn_once(self, kind: str, what: str, message: str) -> None:
        """Record ``message`` the first time (kind, what) is seen."""
        if (kind, what) not in self._warned and len(self._warned) < _MAX_REASONS:
            self._warned.add((kind, what))
            self.warnings.append(message)
            if not self.quiet:
                log.warning("%s", message)

    def reject(self, line: int, reason: str, code: RejectCode) -> Rejected:
        r = Rejected(reason=reason, code=code, line=line)
        self.n_rejected += 1
        if self.live or len(self.rejected) < self.max_samples:
            self.rejected.append(r)
        kind = reason_kind(reason)
        if kind in self.by_reason or len(self.by_reason) < _MAX_REASONS:
            self.by_reason[kind] += 1
        else:
            self.by_reason["other"] += 1
        if self.on_reject is not None:
            self.on_reject(r)
        log.debug("line %d rejected: %s", line, reason)
        return r


@dataclass
class Header:
    """The declarations of a scenario: site, sensors and zones."""

    site: Site | None = None
    sensors: dict[str, Sensor] = field(default_factory=dict)
    zones: list[Zone] = field(default_factory=list)


def _open(source: str | os.PathLike[str] | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb", buffering=1 << 20), True
    return source, False


class ScenarioReader:
    """Reads a scenario file, validating every line.

    For a file on disk the declarations (site, sensor, zone lines) are read in a
    cheap first pass, so a detection may precede its sensor's line as the format
    allows. For a non-seekable stream, declarations must come before use.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        *,
        quiet: bool = False,
        live: bool = False,
        max_samples: int = FILE_REJECTED_SAMPLES,
    ) -> None:
        self._source = source
        self.stats = ReadStats(quiet=quiet, live=live, max_samples=max_samples)
        self.header = Header()
        self._prescanned = False
        self._last_t: dict[str, float] = {}
        self._seen_sensor: set[str] = set()
        if isinstance(source, (str, os.PathLike)):
            self._prescan(Path(source))

    def _prescan(self, path: Path) -> None:
        scratch = ReadStats(quiet=True)
        with open(path, "rb", buffering=1 << 20) as f:
            for n, raw in enumerate(bounded_lines(f), 1):
                # Detection and truth lines are the bulk; skip them unparsed.
                if raw is None or b'"detection"' in raw or b'"truth"' in raw:
                    continue
                rec = self._decode(raw, n, scratch)
                if isinstance(rec, (Site, Sensor, Zone)):
                    self._declare(rec, scratch, n)
        self._prescanned = True

    def _declare(self, rec: Site | Sensor | Zone, stats: ReadStats, line: int) -> Rejected | None:
        if isinstance(rec, Sensor):
            known = self.header.sensors.get(rec.id)
            if known is not None and known != rec and rec.id in self._seen_sensor:
                return stats.reject(
                    line, f"sensor '{rec.id}' declared twice, differently", RejectCode.CONFLICT
                )
            self.header.sensors[rec.id] = rec
            self._seen_sensor.add(rec.id)
        elif isinstance(rec, Site):
            if self.header.site is not None and self.header.site != rec:
                return stats.reject(line, "a second, different site line", RejectCode.CONFLICT)
            self.header.site = rec
        elif rec not in self.header.zones:
            if any(z.id == rec.id for z in self.header.zones):
                return stats.reject(
                    line, f"zone '{rec.id}' declared twice, differently", RejectCode.CONFLICT
                )
            try:
                check_zone(rec)
            except ZoneError as e:
                return stats.reject(line, str(e), RejectCode.INVALID)
            self.header.zones.append(rec)
        return None

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def records(self) -> Iterator[Record]:
        """Yield every valid record in file order; rejections go to ``stats``."""
        f, owned = _open(self._source)
        if self._prescanned:
            self._seen_sensor = set()
        try:
            feed = self.feed
            for n, raw in enumerate(bounded_lines(f), 1):
                if raw is None:
                    self.stats.lines = n
                    self.stats.reject(
                        n, f"line longer than {MAX_LINE_BYTES} bytes", RejectCode.TOO_LARGE
                    )
                    continue
                rec = feed(raw, n)
                if rec is not None:
                    yield rec
        finally:
            if owned:
                f.close()

    def feed(self, raw: bytes, line: int | None = None) -> Record | None:
        """Decode and check one line arriving live; None if rejected or ignored.

        Declarations (sensor, site, zone lines) update ``header``; rejections
        and warnings go to ``stats`` as for a file.
        """
        stats = self.stats
        n = stats.lines + 1 if line is None else line
        stats.lines = n
        rec = self._decode(raw, n, stats)
        if rec is None or isinstance(rec, Rejected):
            return None
        if isinstance(rec, Detection):
            rec = self._check_detection(rec, n, stats)
            if rec is None:
                return None
        elif isinstance(rec, TruthPoint):
            self._check_time("truth", rec.t, n, stats)
        elif self._declare(rec, stats, n) is not None:
            return None
        stats.by_type[rec.__struct_config__.tag] += 1  # type: ignore[index]
        return rec

    def _check_time(self, stream: str, t: float, line: int, stats: ReadStats) -> None:
        last = self._last_t.get(stream, -math.inf)
        if t < last:
            stats.out_of_order += 1
            stats.warn_once(
                "order", stream, f"line {line}: {stream} lines are not sorted by t ({t} < {last})"
            )
        else:
            self._last_t[stream] = t
        if t < stats.t_min:
            stats.t_min = t
        if t > stats.t_max:
            stats.t_max = t

    def _check_detection(self, det: Detection, line: int, stats: ReadStats) -> Detection | None:
        sensor = self.header.sensors.get(det.sensor)
        if sensor is None:
            stats.reject(line, f"unknown sensor '{det.sensor}'", RejectCode.UNKNOWN_SENSOR)
            return None
        kind = sensor.kind
        for key in REQUIRED_BY_KIND[kind]:
            if getattr(det, key) is None:
                stats.reject(line, f"{kind} detection is missing '{key}'", RejectCode.INVALID)
                return None
        for key in _MEASUREMENT_KEYS - _KIND_KEYS[kind]:
            if getattr(det, key) is not None:
                stats.warn_once(
                    "kindkey", f"{kind}.{key}", f"line {line}: '{key}' is not a {kind} key; ignored"
                )
                det = msgspec.structs.replace(det, **{key: None})
        if det.az_deg is not None and not 0.0 <= det.az_deg < 360.0:
            det = msgspec.structs.replace(det, az_deg=det.az_deg % 360.0)
        if det.track_deg is not None and not 0.0 <= det.track_deg < 360.0:
            det = msgspec.structs.replace(det, track_deg=det.track_deg % 360.0)
        self._check_time("detection", det.t, line, stats)
        stats.by_sensor[det.sensor] += 1
        return det

    def _decode(self, raw: bytes, line: int, stats: ReadStats) -> Record | Rejected | None:
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError:
            pass
        except RecursionError:
            # msgspec recurses per nesting level; a valid record is 3 levels deep.
            return stats.reject(
                line, f"nested more than {MAX_DEPTH} levels deep", RejectCode.TOO_LARGE
            )
        return self._decode_slow(raw, line, stats)

    def _decode_slow(self, raw: bytes, line: int, stats: ReadStats) -> Record | Rejected | None:
        text = raw.strip()
        if not text:
            return None
        if too_deep(text):
            return stats.reject(
                line, f"nested more than {MAX_DEPTH} levels deep", RejectCode.TOO_LARGE
            )
        try:
            obj: Any = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            if b"NaN" in text or b"Infinity" in text:
                return stats.reject(
                    line, "NaN or Infinity is not a number in JSON", RejectCode.SYNTAX
                )
            return stats.reject(line, f"invalid JSON: {e.args[0].split(':')[0]}", RejectCode.SYNTAX)
        if not isinstance(obj, dict):
            return stats.reject(line, "line is not a JSON object", RejectCode.INVALID)
        kind = obj.get("type")
        if kind is None:
            return stats.reject(line, "missing key 'type'", RejectCode.INVALID)
        if not isinstance(kind, str):
            return stats.reject(line, "'type' is not a string", RejectCode.INVALID)
        if kind not in RECORD_TYPES:
            stats.ignored += 1
            stats.warn_once("type", kind, f"line {line}: unknown line type '{kind}' ignored")
            return None
        known = _KNOWN_KEYS[kind]
        extra = [k for k in obj if k not in known]
        for k in extra:
            stats.warn_once(
                "key", f"{kind}.{k}", f"line {line}: unknown key '{k}' in {kind} ignored"
            )
            del obj[k]
        if kind == "sensor" and isinstance(obj.get("fov"), dict):
            fov_known = {"az_min_deg", "az_max_deg", "el_min_deg", "el_max_deg"}
            for k in [k for k in obj["fov"] if k not in fov_known]:
                stats.warn_once("key", f"fov.{k}", f"line {line}: unknown key '{k}' in fov ignored")
                del obj["fov"][k]
        try:
            return cast(Record, msgspec.convert(obj, RECORD_TYPES[kind], from_attributes=False))
        except msgspec.ValidationError as e:
            return stats.reject(line, _explain(str(e)), RejectCode.INVALID)


_MEASUREMENT_KEYS = frozenset().union(*_KIND_KEYS.values())


def bounded_lines(f: BinaryIO, max_len: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """The lines of a binary stream, each at most ``max_len`` bytes; None for a longer one.

    A longer line is skipped without being held in memory, and the next line is
    read normally.
    """
    readline = f.readline
    while raw := readline(max_len + 1):
        if raw.endswith(b"\n") or len(raw) <= max_len:
            yield raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = readline(max_len + 1)
        yield None


def _explain(msg: str) -> str:
    """Turn a msgspec validation message into a reader's reason."""
    msg = msg.replace("Object missing required field", "missing key")
    msg = msg.replace(" - at `$.", " at '").replace("`", "'")
    if "at '" in msg and not msg.endswith("'"):
        msg += "'"
    return msg


def read_header(path: str | os.PathLike[str]) -> Header:
    """The site, sensors and zones declared in a scenario file."""
    return ScenarioReader(path).header


class ScenarioWriter:
    """Writes records (or plain output dicts) as JSON Lines, buffered."""

    def __init__(self, target: str | os.PathLike[str] | IO[bytes]) -> None:
        if isinstance(target, (str, os.PathLike)):
            self._f: IO[bytes] = open(target, "wb", buffering=1 << 20)  # noqa: SIM115
            self._owned = True
        else:
            self._f = target
            self._owned = False
        self._buf = bytearray()
        self.count = 0

    def write(self, record: msgspec.Struct | dict[str, Any]) -> None:
        """Append one line."""
        _ENCODER.encode_into(record, self._buf, -1)
        self._buf += b"\n"
        self.count += 1
        if len(self._buf) > 1 << 20:
            self.flush()

    def write_all(self, records: Iterable[msgspec.Struct | dict[str, Any]]) -> None:
        for r in records:
            self.write(r)

    def flush(self) -> None:
        self._f.write(self._buf)
        self._buf.clear()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> ScenarioWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_line(record: msgspec.Struct | dict[str, Any]) -> bytes:
    """One record as a JSON line, without the newline."""
    return _ENCODER.encode(record)


def reader_from_bytes(data: bytes) -> ScenarioReader:
    """A reader over in-memory bytes (declarations must precede their use)."""
    return ScenarioReader(io.BytesIO(data))
