"""SQLite store of one site's picture: detections, tracks, alerts, acks, zones, tokens.

One database file per site, in WAL mode so that the web API reads while the
writer writes. Track lines and detections are appended in one transaction per
scan by :class:`~skywarden.store.writer.StoreWriter`, off the event loop (``asyncio.to_thread``). Alert
events and acknowledgements are committed on their own, at once, with
``synchronous=FULL``: a committed alert or ack survives SIGKILL and power loss.

Rows keep the message itself as msgspec JSON (``line``), plus the columns that
queries filter on. Times ``t`` are UTC seconds of measurement (scan time), except
``acks.t`` and ``tokens.t_created`` which are wall-clock seconds.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ..threat.zones import feature_to_zone
from ..types import (
    AlertLine,
    Detection,
    Rejected,
    ScanOutput,
    TrackLine,
    Zone,
    track_number,
)
from .tokens import HEX_DIGITS, MIN_REVOKE_PREFIX, ROLES, TOKEN_PREFIX, Role, TokenInfo, hash_token

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS detections (
    t REAL NOT NULL, sensor TEXT NOT NULL, line BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS detections_t ON detections(t);
CREATE TABLE IF NOT EXISTS tracks (
    t REAL NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, class TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, alt_m REAL NOT NULL, line BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS tracks_t ON tracks(t);
CREATE INDEX IF NOT EXISTS tracks_id_t ON tracks(id, t);
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY, t REAL NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,
    level TEXT NOT NULL, line BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS alert_events_t ON alert_events(t);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, t_first REAL NOT NULL, t REAL NOT NULL, state TEXT NOT NULL,
    level TEXT NOT NULL, line BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS acks (
    seq INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, by TEXT NOT NULL, t REAL NOT NULL);
CREATE INDEX IF NOT EXISTS acks_alert ON acks(alert_id);
CREATE TABLE IF NOT EXISTS escalations (
    seq INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, t REAL NOT NULL, level TEXT NOT NULL,
    after_s REAL NOT NULL, channels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zones (
    id TEXT PRIMARY KEY, feature BLOB NOT NULL, t REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL, t_created REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('skywarden_store', '1');
"""
#: Tables every skywarden store has had since tokens were added: an existing file
#: without the marker row (made by an older version) is a store when it has them all.
_TABLES = frozenset(
    {"detections", "tracks", "alert_events", "alerts", "acks", "zones", "tokens", "meta"}
)
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Rows per ``executemany`` of :meth:`Store.write_tracks`: each row's insert takes
#: and drops the interpreter lock, so a chunk is a point where the writer can wait.
BULK_CHUNK_ROWS = 256


class NotAStoreError(ValueError):
    """The file exists but is not a skywarden store (it is left untouched)."""


@dataclass(frozen=True, slots=True)
class Ack:
    """An operator's acknowledgement of an alert; ``t`` wall-clock UTC seconds."""

    alert_id: str
    by: str
    t: float


@dataclass(frozen=True, slots=True)
class Escalation:
    """An alert sent to the escalation channels because nobody acknowledged it within
    ``after_s``; ``t`` wall-clock UTC seconds, ``channels`` the sinks it went to."""

    alert_id: str
    t: float
    level: str
    after_s: float
    channels: str


@dataclass(frozen=True, slots=True)
class History:
    """Everything stored over ``[t0, t1]``: track lines and alert events in time order."""

    t0: float
    t1: float
    tracks: list[TrackLine]
    alerts: list[AlertLine]
    truncated: bool


# --- Zones as GeoJSON Features (the form the store and the web API use) ---


def zone_to_feature(zone: Zone) -> dict[str, Any]:
    """A zone as a GeoJSON Feature: closed ``Polygon`` ring of ``[lon, lat]``; limits in properties."""
    ring = [[float(lon), float(lat)] for lon, lat in zone.polygon]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    props: dict[str, Any] = {
        "name": zone.name,
        "floor_m": zone.floor_m,
        "ceiling_m": zone.ceiling_m,
    }
    if zone.priority is not None:
        props["priority"] = zone.priority
    return {
        "type": "Feature",
        "id": zone.id,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": props,
    }


# --- The store ---


def check_store_file(path: Path) -> None:
    """Raise :class:`NotAStoreError` unless ``path`` is a skywarden store (read-only check)."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise NotAStoreError(f"{path}: cannot read it: {e.strerror}") from e
    if head != _SQLITE_MAGIC:
        raise NotAStoreError(f"{path} is not a skywarden store (not an SQLite database)")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            marked = "meta" in tables and bool(
                con.execute("SELECT 1 FROM meta WHERE key = 'skywarden_store'").fetchall()
            )
        finally:
            con.close()
    except sqlite3.Error as e:
        raise NotAStoreError(f"{path} is not a skywarden store: {e}") from e
    if not marked and not tables >= _TABLES:
        raise NotAStoreError(f"{path} is an SQLite database but not a skywarden store")


def _prepare_file(path: Path) -> None:
    """Create a new store file readable by its owner only, or check that an existing one is a store.

    SQLite makes the ``-wal`` and ``-shm`` files with the database file's mode,
    so they are owner-only too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        check_store_file(path)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning(
                "store %s is readable by others (mode %o): it holds token digests and the "
                "site's record; chmod 600 it",
                path, mode,
            )  # fmt: skip
        return
    os.close(fd)


class Store:
    """One site's SQLite database (WAL). Thread-safe: one write and one read connection.

    ``retention_s``: :meth:`prune` drops track lines, detections, alert events and
    closed alerts older than this (``None`` keeps everything). ``clock`` gives
    wall-clock UTC seconds for acknowledgements and tokens. ``busy_timeout_s``: how
    long a statement waits for another process's lock before it fails with
    ``sqlite3.OperationalError`` (the store writer then retries).

    A new file is created readable by its owner only; an existing file that is
    not a skywarden store raises :class:`NotAStoreError` and is left untouched.
    """

    def __init__(
        self,
        path: str | Path,
        retention_s: float | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.retention_s = retention_s
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self._enc = msgspec.json.Encoder()
        self._dec_track = msgspec.json.Decoder(TrackLine)
        self._dec_alert = msgspec.json.Decoder(AlertLine)
        self._dec_det = msgspec.json.Decoder(Detection)
        _prepare_file(self.path)
        self._w = self._connect()
        self._w.executescript(_SCHEMA)
        self._r = self._connect()
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is fsynced, so a committed alert or ack survives
        # power loss too; commits are one per scan at most, so this is cheap.
        con.execute("PRAGMA synchronous=FULL")
        con.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        return con

    def set_busy_timeout(self, seconds: float) -> None:
        """Change how long statements wait for another process's lock."""
        self.busy_timeout_s = seconds
        with self._wlock, self._rlock:
            for con in (self._w, self._r):
                con.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")

    def close(self) -> None:
        """Close both connections (everything written is already committed)."""
        with self._wlock, self._rlock:
            self._w.close()
            self._r.close()

    def _tx(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._wlock:
            self._w.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._w)
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")
            return out

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._rlock:
            return self._r.execute(sql, args).fetchall()

    # --- writes ---

    def write_alerts(self, alerts: Iterable[AlertLine]) -> None:
        """Append alert lifecycle events and update each alert's current state; commits at once."""
        rows = [(a.t, a.id, a.state, a.level, self._enc.encode(a)) for a in alerts]
        if not rows:
            return

        def run(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO alert_events (t, id, state, level, line) VALUES (?,?,?,?,?)", rows
            )
            c.executemany(
                "INSERT INTO alerts (id, t_first, t, state, level, line) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET t=excluded.t, state=excluded.state, "
                "level=excluded.level, line=excluded.line",
                [(i, t, t, s, lv, b) for t, i, s, lv, b in rows],
            )

        self._tx(run)

    def write_tracks(
        self,
        tracks: Iterable[TrackLine],
        detections: Iterable[Detection] = (),
        pause: Callable[[], object] | None = None,
    ) -> None:
        """Append track lines (and detections) in one transaction; ``pause`` (if
        given) is called before each chunk of ``BULK_CHUNK_ROWS`` rows."""
        trows = [
            (tl.t, tl.id, tl.status, tl.class_, tl.lat, tl.lon, tl.alt_m, self._enc.encode(tl))
            for tl in tracks
        ]
        drows = [(d.t, d.sensor, self._enc.encode(d)) for d in detections]
        if not trows and not drows:
            return

        def run(c: sqlite3.Connection) -> None:
            for sql, rows in (
                (
                    "INSERT INTO tracks (t, id, status, class, lat, lon, alt_m, line) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    trows,
                ),
                ("INSERT INTO detections (t, sensor, line) VALUES (?,?,?)", drows),
            ):
                for k in range(0, len(rows), BULK_CHUNK_ROWS):
                    if pause is not None:
                        pause()
                    c.executemany(sql, rows[k : k + BULK_CHUNK_ROWS])

        self._tx(run)

    def write_scan(self, scan: ScanOutput) -> None:
        """Alerts first (own commit), then the scan's track lines (one transaction)."""
        self.write_alerts(scan.alerts)
        self.write_tracks(scan.tracks)

    def add_detections(self, detections: Iterable[Detection]) -> None:
        """Append detections in one transaction."""
        self.write_tracks((), detections)

    def acknowledge(self, alert_id: str, by: str, alert: AlertLine | None = None) -> Ack:
        """Record that ``by`` acknowledged ``alert_id`` now; committed before returning.

        ``alert``: the alert as the operator saw it. The live map shows an alert as
        soon as the engine raises it, a moment before the store's writer commits it;
        if the store has no row for it yet, this one goes in with the acknowledgement,
        so that an acknowledged alert is never lost to a crash in that moment (the
        writer's own rows replace it when they come)."""
        ack = Ack(alert_id=alert_id, by=by, t=self.clock())

        def run(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO acks (alert_id, by, t) VALUES (?,?,?)", (ack.alert_id, ack.by, ack.t)
            )
            if alert is not None and alert.id == alert_id:
                c.execute(
                    "INSERT INTO alerts (id, t_first, t, state, level, line) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
                    (alert.id, alert.t, alert.t, alert.state, alert.level, self._enc.encode(alert)),
                )

        self._tx(run)
        return ack

    def prune(self, now_s: float | None = None) -> int:
        """Drop rows older than ``now_s - retention_s`` (open alerts, their acks and escalations stay).

        ``now_s`` defaults to the clock; pass the scan time when replaying old data.
        Returns the number of rows deleted.
        """
        if self.retention_s is None:
            return 0
        cut = (self.clock() if now_s is None else now_s) - self.retention_s

        def run(c: sqlite3.Connection) -> int:
            n = c.execute("DELETE FROM tracks WHERE t < ?", (cut,)).rowcount
            n += c.execute("DELETE FROM detections WHERE t < ?", (cut,)).rowcount
            n += c.execute("DELETE FROM alert_events WHERE t < ?", (cut,)).rowcount
            n += c.execute(
                "DELETE FROM acks WHERE alert_id IN "
                "(SELECT id FROM alerts WHERE state = 'cleared' AND t < ?)",
                (cut,),
            ).rowcount
            n += c.execute(
                "DELETE FROM escalations WHERE alert_id IN "
                "(SELECT id FROM alerts WHERE state = 'cleared' AND t < ?)",
                (cut,),
            ).rowcount
            n += c.execute("DELETE FROM alerts WHERE state = 'cleared' AND t < ?", (cut,)).rowcount
            return n

        n = self._tx(run)
        if n:
            log.info("store: pruned %d rows older than t=%.0f", n, cut)
        return n

    # --- reads ---

    def tracks_at(self, t_s: float, max_age_s: float = 30.0) -> list[TrackLine]:
        """The picture at ``t_s``: track lines of the latest stored scan in ``[t_s - max_age_s, t_s]``.

        Deleted tracks are left out.
        """
        rows = self._read(
            "SELECT line FROM tracks WHERE t = "
            "(SELECT MAX(t) FROM tracks WHERE t <= ? AND t >= ?) AND status != 'deleted' "
            "ORDER BY id",
            (t_s, t_s - max_age_s),
        )
        return [self._dec_track.decode(r[0]) for r in rows]

    def track_history(
        self, track_id: str, t0: float | None = None, t1: float | None = None
    ) -> list[TrackLine]:
        """All stored lines of one track over ``[t0, t1]`` (open ends when ``None``), in time order."""
        rows = self._read(
            "SELECT line FROM tracks WHERE id = ? AND t >= ? AND t <= ? ORDER BY t",
            (track_id, -1.0 if t0 is None else t0, 1e12 if t1 is None else t1),
        )
        return [self._dec_track.decode(r[0]) for r in rows]

    def alerts(self, open_only: bool = False) -> list[AlertLine]:
        """Current state of each alert (its latest event), newest first."""
        where = "WHERE state != 'cleared'" if open_only else ""
        rows = self._read(f"SELECT line FROM alerts {where} ORDER BY t DESC")
        return [self._dec_alert.decode(r[0]) for r in rows]

    def open_alerts(self) -> list[AlertLine]:
        """Alerts not cleared: what a restarted service must show again."""
        return self.alerts(open_only=True)

    def next_track_number(self) -> int:
        """One above the highest track number (``T<n>``) the store has seen in track
        lines or alerts: a restarted service numbers its tracks from here, so that no
        number in the record ever names two objects."""
        row = self._read(
            "SELECT MAX(CAST(SUBSTR(id, 2) AS INTEGER)) FROM tracks WHERE id GLOB 'T[0-9]*'"
        )
        top = int(row[0][0] or 0) if row else 0
        for a in self.alerts():
            n = track_number(a.track) if a.track is not None else None
            top = max(top, n or 0)
        return top + 1

    def alert_events(self, alert_id: str) -> list[AlertLine]:
        """Every lifecycle event of one alert, in time order."""
        rows = self._read("SELECT line FROM alert_events WHERE id = ? ORDER BY t, seq", (alert_id,))
        return [self._dec_alert.decode(r[0]) for r in rows]

    def acks(self) -> list[Ack]:
        """Every acknowledgement, oldest first."""
        rows = self._read("SELECT alert_id, by, t FROM acks ORDER BY seq")
        return [Ack(alert_id=a, by=b, t=t) for a, b, t in rows]

    def record_escalation(self, e: Escalation) -> None:
        """Record an escalation; committed before returning."""
        self._tx(
            lambda c: c.execute(
                "INSERT INTO escalations (alert_id, t, level, after_s, channels) VALUES (?,?,?,?,?)",
                (e.alert_id, e.t, e.level, e.after_s, e.channels),
            )
        )

    def escalations(self) -> list[Escalation]:
        """Every escalation, oldest first."""
        rows = self._read(
            "SELECT alert_id, t, level, after_s, channels FROM escalations ORDER BY seq"
        )
        return [Escalation(*r) for r in rows]

    def acknowledged_ids(self) -> set[str]:
        """Ids of alerts acknowledged at least once."""
        return {r[0] for r in self._read("SELECT DISTINCT alert_id FROM acks")}

    def range(self, t0: float, t1: float, limit: int = 500_000) -> History:
        """Track lines and alert events with ``t0 <= t <= t1``, in time order, at most ``limit`` of each."""
        trows = self._read(
            "SELECT line FROM tracks WHERE t >= ? AND t <= ? ORDER BY t, id LIMIT ?",
            (t0, t1, limit + 1),
        )
        arows = self._read(
            "SELECT line FROM alert_events WHERE t >= ? AND t <= ? ORDER BY t, seq LIMIT ?",
            (t0, t1, limit + 1),
        )
        truncated = len(trows) > limit or len(arows) > limit
        return History(
            t0=t0,
            t1=t1,
            tracks=[self._dec_track.decode(r[0]) for r in trows[:limit]],
            alerts=[self._dec_alert.decode(r[0]) for r in arows[:limit]],
            truncated=truncated,
        )

    def detections(self, t0: float, t1: float, limit: int = 500_000) -> list[Detection]:
        """Stored detections with ``t0 <= t <= t1``, in time order."""
        rows = self._read(
            "SELECT line FROM detections WHERE t >= ? AND t <= ? ORDER BY t LIMIT ?",
            (t0, t1, limit),
        )
        return [self._dec_det.decode(r[0]) for r in rows]

    def time_span(self) -> tuple[float, float] | None:
        """First and last stored track-line time, or ``None`` when there are none."""
        (row,) = self._read("SELECT MIN(t), MAX(t) FROM tracks")
        return None if row[0] is None else (float(row[0]), float(row[1]))

    # --- zones ---

    def zones(self) -> list[Zone]:
        """The stored zones, by id."""
        rows = self._read("SELECT feature FROM zones ORDER BY id")
        out = []
        for (blob,) in rows:
            z = feature_to_zone(msgspec.json.decode(blob))
            if isinstance(z, Rejected):
                log.warning("store: skipping a stored zone: %s", z.reason)
            else:
                out.append(z)
        return out

    def load_zones(self, default: list[Zone]) -> list[Zone]:
        """The site's zones: the stored ones once any were saved, else ``default`` (then stored)."""
        if self._read("SELECT value FROM meta WHERE key = 'zones_seeded'"):
            return self.zones()

        def run(c: sqlite3.Connection) -> None:
            for z in default:
                c.execute(
                    "INSERT OR REPLACE INTO zones (id, feature, t) VALUES (?,?,?)",
                    (z.id, self._enc.encode(zone_to_feature(z)), self.clock()),
                )
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('zones_seeded', '1')")

        self._tx(run)
        return list(default)

    def save_zone(self, zone: Zone) -> None:
        """Create or replace one zone."""

        def run(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT OR REPLACE INTO zones (id, feature, t) VALUES (?,?,?)",
                (zone.id, self._enc.encode(zone_to_feature(zone)), self.clock()),
            )
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('zones_seeded', '1')")

        self._tx(run)

    def delete_zone(self, zone_id: str) -> bool:
        """Delete one zone; ``False`` when there was none with that id."""
        return bool(
            self._tx(lambda c: c.execute("DELETE FROM zones WHERE id = ?", (zone_id,)).rowcount)
        )

    # --- tokens ---

    def create_token(self, role: Role, name: str) -> str:
        """Make a new API token and store its hash; the token is returned once and never kept."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._tx(
            lambda c: c.execute(
                "INSERT INTO tokens (hash, role, name, t_created) VALUES (?,?,?,?)",
                (hash_token(token), role, name, self.clock()),
            )
        )
        return token

    def verify_token(self, token: str) -> TokenInfo | None:
        """Who holds ``token``, or ``None`` when it is unknown or revoked."""
        h = hash_token(token)
        rows = self._read(
            "SELECT hash, role, name, t_created FROM tokens WHERE hash = ? AND revoked = 0", (h,)
        )
        # The lookup is by digest, so its timing tells nothing about the token;
        # the constant-time comparison guards the match itself all the same.
        if not rows or not hmac.compare_digest(rows[0][0], h):
            return None
        _, role, name, t_created = rows[0]
        return TokenInfo(name=name, role=role, t_created=t_created, hash_prefix=h[:12])

    def tokens(self) -> list[tuple[TokenInfo, bool]]:
        """Every token's holder and whether it is revoked, oldest first."""
        rows = self._read("SELECT hash, role, name, t_created, revoked FROM tokens ORDER BY rowid")
        return [
            (TokenInfo(name=n, role=r, t_created=t, hash_prefix=h[:12]), bool(rv))
            for h, r, n, t, rv in rows
        ]

    def revoke_token(self, hash_prefix: str) -> int:
        """Revoke the tokens whose hash starts with ``hash_prefix``: hex digits only,
        at least :data:`MIN_REVOKE_PREFIX` of them (compared exactly, no wildcards)."""
        prefix = hash_prefix.lower()
        if len(prefix) < MIN_REVOKE_PREFIX or not set(prefix) <= HEX_DIGITS:
            raise ValueError(
                f"give at least {MIN_REVOKE_PREFIX} hex digits (0-9, a-f) of the token id, "
                f"not {hash_prefix!r}"
            )
        return int(
            self._tx(
                lambda c: (
                    c.execute(
                        "UPDATE tokens SET revoked = 1 "
                        "WHERE substr(hash, 1, ?) = ? AND revoked = 0",
                        (len(prefix), prefix),
                    ).rowcount
                )
            )
        )
