"""The region store stays bounded: site events and track mappings are forgotten by age."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from skywarden.region import service
from skywarden.region.config import NatsLinkConfig, RegionConfig
from skywarden.region.schema import AlertsMsg, SiteMsg, TracksMsg, encode, subject
from skywarden.region.service import RegionService

from .conftest import alert, track

T0 = 1_000_000.0


def make(tmp_path: Path, now: list[float], **kw: float) -> RegionService:
    return RegionService(
        RegionConfig(
            lat=51.0, lon=-1.0, sites=["A"], store=str(tmp_path / "region.db"),
            nats=NatsLinkConfig(url="nats://127.0.0.1:1", max_age_s=3600.0),
            track_map_keep_s=600.0, **kw,
        ),
        clock=lambda: now[0],
    )  # fmt: skip


def apply(region: RegionService, *msgs: SiteMsg) -> None:
    """Apply site messages as the consumer does: one transaction, then commit."""
    region.store.begin()
    for m in msgs:
        region.process("A", subject("A", str(m.__struct_config__.tag)), encode(m))
    region.commit()


def scan(t: float, *tids: str) -> TracksMsg:
    # Tracks 2 km apart by number: each is its own regional track.
    tracks = [track(tid, t, 51.0 + 0.02 * (int(tid[1:]) % 50), -1.0) for tid in tids]
    return TracksMsg(site="A", t=t, lat=51.0, lon=-1.0, alt_m=0.0, vel_std_mps=2.0, tracks=tracks)


def one_open_one_cleared(region: RegionService) -> None:
    """Two tracks of site A at T0, each alerted for Z1: a1 stays open, a2 is cleared."""
    apply(
        region,
        scan(T0, "T1", "T2"),
        AlertsMsg(site="A", t=T0, alerts=[alert("a1", T0, "T1", "Z1")]),
        AlertsMsg(site="A", t=T0, alerts=[alert("a2", T0, "T2", "Z1")]),
        AlertsMsg(site="A", t=T0, alerts=[alert("a2", T0, "T2", "Z1", state="cleared")]),
    )


def test_old_events_and_stale_track_mappings_are_forgotten(tmp_path: Path) -> None:
    now = [T0]
    region = make(tmp_path, now)
    one_open_one_cleared(region)
    rids = dict(region.picture.track_map)
    assert len(set(rids.values())) == 2
    # Ten minutes on only T3 is reported: T2's mapping goes; T1's stays while its
    # regional alert is open; nothing from the stream's retention window goes.
    now[0] = T0 + 700.0
    apply(region, scan(now[0], "T3"))
    region.fuse()
    assert region.prune() == (0, 1, 0)
    assert set(region.store.track_map()) == {("A", "T1"), ("A", "T3")}
    given = set(rids.values()) | {region.picture.track_map[("A", "T3")]}
    assert len(given) == 3
    # Past the stream's age the site events cannot be delivered again: they go.
    now[0] = T0 + 3601.0
    apply(region, scan(now[0], "T3"))
    assert region.prune() == (3, 0, 0)
    assert region.store.db.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    region.store.close()

    # After a restart no regional id is given twice, though the map forgot T2's.
    again = make(tmp_path, now)
    assert set(again.picture.track_map) == {("A", "T1"), ("A", "T3")}
    assert again.picture.rid_of("A", "T2") == max(given) + 1
    again.store.close()


def test_the_store_stays_bounded_under_a_long_stream(tmp_path: Path) -> None:
    """Two hours of a site whose tracks live two minutes each, an alert per track."""
    now = [T0]
    region = make(tmp_path, now, event_retention_s=1800.0)
    sizes = []
    for minute in range(120):
        now[0] = T0 + 60.0 * minute
        tids = [f"T{minute}", f"T{minute + 1}"]
        apply(
            region,
            scan(now[0], *tids),
            AlertsMsg(site="A", t=now[0], alerts=[alert(f"a{minute}", now[0], tids[0], "Z1")]),
            AlertsMsg(site="A", t=now[0] + 30, alerts=[
                alert(f"a{minute}", now[0] + 30, tids[0], "Z1", state="cleared")
            ]),
        )  # fmt: skip
        region.fuse()
        region.prune()
        db = region.store.db
        sizes.append(tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("seen", "track_map", "revent", "ralert")
        ))  # fmt: skip
    # Site events are kept one stream age (60 minutes: 2 per minute), mappings ten
    # minutes past their last report, regional events 30 minutes (2 per minute) and the
    # regional alerts as long as any of their events; without pruning all would grow
    # with every minute.
    assert max(s[0] for s in sizes[60:]) <= 2 * 61
    assert max(s[1] for s in sizes[30:]) <= 13
    assert max(s[2] for s in sizes[30:]) <= 2 * 31
    assert max(s[3] for s in sizes[30:]) <= 31
    assert sizes[-1][0] < 2 * 120 and sizes[-1][1] < 121
    assert sizes[-1][2] < 2 * 120 and sizes[-1][3] < 120
    assert region.book.n == 120
    region.store.close()


def test_regional_events_go_after_their_retention_but_not_those_of_an_open_alert(
    tmp_path: Path,
) -> None:
    now = [T0]
    region = make(tmp_path, now, event_retention_s=1800.0)
    one_open_one_cleared(region)
    now[0] = T0 + 1000.0
    apply(
        region,
        scan(now[0], "T1", "T2"),
        AlertsMsg(site="A", t=now[0], alerts=[alert("a3", now[0], "T2", "Z2")]),
        AlertsMsg(site="A", t=now[0], alerts=[alert("a3", now[0], "T2", "Z2", state="cleared")]),
    )
    assert [(e.id, e.state) for e in region.store.events()] == [
        ("R-1", "raised"), ("R-2", "raised"), ("R-2", "cleared"),
        ("R-3", "raised"), ("R-3", "cleared"),
    ]  # fmt: skip
    # Past the retention of the first events: the closed R-2 goes, with its alert row;
    # R-1 is still open and keeps its event; R-3's are younger than the retention.
    now[0] = T0 + 1801.0
    assert region.prune()[2] == 2
    assert [(e.id, e.state) for e in region.store.events()] == [
        ("R-1", "raised"), ("R-3", "raised"), ("R-3", "cleared"),
    ]  # fmt: skip
    ids = {r for (r,) in region.store.db.execute("SELECT id FROM ralert")}
    assert ids == {"R-1", "R-3"}
    region.store.close()

    # After a restart R-1 is still open, a new alert does not reuse a pruned alert's
    # number, and once closed and old R-1's events go too.
    again = make(tmp_path, now, event_retention_s=1800.0)
    assert set(again.book.open.values()) == {"R-1"}
    assert [a.id for a in again.map.live.alerts.values()] == ["R-1"]
    apply(
        again,
        scan(now[0], "T1"),
        AlertsMsg(site="A", t=now[0], alerts=[alert("a4", now[0], "T1", "Z2")]),
        AlertsMsg(site="A", t=now[0], alerts=[alert("a1", now[0], "T1", "Z1", state="cleared")]),
    )
    assert [(e.id, e.state) for e in again.store.events()][-2:] == [
        ("R-4", "raised"), ("R-1", "cleared"),
    ]  # fmt: skip
    now[0] = T0 + 1801.0 + 1801.0
    assert again.prune()[2] == 4
    assert [(e.id, e.state) for e in again.store.events()] == [("R-4", "raised")]
    assert set(again.book.open.values()) == {"R-4"}
    again.store.close()


def test_the_history_read_decodes_only_the_last_events(tmp_path: Path) -> None:
    now = [T0]
    region = make(tmp_path, now)
    # An undecodable first row: a read that decoded the whole history would fail on it.
    region.store.db.execute("INSERT INTO revent (data, aid, at) VALUES (?, ?, ?)",
                            (b"not json", "R-0", T0))  # fmt: skip
    for i in range(7):
        apply(region, AlertsMsg(site="A", t=T0 + i, alerts=[alert(f"a{i}", T0 + i, "T1", "Z1")]),
              AlertsMsg(site="A", t=T0 + i, alerts=[
                  alert(f"a{i}", T0 + i, "T1", "Z1", state="cleared")]))  # fmt: skip
    assert [(e.id, e.state) for e in region.store.events(3)] == [
        ("R-6", "cleared"), ("R-7", "raised"), ("R-7", "cleared"),
    ]  # fmt: skip
    assert len(region.store.events(14)) == 14
    with pytest.raises(msgspec.DecodeError):
        region.store.events(15)
    region.store.close()


def test_the_regional_alerts_api_gives_at_most_the_last_n_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "EVENTS_SHOWN", 5)
    now = [T0]
    region = make(tmp_path, now)
    for i in range(4):
        apply(region, AlertsMsg(site="A", t=T0 + i, alerts=[alert(f"a{i}", T0 + i, "T1", "Z1")]),
              AlertsMsg(site="A", t=T0 + i, alerts=[
                  alert(f"a{i}", T0 + i, "T1", "Z1", state="cleared")]))  # fmt: skip
    apply(region, AlertsMsg(site="A", t=T0 + 9, alerts=[alert("a9", T0 + 9, "T1", "Z1")]))
    token = region.map.store.create_token("viewer", "v")

    async def get() -> dict[str, object]:
        transport = httpx.ASGITransport(app=region.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            r = await c.get("/api/region/alerts", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
            return dict(r.json())

    body = asyncio.run(get())
    assert body["open"] == ["R-5"]
    events = body["events"]
    assert isinstance(events, list)
    assert [(e["id"], e["state"]) for e in events] == [
        ("R-3", "raised"), ("R-3", "cleared"), ("R-4", "raised"), ("R-4", "cleared"),
        ("R-5", "raised"),
    ]  # fmt: skip


def test_a_store_from_before_the_history_was_pruned_is_brought_up_to_date(
    tmp_path: Path,
) -> None:
    """Its events get their alert ids and count as written at the upgrade."""
    db = sqlite3.connect(str(tmp_path / "region.db"))
    db.executescript(
        """
        CREATE TABLE revent (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB);
        CREATE TABLE ralert (id TEXT PRIMARY KEY, rid INTEGER, zone TEXT,
            open INTEGER, level TEXT, contributors TEXT);
        """
    )
    old = [alert("R-1", T0, "R1", "Z1"), alert("R-1", T0 + 5, "R1", "Z1", state="cleared")]
    db.executemany("INSERT INTO revent (data) VALUES (?)", [(msgspec.json.encode(e),) for e in old])
    db.execute("INSERT INTO ralert VALUES ('R-1', 1, 'Z1', 0, 'warning', '{}')")
    db.commit()
    db.close()
    now = [time.time()]
    region = make(tmp_path, now, event_retention_s=1800.0)
    rows = region.store.db.execute("SELECT aid, at FROM revent ORDER BY seq").fetchall()
    assert [aid for aid, _ in rows] == ["R-1", "R-1"]
    assert all(abs(at - now[0]) < 60.0 for _, at in rows)
    assert region.book.n == 1
    assert region.prune()[2] == 0
    now[0] += 1801.0
    assert region.prune()[2] == 2
    assert region.store.db.execute("SELECT count(*) FROM ralert").fetchone()[0] == 0
    assert region.book.n == 1
    region.store.close()
    # Its one alert row is gone, yet the next alert after a restart is R-2.
    again = make(tmp_path, now)
    apply(again, AlertsMsg(site="A", t=T0 + 9, alerts=[alert("a9", T0 + 9, "T1", "Z1")]))
    assert [e.id for e in again.store.events()] == ["R-2"]
    again.store.close()
