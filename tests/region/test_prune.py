"""The region store stays bounded: site events and track mappings are forgotten by age."""

from __future__ import annotations

from pathlib import Path

from skywarden.region.config import NatsLinkConfig, RegionConfig
from skywarden.region.schema import AlertsMsg, SiteMsg, TracksMsg, encode, subject
from skywarden.region.service import RegionService

from .conftest import alert, track

T0 = 1_000_000.0


def make(tmp_path: Path, now: list[float]) -> RegionService:
    return RegionService(
        RegionConfig(
            lat=51.0, lon=-1.0, sites=["A"], store=str(tmp_path / "region.db"),
            nats=NatsLinkConfig(url="nats://127.0.0.1:1", max_age_s=3600.0),
            track_map_keep_s=600.0,
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


def test_old_events_and_stale_track_mappings_are_forgotten(tmp_path: Path) -> None:
    now = [T0]
    region = make(tmp_path, now)
    apply(
        region,
        scan(T0, "T1", "T2"),
        AlertsMsg(site="A", t=T0, alerts=[alert("a1", T0, "T1", "Z1")]),
        AlertsMsg(site="A", t=T0, alerts=[alert("a2", T0, "T2", "Z1")]),
        AlertsMsg(site="A", t=T0, alerts=[alert("a2", T0, "T2", "Z1", state="cleared")]),
    )
    rids = dict(region.picture.track_map)
    assert len(set(rids.values())) == 2
    # Ten minutes on only T3 is reported: T2's mapping goes; T1's stays while its
    # regional alert is open; nothing from the stream's retention window goes.
    now[0] = T0 + 700.0
    apply(region, scan(now[0], "T3"))
    region.fuse()
    assert region.prune() == (0, 1)
    assert set(region.store.track_map()) == {("A", "T1"), ("A", "T3")}
    given = set(rids.values()) | {region.picture.track_map[("A", "T3")]}
    assert len(given) == 3
    # Past the stream's age the site events cannot be delivered again: they go.
    now[0] = T0 + 3601.0
    apply(region, scan(now[0], "T3"))
    assert region.prune() == (3, 0)
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
    region = make(tmp_path, now)
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
        sizes.append((db.execute("SELECT count(*) FROM seen").fetchone()[0],
                      db.execute("SELECT count(*) FROM track_map").fetchone()[0]))  # fmt: skip
    # Events are kept one stream age (60 minutes: 2 per minute), mappings ten minutes
    # past their last report; without pruning both would grow with every minute.
    assert max(s for s, _ in sizes[60:]) <= 2 * 61
    assert max(m for _, m in sizes[30:]) <= 13
    assert sizes[-1][0] < 2 * 120 and sizes[-1][1] < 121
    region.store.close()
