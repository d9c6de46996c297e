"""A site's on-disk outbox: messages wait here until JetStream acknowledges them.

Bounded by a number of messages. Past the bound the oldest *droppable* messages
(track scans, sensor lists, zones) go first: a newer picture supersedes them.
Alert messages are never dropped, so the outbox can exceed its bound only by
alerts, and those are bounded by the number of alerts.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

__all__ = ["Outbox"]

#: Kinds that a newer message of the same kind supersedes.
DROPPABLE = ("tracks", "sensors", "zones")


class Outbox:
    def __init__(self, path: str | Path, max_messages: int) -> None:
        self.max_messages = max_messages
        self.dropped = 0
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # AUTOINCREMENT: a row id is never reused, so (epoch, id) names one message for ever
        # and JetStream's duplicate window can drop a message sent twice across a lost ack.
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " kind TEXT NOT NULL, subject TEXT NOT NULL, data BLOB NOT NULL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self.db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        if row is None:
            self.epoch = secrets.token_hex(6)
            self.db.execute("INSERT INTO meta VALUES ('epoch', ?)", (self.epoch,))
        else:
            self.epoch = str(row[0])
        self._n = int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def put(self, kind: str, subject: str, data: bytes) -> None:
        self.db.execute(
            "INSERT INTO outbox (kind, subject, data) VALUES (?, ?, ?)", (kind, subject, data)
        )
        self._n += 1
        excess = self._n - self.max_messages
        if excess > 0:
            marks = ",".join("?" * len(DROPPABLE))
            cur = self.db.execute(
                f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind IN ({marks})"
                " ORDER BY id LIMIT ?)",
                (*DROPPABLE, excess),
            )
            self._n -= cur.rowcount
            self.dropped += cur.rowcount

    def peek(self, n: int) -> list[tuple[int, str, bytes]]:
        """The ``n`` oldest messages: (id, subject, data)."""
        return [
            (int(i), str(s), bytes(d))
            for i, s, d in self.db.execute(
                "SELECT id, subject, data FROM outbox ORDER BY id LIMIT ?", (n,)
            )
        ]

    def done(self, ids: list[int]) -> None:
        if ids:
            cur = self.db.execute(
                f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(ids))})", ids
            )
            self._n -= cur.rowcount

    def msg_id(self, row_id: int) -> str:
        return f"{self.epoch}-{row_id}"

    def __len__(self) -> int:
        return self._n

    def close(self) -> None:
        self.db.close()
