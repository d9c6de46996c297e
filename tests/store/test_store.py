"""The SQLite store: batched writes, reads, retention, and durability across SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

from skywarden.store import Store, StoreWriter, zone_to_feature
from skywarden.threat.zones import feature_to_zone
from skywarden.types import Detection, Rejected, ScanOutput

from ..web.webhelpers import T0, alert, moving_scans, track_line, zone_a


def test_write_and_read_tracks(store):
    scans = moving_scans(10)
    for s in scans:
        store.write_scan(s)
    now = store.tracks_at(T0 + 4.5)
    assert sorted(t.id for t in now) == ["T1", "T2"]
    assert all(t.t == T0 + 4.0 for t in now)
    hist = store.track_history("T1", T0 + 2.0, T0 + 6.0)
    assert [t.t for t in hist] == [T0 + k for k in range(2, 7)]
    assert hist[0] == scans[2].tracks[0]
    assert store.tracks_at(T0 - 100.0) == []
    assert store.time_span() == (T0, T0 + 9.0)


def test_alert_lifecycle_and_acks(store):
    store.write_alerts([alert("A1", T0), alert("A2", T0 + 1.0, level="warning")])
    store.write_alerts([alert("A1", T0 + 2.0, state="updated"), alert("A2", T0 + 3.0, "cleared")])
    assert [a.id for a in store.open_alerts()] == ["A1"]
    assert store.open_alerts()[0].state == "updated"
    assert {a.id for a in store.alerts()} == {"A1", "A2"}
    assert [a.state for a in store.alert_events("A1")] == ["raised", "updated"]
    ack = store.acknowledge("A1", "otto")
    assert store.acknowledged_ids() == {"A1"}
    assert store.acks() == [ack]


def test_an_alert_acknowledged_before_its_writer_commits_it_is_kept(store):
    # The map shows an alert a moment before the store's writer has it: the
    # acknowledgement carries it in, and the writer's own rows take over later.
    seen = alert("A7", T0, level="warning")
    store.acknowledge("A7", "otto", seen)
    assert store.open_alerts() == [seen] and store.alert_events("A7") == []
    store.write_alerts([seen, alert("A7", T0 + 2.0, state="updated")])
    assert [a.state for a in store.alert_events("A7")] == ["raised", "updated"]
    assert store.open_alerts()[0].t == T0 + 2.0
    # One the store has already is left as it is.
    store.acknowledge("A7", "ida", alert("A7", T0 + 0.5, level="critical"))
    assert store.open_alerts()[0].t == T0 + 2.0 and store.acknowledged_ids() == {"A7"}


def test_range_is_time_ordered_and_limited(store):
    for s in moving_scans(20):
        store.write_scan(s)
    store.write_alerts([alert("A1", T0 + 5.0)])
    h = store.range(T0 + 3.0, T0 + 7.0)
    assert len(h.tracks) == 10 and not h.truncated
    assert [t.t for t in h.tracks] == sorted(t.t for t in h.tracks)
    assert [a.id for a in h.alerts] == ["A1"]
    assert store.range(T0, T0 + 19.0, limit=7).truncated


def test_retention_prune_keeps_open_alerts(tmp_path):
    s = Store(tmp_path / "r.db", retention_s=10.0)
    for scan in moving_scans(30):
        s.write_scan(scan)
    s.add_detections([Detection(t=T0 + k, sensor="radar1", range_m=100.0) for k in range(30)])
    s.write_alerts([alert("OLD_OPEN", T0 + 1.0)])
    s.write_alerts([alert("OLD_DONE", T0 + 1.0), alert("OLD_DONE", T0 + 2.0, "cleared")])
    s.acknowledge("OLD_DONE", "otto")
    n = s.prune(now_s=T0 + 29.0)
    assert n > 0
    h = s.range(0.0, T0 + 100.0)
    assert min(t.t for t in h.tracks) >= T0 + 19.0
    assert min(d.t for d in s.detections(0.0, T0 + 100.0)) >= T0 + 19.0
    assert [a.id for a in s.open_alerts()] == ["OLD_OPEN"]
    assert "OLD_DONE" not in {a.id for a in s.alerts()}
    assert s.acknowledged_ids() == set()
    s.close()


def test_store_writer_batches_and_keeps_alerts(store):
    async def run():
        w = StoreWriter(store, max_pending_tracks=4)
        scans = moving_scans(6)
        # No consumer yet: beyond 4 pending track lines the oldest drop; alerts never.
        for k, s in enumerate(scans):
            alerts = (alert(f"A{k}", s.t_s),) if k in (0, 1) else ()
            w.offer(ScanOutput(t_s=s.t_s, tracks=s.tracks, alerts=alerts))
        w.add_detections([Detection(t=T0, sensor="radar1", range_m=50.0)])
        assert w.dropped_tracks == 8 and w.dropped == 0
        task = asyncio.create_task(w.run())
        await w.queue.join()
        task.cancel()
        await w.aclose()
        return w

    w = asyncio.run(run())
    assert w.handled == 1  # one write took everything pending
    assert {a.id for a in store.open_alerts()} == {"A0", "A1"}
    # The track lines that survived the drop are the newest.
    assert sorted({t.t for t in store.range(0, T0 + 100).tracks}) == [T0 + 4.0, T0 + 5.0]
    assert len(store.detections(0.0, T0 + 1.0)) == 1


def test_store_writer_pauses_before_each_chunk_of_rows_but_never_before_alerts(store):
    from skywarden.store.db import BULK_CHUNK_ROWS

    n_tracks, n_dets = 2 * BULK_CHUNK_ROWS + 1, BULK_CHUNK_ROWS
    lines = [track_line(f"T{k}", T0, 10.0 * k, 0.0) for k in range(n_tracks)]
    dets = [Detection(t=T0, sensor="radar1", range_m=50.0 + k) for k in range(n_dets)]
    seen: list[tuple[int, int]] = []

    def pause():
        # What is in the store when the writer pauses: the alert is already committed.
        seen.append((len(store.open_alerts()), len(store.tracks_at(T0))))

    async def run():
        w = StoreWriter(store)
        w.pause = pause
        w.offer(ScanOutput(t_s=T0, tracks=tuple(lines), alerts=(alert("A1", T0),)))
        w.add_detections(dets)
        task = asyncio.create_task(w.run())
        await w.queue.join()
        task.cancel()
        await w.aclose()

    asyncio.run(run())
    assert len(seen) == 3 + 1  # three chunks of track lines, one of detections
    assert all(a == 1 for a, _ in seen)
    assert all(t == 0 for _, t in seen)  # rows land in one transaction, at the end
    assert len(store.tracks_at(T0)) == n_tracks
    assert len(store.detections(0.0, T0 + 1.0)) == n_dets


def test_store_writer_stops_pausing_when_a_write_has_waited_its_budget(store):
    from skywarden.store.db import BULK_CHUNK_ROWS

    lines = [track_line(f"T{k}", T0, 10.0 * k, 0.0) for k in range(6 * BULK_CHUNK_ROWS)]
    calls = []

    def pause():  # an engine that is never idle
        calls.append(1)
        time.sleep(0.05)

    async def run():
        w = StoreWriter(store)
        w.pause, w.pause_budget_s = pause, 0.12
        w.offer(ScanOutput(t_s=T0, tracks=tuple(lines), alerts=()))
        task = asyncio.create_task(w.run())
        await w.queue.join()
        task.cancel()
        await w.aclose()

    asyncio.run(run())
    assert len(calls) == 3  # 0.05 + 0.05 < 0.12 <= 0.15: the rest are written at once
    assert len(store.tracks_at(T0)) == len(lines)


def test_zone_feature_round_trip_and_rejections(store):
    z = zone_a()
    f = zone_to_feature(z)
    assert f["geometry"]["coordinates"][0][0] == f["geometry"]["coordinates"][0][-1]
    assert feature_to_zone(f) == z
    bad = {**f, "properties": {**f["properties"], "ceiling_m": -5.0}}
    assert isinstance(feature_to_zone(bad), Rejected)
    bowtie = {
        **f,
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
    }
    assert isinstance(feature_to_zone(bowtie), Rejected)
    assert isinstance(feature_to_zone({"type": "Point"}), Rejected)
    assert store.load_zones([z]) == [z]
    store.delete_zone("ZA")
    # Once seeded, the stored set wins over the config default, even when empty.
    assert store.load_zones([z]) == []


def test_tokens_hashed_and_revocable(store):
    tok = store.create_token("operator", "otto")
    raw = store._r.execute("SELECT hash FROM tokens").fetchall()
    assert tok not in repr(raw)
    info = store.verify_token(tok)
    assert info is not None and info.role == "operator" and info.name == "otto"
    assert store.verify_token(tok + "x") is None
    assert store.revoke_token(info.hash_prefix) == 1
    assert store.verify_token(tok) is None


_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from webhelpers import alert, moving_scans
    from skywarden.store import Store
    s = Store({db!r})
    for k, scan in enumerate(moving_scans(50)):
        s.write_scan(scan)
        s.write_alerts([alert(f"A{{k}}", scan.t_s)])
        if k % 2 == 0:
            s.acknowledge(f"A{{k}}", "otto")
        print(k, flush=True)
    # Hold the connections open, mid-life, until killed.
    time.sleep(60)
    """
)


def test_committed_alerts_and_acks_survive_sigkill(tmp_path):
    db = tmp_path / "kill.db"
    tests_dir = os.path.join(os.path.dirname(os.path.dirname(__file__)), "web")  # webhelpers
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(tests=tests_dir, db=str(db))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        last = -1
        for line in proc.stdout:  # the child prints k after each commit
            last = int(line)
            if last == 49:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert last == 49
    s = Store(db)
    assert {a.id for a in s.open_alerts()} == {f"A{k}" for k in range(50)}
    assert s.acknowledged_ids() == {f"A{k}" for k in range(0, 50, 2)}
    assert len(s.track_history("T1")) == 50
    assert s.tracks_at(T0 + 49.0)[0] == track_line("T1", T0 + 49.0, -1010.0, 0.0)
    s.close()
