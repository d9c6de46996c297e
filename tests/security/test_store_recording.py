"""Recording never stops silently: another process locking the store (the 8 s lock
that killed the writer on 06ae315) raises a "recording stopped" alert, loses nothing
within the stated bound, and the writer resumes by itself."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from starlette.testclient import TestClient

from skywarden.config import SiteConfig, SourcesConfig, StoreConfig
from skywarden.service import Service
from skywarden.store import Store, StoreWriter
from skywarden.types import AlertLine, ScanOutput, SinkState, Site
from tests.web.webhelpers import T0, alert, bearer, moving_scans, web_site


def _lock(db) -> sqlite3.Connection:
    """Another process's write lock on the store, held until ROLLBACK."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    return con


async def _until(pred, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not pred():
            await asyncio.sleep(0.02)


def test_writer_retries_through_a_lock_and_loses_nothing(tmp_path):
    db = tmp_path / "site.db"
    store = Store(db, busy_timeout_s=0.05)
    scans = moving_scans(10)

    async def main():
        w = StoreWriter(store, retry_initial_s=0.01, retry_max_s=0.05)
        task = asyncio.create_task(w.run())
        locker = _lock(db)
        w.offer(ScanOutput(t_s=T0, tracks=scans[0].tracks, alerts=(alert("A1", T0),)))
        await _until(lambda: not w.recording)
        assert w.health().state is SinkState.FAILING
        assert "recording stopped" in w.health().last_error
        assert "locked" in w.health().last_error
        for k, s in enumerate(scans[1:], start=1):
            alerts = (alert("A1", s.t_s, state="updated"),) if k == 5 else ()
            w.offer(ScanOutput(t_s=s.t_s, tracks=s.tracks, alerts=alerts))
        await asyncio.sleep(0.3)  # several failed retries while locked
        assert w.write_failures >= 2 and not w.recording
        assert store.range(0, T0 + 100).tracks == []  # nothing reached the disk yet
        locker.execute("ROLLBACK")
        locker.close()
        await _until(lambda: w.recording and w.pending == 0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return w

    w = asyncio.run(main())
    h = store.range(0, T0 + 100)
    assert [(t.t, t.id) for t in h.tracks] == [(t.t, t.id) for s in scans for t in s.tracks]
    assert [(a.id, a.state) for a in h.alerts] == [("A1", "raised"), ("A1", "updated")]
    assert w.dropped_tracks == 0 and w.health().state is SinkState.OK
    store.close()


def test_beyond_the_bound_track_lines_drop_and_are_counted_alerts_never(tmp_path):
    db = tmp_path / "site.db"
    store = Store(db, busy_timeout_s=0.02)
    scans = moving_scans(6)  # 2 track lines each

    async def main():
        w = StoreWriter(store, max_pending_tracks=4, retry_initial_s=0.01, retry_max_s=0.02)
        task = asyncio.create_task(w.run())
        locker = _lock(db)
        for k, s in enumerate(scans):
            w.offer(ScanOutput(t_s=s.t_s, tracks=s.tracks, alerts=(alert(f"A{k}", s.t_s),)))
            await asyncio.sleep(0.05)
        await _until(lambda: w.write_failures >= 2)
        locker.execute("ROLLBACK")
        locker.close()
        await _until(lambda: w.recording and w.pending == 0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return w

    w = asyncio.run(main())
    assert w.dropped_tracks == 8
    h = store.range(0, T0 + 100)
    assert sorted({t.t for t in h.tracks}) == [T0 + 4.0, T0 + 5.0]  # the newest kept
    assert sorted(a.id for a in h.alerts) == [f"A{k}" for k in range(6)]
    store.close()


def test_service_raises_and_clears_a_recording_alert_and_metrics_show_it(tmp_path):
    db = tmp_path / "site.db"
    cfg = SiteConfig(
        site=Site(name="s", lat=51.0, lon=1.0, alt_m=20.0),
        sensors=[],
        sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None),
        store=StoreConfig(path=str(db)),
    )

    def metric(c: TestClient, token: str, name: str) -> float:
        text = c.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
        (line,) = [x for x in text.splitlines() if x.startswith(name + " ")]
        return float(line.split()[1])

    async def main():
        service = Service(cfg)
        service.store.set_busy_timeout(0.05)
        service.writer.retry_max_s = 0.05
        token = service.store.create_token("viewer", "v")
        await service.start()
        c = TestClient(service.app)
        locker = _lock(db)
        try:
            threat = AlertLine(
                t=time.time(), id="A1", level="critical", state="raised", kind="threat",
                track="T1", zone="Z", tta_s=30.0,
            )  # fmt: skip
            service.dispatch_alerts([threat])

            def stopped() -> list[AlertLine]:
                return [
                    a for a in service.live.alerts.values()
                    if a.kind == "sensor" and a.sensor == "store"
                ]  # fmt: skip

            await _until(lambda: bool(stopped()))
            (raised,) = stopped()
            assert raised.state == "raised" and "recording stopped" in raised.reason
            m_down = await asyncio.to_thread(metric, c, token, "skywarden_recording_ok")
            assert m_down == 0.0
            locker.execute("ROLLBACK")
            await _until(lambda: not stopped() and service.writer.pending == 0)
            m_up = await asyncio.to_thread(metric, c, token, "skywarden_recording_ok")
            return raised, m_up
        finally:
            locker.close()
            await service.stop()

    raised, m_up = asyncio.run(main())
    assert m_up == 1.0
    s = Store(db)
    events = [(a.id, a.state) for a in s.range(0, time.time() + 10).alerts]
    s.close()
    # The threat alert and the recording alert's whole lifecycle reached the disk.
    assert ("A1", "raised") in events
    assert (raised.id, "raised") in events and (raised.id, "cleared") in events


def test_an_ack_while_another_process_locks_the_store_gets_503_then_works(tmp_path):
    site = web_site(tmp_path / "site.db")
    site.store.set_busy_timeout(0.05)
    site.live.apply(ScanOutput(t_s=T0, tracks=(), alerts=(alert("A1", T0),)))
    c = TestClient(site.app)
    locker = _lock(tmp_path / "site.db")
    r = c.post("/api/alerts/A1/ack", headers=bearer(site.tokens["operator"]))
    assert r.status_code == 503 and "try again" in r.json()["detail"]
    assert r.headers["retry-after"] == "1"
    locker.execute("ROLLBACK")
    locker.close()
    r = c.post("/api/alerts/A1/ack", headers=bearer(site.tokens["operator"]))
    assert r.status_code == 200 and site.store.acknowledged_ids() == {"A1"}
    site.store.close()
