"""Regional alerts: one per (regional track, zone), whichever sites alert on it.

A site's threat alert names its own track and zone; the region maps the track
to its regional id, so two sites alerting on one drone entering one zone give
one regional alert (sites that share a zone give it the same zone id). The
regional alert stays open while any site's alert on it is open, and is cleared
when the last one clears. Every site event is applied once: the book remembers
(site, alert id, state, time) in SQLite, in the same transaction as its own
state, so a restart that replays the stream repeats nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from ..types import AlertLine

__all__ = ["AlertBook", "RegionStore"]

_LEVELS = {"info": 0, "warning": 1, "critical": 2}


class RegionStore:
    """The region's SQLite: site events seen, regional alerts, the site -> regional track map."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # Commits survive a killed process without an fsync each (WAL); a power cut may
        # lose the last moments, a trade for not stalling the consumers on the disk.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS seen (site TEXT, alert TEXT, state TEXT, t REAL,
                PRIMARY KEY (site, alert, state, t));
            CREATE TABLE IF NOT EXISTS ralert (id TEXT PRIMARY KEY, rid INTEGER, zone TEXT,
                open INTEGER, level TEXT, contributors TEXT);
            CREATE TABLE IF NOT EXISTS revent (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                data BLOB);
            CREATE TABLE IF NOT EXISTS track_map (site TEXT, track TEXT, rid INTEGER,
                PRIMARY KEY (site, track));
            """
        )

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def track_map(self) -> dict[tuple[str, str], int]:
        return {(s, t): int(r) for s, t, r in self.db.execute("SELECT * FROM track_map")}

    def save_mappings(self, rows: list[tuple[tuple[str, str], int]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO track_map VALUES (?, ?, ?)", [(s, t, r) for (s, t), r in rows]
        )

    def events(self) -> list[AlertLine]:
        """Every regional alert event ever emitted, in order."""
        dec = msgspec.json.Decoder(AlertLine)
        return [dec.decode(d) for (d,) in self.db.execute("SELECT data FROM revent ORDER BY seq")]

    def close(self) -> None:
        self.db.close()


class AlertBook:
    def __init__(self, store: RegionStore, region: str = "R") -> None:
        self.store = store
        self.region = region
        self.duplicates = 0
        self.site_sensor_alerts = 0
        db = store.db
        #: (rid, zone) -> regional alert id, for the open ones.
        self.open: dict[tuple[int, str], str] = {}
        self.contributors: dict[str, dict[str, str]] = {}
        self.level: dict[str, str] = {}
        for aid, rid, zone, level, contrib in db.execute(
            "SELECT id, rid, zone, level, contributors FROM ralert WHERE open = 1"
        ):
            self.open[(int(rid), zone)] = aid
            self.contributors[aid] = msgspec.json.decode(contrib)
            self.level[aid] = level
        self.n = int(db.execute("SELECT count(*) FROM ralert").fetchone()[0])

    def apply(self, site: str, a: AlertLine, rid: int | None) -> list[AlertLine]:
        """One site alert event -> the regional events it causes (none if seen before)."""
        if a.kind == "sensor" or a.zone is None or rid is None:
            self.site_sensor_alerts += a.kind == "sensor"
            return []
        db = self.store.db
        cur = db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", (site, a.id, a.state, a.t)
        )
        if cur.rowcount == 0:
            self.duplicates += 1
            return []
        key = (rid, a.zone)
        aid = self.open.get(key)
        contributor = f"{site}/{a.id}"
        out: list[AlertLine] = []
        if a.state == "cleared":
            if aid is None or contributor not in self.contributors[aid]:
                return []
            del self.contributors[aid][contributor]
            if not self.contributors[aid]:
                out.append(self._event(a, aid, rid, "cleared", self.level[aid]))
                del self.open[key]
        elif aid is None:
            self.n += 1
            aid = f"{self.region}-{self.n}"
            self.open[key] = aid
            self.contributors[aid] = {contributor: a.level}
            self.level[aid] = a.level
            out.append(self._event(a, aid, rid, "raised", a.level))
        else:
            self.contributors[aid][contributor] = a.level
            if _LEVELS[a.level] > _LEVELS[self.level[aid]]:
                self.level[aid] = a.level
                out.append(self._event(a, aid, rid, "updated", a.level))
        if aid is not None:
            db.execute(
                "INSERT OR REPLACE INTO ralert VALUES (?, ?, ?, ?, ?, ?)",
                (aid, rid, a.zone, int(key in self.open), self.level[aid],
                 msgspec.json.encode(self.contributors[aid])),
            )  # fmt: skip
        for e in out:
            db.execute("INSERT INTO revent (data) VALUES (?)", (msgspec.json.encode(e),))
        return out

    def _event(self, a: AlertLine, aid: str, rid: int, state: str, level: str) -> AlertLine:
        sites = sorted({c.split("/", 1)[0] for c in self.contributors.get(aid, {})})
        return msgspec.structs.replace(
            a, id=aid, state=state, level=level, kind="threat", track=f"{self.region}{rid}",
            reason=f"sites: {', '.join(sites)}" if sites else a.reason,
        )  # fmt: skip
