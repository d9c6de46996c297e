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
import time
from pathlib import Path

import msgspec

from ..types import AlertLine

__all__ = ["EVENTS_SHOWN", "AlertBook", "RegionStore"]

#: Regional events the history read gives by default (``/api/region/alerts``).
EVENTS_SHOWN = 500

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
                seen_at REAL, PRIMARY KEY (site, alert, state, t));
            CREATE TABLE IF NOT EXISTS ralert (id TEXT PRIMARY KEY, rid INTEGER, zone TEXT,
                open INTEGER, level TEXT, contributors TEXT);
            CREATE TABLE IF NOT EXISTS revent (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                data BLOB, aid TEXT, at REAL);
            CREATE TABLE IF NOT EXISTS track_map (site TEXT, track TEXT, rid INTEGER,
                PRIMARY KEY (site, track));
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL);
            """
        )
        if "seen_at" not in {row[1] for row in self.db.execute("PRAGMA table_info(seen)")}:
            # A store from before pruning: its rows count as seen now, so they are kept
            # for a whole stream age from here.
            self.db.execute("ALTER TABLE seen ADD COLUMN seen_at REAL")
            self.db.execute("UPDATE seen SET seen_at = ?", (time.time(),))
        if "at" not in {row[1] for row in self.db.execute("PRAGMA table_info(revent)")}:
            self._add_event_columns()
        # Closed alerts' rows are pruned, so the count of alerts ever raised is kept apart
        # (a store from before counts its rows).
        self.db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('alerts', (SELECT count(*) FROM ralert))"
        )
        self.db.executescript(
            """
            CREATE INDEX IF NOT EXISTS revent_at ON revent (at);
            CREATE INDEX IF NOT EXISTS revent_aid ON revent (aid, seq);
            """
        )

    def _add_event_columns(self) -> None:
        """A store from before the history was pruned: each event gets its alert id (read
        once from its JSON) and counts as written now, so it is kept a retention from here."""
        dec = msgspec.json.Decoder(AlertLine)
        self.begin()
        self.db.execute("ALTER TABLE revent ADD COLUMN aid TEXT")
        self.db.execute("ALTER TABLE revent ADD COLUMN at REAL")
        rows = [(dec.decode(d).id, time.time(), seq)
                for seq, d in self.db.execute("SELECT seq, data FROM revent")]  # fmt: skip
        self.db.executemany("UPDATE revent SET aid = ?, at = ? WHERE seq = ?", rows)
        self.commit()

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
        top = max((r for _, r in rows), default=0)
        self.db.execute(
            "INSERT INTO meta VALUES ('max_rid', ?) ON CONFLICT (key)"
            " DO UPDATE SET value = max(value, excluded.value)",
            (top,),
        )

    def max_rid(self) -> int:
        """The largest regional id ever given (the map is pruned; ids are never reused)."""
        row = self.db.execute(
            "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'max_rid'), 0),"
            " coalesce((SELECT max(rid) FROM track_map), 0),"
            " coalesce((SELECT max(rid) FROM ralert), 0))"
        ).fetchone()
        return int(row[0])

    def prune(
        self, seen_before: float, keys: list[tuple[str, str]], events_before: float
    ) -> tuple[int, int]:
        """Forget site events applied before ``seen_before``, the given track mappings, and
        the regional events written before ``events_before`` with the closed alerts they
        leave without any (an open alert keeps its events); how many seen rows and regional
        events went."""
        n = self.db.execute("DELETE FROM seen WHERE seen_at < ?", (seen_before,)).rowcount
        self.db.executemany("DELETE FROM track_map WHERE site = ? AND track = ?", keys)
        gone = self.db.execute(
            "DELETE FROM revent WHERE at < ? AND aid NOT IN (SELECT id FROM ralert WHERE open = 1)",
            (events_before,),
        ).rowcount
        if gone:
            self.db.execute(
                "DELETE FROM ralert WHERE open = 0"
                " AND id NOT IN (SELECT aid FROM revent WHERE aid IS NOT NULL)"
            )
        return int(n), int(gone)

    def add_event(self, e: AlertLine, now: float) -> None:
        """Record one regional event, written at ``now`` (the region's clock)."""
        self.db.execute(
            "INSERT INTO revent (data, aid, at) VALUES (?, ?, ?)",
            (msgspec.json.encode(e), e.id, now),
        )

    def events(self, last: int = EVENTS_SHOWN) -> list[AlertLine]:
        """The last ``last`` regional events kept, oldest first (only those are decoded)."""
        dec = msgspec.json.Decoder(AlertLine)
        rows = self.db.execute("SELECT data FROM revent ORDER BY seq DESC LIMIT ?", (last,))
        return [dec.decode(d) for (d,) in rows][::-1]

    def latest_events(self) -> list[AlertLine]:
        """Each kept regional alert's latest event, in the order they were written."""
        dec = msgspec.json.Decoder(AlertLine)
        rows = self.db.execute(
            "SELECT data FROM revent WHERE seq IN (SELECT max(seq) FROM revent GROUP BY aid)"
            " ORDER BY seq"
        )
        return [dec.decode(d) for (d,) in rows]

    def alert_count(self) -> int:
        """How many regional alerts were ever raised (closed ones are pruned; ids never reused)."""
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'alerts'").fetchone()[0])

    def set_alert_count(self, n: int) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES ('alerts', ?) ON CONFLICT (key)"
            " DO UPDATE SET value = max(value, excluded.value)",
            (n,),
        )

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
        #: The open ones' (rid, zone), and the open one each site alert (``site/id``) joined.
        self.key_of: dict[str, tuple[int, str]] = {}
        self.joined: dict[str, str] = {}
        self.contributors: dict[str, dict[str, str]] = {}
        self.level: dict[str, str] = {}
        for aid, rid, zone, level, contrib in db.execute(
            "SELECT id, rid, zone, level, contributors FROM ralert WHERE open = 1"
        ):
            self.open[(int(rid), zone)] = aid
            self.key_of[aid] = (int(rid), zone)
            self.contributors[aid] = msgspec.json.decode(contrib)
            self.joined.update(dict.fromkeys(self.contributors[aid], aid))
            self.level[aid] = level
        self.n = store.alert_count()

    def apply(self, site: str, a: AlertLine, rid: int | None, now: float) -> list[AlertLine]:
        """One site alert event -> the regional events it causes (none if seen before).
        ``now`` (the region's clock) dates the idempotence record for pruning."""
        if a.kind == "sensor" or a.zone is None or rid is None:
            self.site_sensor_alerts += a.kind == "sensor"
            return []
        db = self.store.db
        cur = db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", (site, a.id, a.state, a.t, now)
        )
        if cur.rowcount == 0:
            self.duplicates += 1
            return []
        contributor = f"{site}/{a.id}"
        # A site alert stays with the regional alert it joined when the site moves it to
        # another of its tracks (its tracker re-acquired the drone under a new id): else
        # one drone would get a second regional alert and the first would never clear.
        aid = self.joined.get(contributor)
        if aid is not None and self.key_of[aid][1] == a.zone:
            key = self.key_of[aid]
            rid = key[0]
        else:
            key = (rid, a.zone)
            aid = self.open.get(key)
        out: list[AlertLine] = []
        if a.state == "cleared":
            if aid is None or contributor not in self.contributors[aid]:
                return []
            del self.contributors[aid][contributor]
            del self.joined[contributor]
            if not self.contributors[aid]:
                out.append(self._event(a, aid, rid, "cleared", self.level[aid]))
                del self.open[key]
                del self.key_of[aid]
        elif aid is None:
            self.n += 1
            self.store.set_alert_count(self.n)
            aid = f"{self.region}-{self.n}"
            self.open[key] = aid
            self.key_of[aid] = key
            self.joined[contributor] = aid
            self.contributors[aid] = {contributor: a.level}
            self.level[aid] = a.level
            out.append(self._event(a, aid, rid, "raised", a.level))
        else:
            self.joined[contributor] = aid
            self.contributors[aid][contributor] = a.level
            if _LEVELS[a.level] > _LEVELS[self.level[aid]]:
                self.level[aid] = a.level
                out.append(self._event(a, aid, rid, "updated", a.level))
        if aid is not None:
            db.execute(
                "INSERT OR REPLACE INTO ralert VALUES (?, ?, ?, ?, ?, ?)",
                (aid, rid, key[1], int(key in self.open), self.level[aid],
                 msgspec.json.encode(self.contributors[aid])),
            )  # fmt: skip
        for e in out:
            self.store.add_event(e, now)
        return out

    def _event(self, a: AlertLine, aid: str, rid: int, state: str, level: str) -> AlertLine:
        sites = sorted({c.split("/", 1)[0] for c in self.contributors.get(aid, {})})
        return msgspec.structs.replace(
            a, id=aid, state=state, level=level, kind="threat", track=f"{self.region}{rid}",
            reason=f"sites: {', '.join(sites)}" if sites else a.reason,
        )  # fmt: skip
