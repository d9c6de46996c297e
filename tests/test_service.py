"""The live service end to end: replay feed, JSON Lines TCP, SAPIENT nodes, restarts."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec
import numpy as np
import orjson
import pytest
import yaml

from skywarden.config import SiteConfig, SourcesConfig, StoreConfig, load_config
from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.pipeline import EngineConfig
from skywarden.scenario import ScenarioReader, encode_line
from skywarden.service import Service
from skywarden.sim import generate, load_spec
from skywarden.sources.jsonl import ListenerConfig
from skywarden.store import Store
from skywarden.types import Detection, Sensor, Site, TruthPoint, Zone

from .service_helpers import site_doc, start_on_free_port

SITE = Site(name="test-site", lat=51.0, lon=1.0, alt_m=20.0)
FRAME = LocalFrame.from_site(SITE)


def _sensor(sid: str, kind: str, e: float, n: float, **kw) -> Sensor:
    lat, lon, alt = FRAME.to_geodetic(np.array([e, n, 30.0]))
    return Sensor(id=sid, kind=kind, lat=float(lat), lon=float(lon), alt_m=float(alt), **kw)


RADAR = _sensor(
    "r1", "radar", 0.0, 0.0, update_s=1.0, max_range_m=20_000.0,
    sigma_range_m=10.0, sigma_az_deg=0.3, sigma_el_deg=0.3,
)  # fmt: skip


def _config(tmp_path: Path, sensors: list[Sensor], worker: str = "thread", **sources) -> SiteConfig:
    return SiteConfig(
        site=SITE,
        sensors=sensors,
        engine=EngineConfig(worker=worker),  # type: ignore[arg-type]
        sources=SourcesConfig(**{"jsonl_tcp_port": None, "jsonl_udp_port": None, **sources}),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )


def _radar_dets(t0: float, n: int, start=(-4000.0, 2000.0, 300.0), vel=(40.0, -10.0, 0.0)):
    """A target flying straight, seen by RADAR once a second from t0 (noise-free)."""
    geom = SensorGeometry.from_sensor(FRAME, RADAR)
    out = []
    for k in range(n):
        p = np.asarray(start) + np.asarray(vel) * k
        r, az, el = geom.to_aer(p)
        out.append(
            Detection(
                t=t0 + k, sensor="r1", range_m=float(r),
                az_deg=math.degrees(float(az)), el_deg=math.degrees(float(el)),
            )
        )  # fmt: skip
    return out


async def _wait_for_tracks(service: Service, timeout_s: float = 20.0, confirmed: int = 1) -> list:
    """Await the live picture's own updates until it shows ``confirmed`` tracks (or
    coasting ones: the engine runs on its own thread and the clock moves on, so a
    track of past detections may be coasting by the time the test looks)."""
    q = service.live.subscribe()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                tracks = [
                    t for t in service.live.tracks.values() if t.status in ("confirmed", "coasting")
                ]
                if len(tracks) >= confirmed:
                    return tracks
                await q.get()
    finally:
        service.live.unsubscribe(q)


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_jsonl_tcp_detections_become_tracks_in_live_state_and_store(tmp_path, worker):
    async def main():
        cfg = _config(tmp_path, [RADAR], worker, jsonl_tcp_port=0)
        service = Service(cfg)
        assert type(service.engine_thread).__name__ == f"Engine{worker.title()}"
        await service.start()
        try:
            _, w = await asyncio.open_connection("127.0.0.1", service.ports["jsonl_tcp"])
            t0 = time.time() - 30.0
            w.write(b"this is not json\n")
            for d in _radar_dets(t0, 30):
                w.write(encode_line(d) + b"\n")
            await w.drain()
            tracks = await _wait_for_tracks(service)
            w.close()
            return service, tracks
        finally:
            await service.stop()

    service, tracks = asyncio.run(main())
    assert service.jsonl_tcp.stats.n_rejected == 1
    assert len(tracks) == 1
    p = FRAME.to_enu(tracks[0].lat, tracks[0].lon, tracks[0].alt_m)
    assert p[0] > -4000 and abs(p[2] - 300.0) < 50.0
    # The record holds the track.

    store = Store(tmp_path / "site.db")
    assert store.time_span() is not None
    assert store.track_history(tracks[0].id)
    store.close()


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_replay_of_a_simulated_scenario_raises_alerts(tmp_path, worker):
    spec = load_spec("single-drone")
    recs = list(generate(spec, seed=3, duration_s=420.0))
    header = [r for r in recs if isinstance(r, (Site, Sensor, Zone))]
    cfg = SiteConfig(
        site=next(r for r in header if isinstance(r, Site)),
        sensors=[r for r in header if isinstance(r, Sensor)],
        zones=[r for r in header if isinstance(r, Zone)],
        engine=EngineConfig(worker=worker),
        sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )
    data = [r for r in recs if not isinstance(r, (Site, Sensor, Zone, TruthPoint))]

    msgs: list[dict] = []

    async def main():
        service = Service(cfg, feed=iter(data), feed_speed=200.0)
        q = service.live.subscribe()
        await service.start()
        try:
            async with asyncio.timeout(60):
                first: dict | None = None
                while True:
                    msgs.append(orjson.loads(await q.get()))
                    m = msgs[-1]
                    if first is None and m["type"] == "alert" and m["alert"]["kind"] != "sensor":
                        first = m["alert"]
                    # Until the tracks of a later scan than the one that raised it
                    # have come too (as a delta, or as the whole picture when this
                    # reader fell behind the replay and was sent that instead).
                    later = m["type"] in ("delta", "tracks") and first is not None
                    if later and m["t"] > first["t"]:
                        break
        finally:
            await service.stop()
        return service

    service = asyncio.run(main())
    threat = [a for a in service.live.alerts.values() if a.kind != "sensor"]
    assert threat, "no threat alert during the replay"
    # Each alert event once (the live map has them from the engine as soon as the
    # threat stage does, not again with the scan's tracks).
    events = [(m["alert"]["id"], m["alert"]["state"], m["alert"]["t"]) for m in msgs
              if m["type"] == "alert"]  # fmt: skip
    assert any(e[0] == threat[0].id for e in events) and len(events) == len(set(events))
    # The store's writer had them ahead of the map, and once (not again with the scan).
    store = Store(tmp_path / "site.db")
    try:
        stored = [(a.id, a.state, a.t) for a in store.alert_events(threat[0].id)]
    finally:
        store.close()
    assert stored == [e for e in events if e[0] == threat[0].id]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigkill_and_restart_keep_raised_alerts_and_acks(tmp_path):
    """`skywarden serve` killed with SIGKILL and restarted keeps its alerts and acks."""

    scen = tmp_path / "s.jsonl"
    exe = Path(sys.executable).with_name("skywarden")
    subprocess.run(
        [str(exe), "simulate", "single-drone", "--seed", "3", "--duration", "420", "--out", str(scen), "--json"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    hdr = ScenarioReader(scen).header
    site_yaml = tmp_path / "site.yaml"
    db = tmp_path / "site.db"
    site_yaml.write_text(
        yaml.safe_dump(
            {
                **site_doc(hdr),
                "sources": {"jsonl_tcp_port": None, "jsonl_udp_port": None,
                            "replay": str(scen), "replay_speed": 100.0},
                "store": {"path": str(db)},
            }
        )
    )  # fmt: skip
    load_config(site_yaml)  # the file is valid before we hand it over
    store = Store(db)
    op = store.create_token("operator", "test")
    store.close()
    auth = {"Authorization": f"Bearer {op}"}
    base = ""

    def start() -> subprocess.Popen:
        nonlocal base
        proc, port, _facts = start_on_free_port(
            lambda port: [str(exe), "serve", "--config", str(site_yaml), "--port", str(port), "--json"],
            "serve", tmp_path / "serve.log",
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        return proc

    def get(path: str, deadline_s: float, want) -> object:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                r = httpx.get(base + path, headers=auth, timeout=2.0)
                if r.status_code == 200 and want(r.json()):
                    return r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # polling a separate process: there is no event to await
        raise AssertionError(f"{path} never satisfied the condition")

    proc = start()
    try:
        alerts = get(
            "/api/alerts?open=true", 60.0,
            lambda d: any(a.get("kind") != "sensor" for a in d["alerts"]),
        )  # fmt: skip
        raised = [a for a in alerts["alerts"] if a.get("kind") != "sensor"]
        target = raised[0]["id"]
        r = httpx.post(f"{base}/api/alerts/{target}/ack", headers=auth, timeout=5.0)
        assert r.status_code == 200, r.text
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    store = Store(db)
    assert target in {a.id for a in store.alerts()}
    assert target in store.acknowledged_ids()
    store.close()
    proc = start()
    try:
        after = get("/api/alerts", 90.0, lambda d: any(a["id"] == target for a in d["alerts"]))
        again = next(a for a in after["alerts"] if a["id"] == target)
        assert again["ack"] is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_sapient_node_registers_streams_and_reconnects(tmp_path):
    from sapient_msg.bsi_flex_335_v2_0 import registration_pb2
    from sapient_py import encode_frame

    from tests.sources.test_sapient import rb_report, registration, status

    node = "3f1c2d4e-0001-4a00-8000-00000000aaaa"
    lat, lon, alt = FRAME.to_geodetic(np.array([0.0, 0.0, 30.0]))
    geom = SensorGeometry(FRAME, float(lat), float(lon), float(alt))
    t0 = time.time() - 60.0

    def report(k: int, rid: str):
        p = np.array([-3000.0 + 40.0 * k, 1500.0, 250.0])
        r, az, el = geom.to_aer(p)
        return rb_report(
            node, t0 + k, rid, az=math.degrees(float(az)), el=math.degrees(float(el)), rng=float(r)
        )

    async def session(port: int, ks: range, first: bool):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            encode_frame(
                registration(node, t0, registration_pb2.Registration.NodeType.NODE_TYPE_RADAR)
            )
        )
        await writer.drain()
        head = await reader.readexactly(4)
        await reader.readexactly(int.from_bytes(head, "little"))
        if first:
            writer.write(encode_frame(status(node, t0, float(lat), float(lon), float(alt))))
        for k in ks:
            writer.write(encode_frame(report(k, f"r{k}")))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        cfg = _config(tmp_path, [], sapient_port=0)
        service = Service(cfg)
        await service.start()
        try:
            port = service.ports["sapient"]
            await session(port, range(0, 15), first=True)
            tracks = await _wait_for_tracks(service)
            first_ids = {t.id for t in tracks}
            await session(port, range(15, 30), first=False)
            q = service.live.subscribe()
            async with asyncio.timeout(20):
                while service.engine.tracker.stats.detections < 30:
                    await q.get()
            service.live.unsubscribe(q)
            return service, first_ids
        finally:
            await service.stop()

    service, first_ids = asyncio.run(main())
    assert node in service.header.sensors
    assert service.engine.tracker.stats.detections == 30
    # The same track continues through the reconnection.
    assert first_ids & {t.id for t in service.live.tracks.values()}


def test_jsonl_udp_datagrams_become_tracks(tmp_path):
    async def main():
        cfg = _config(tmp_path, [RADAR], jsonl_udp_port=0)
        service = Service(cfg)
        await service.start()
        try:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=("127.0.0.1", service.ports["jsonl_udp"])
            )
            t0 = time.time() - 30.0
            dets = _radar_dets(t0, 30)
            # Several lines per datagram, as a sensor gateway would batch them.
            for k in range(0, 30, 3):
                transport.sendto(b"".join(encode_line(d) + b"\n" for d in dets[k : k + 3]))
            tracks = await _wait_for_tracks(service)
            transport.close()
            return tracks
        finally:
            await service.stop()

    assert len(asyncio.run(main())) == 1


def test_a_dead_webhook_endpoint_raises_a_sink_alert_not_silence(tmp_path):
    from skywarden.sinks.config import SinksConfig, WebhookConfig
    from skywarden.types import AlertLine, SinkState

    dead = f"http://127.0.0.1:{_free_port()}/alerts"  # nothing listens there
    cfg = msgspec.structs.replace(
        _config(tmp_path, [RADAR]),
        sinks=SinksConfig(
            webhooks=[
                WebhookConfig(url=dead, secret="s3cret", timeout_s=0.5, backoff_initial_s=0.05)
            ]
        ),
    )

    async def main():
        service = Service(cfg)
        await service.start()
        try:
            threat = AlertLine(
                t=time.time(), id="A1", level="critical", state="raised", kind="threat",
                track="T1", zone="Z", tta_s=30.0,
            )  # fmt: skip
            service.dispatch_alerts([threat])
            hook = next(s for s in service.sinks if s.name.startswith("webhook:"))
            async with asyncio.timeout(20):
                while hook.health().state is not SinkState.FAILING:
                    await asyncio.sleep(0.05)  # a real connection must fail first
            service._check_sinks(time.time())
            return service, hook
        finally:
            await service.stop()

    service, hook = asyncio.run(main())
    sink_alerts = [a for a in service.live.alerts.values() if a.kind == "sensor"]
    assert [a.sensor for a in sink_alerts] == [hook.name]
    assert sink_alerts[0].state == "raised" and "failing" in sink_alerts[0].reason
    assert sink_alerts[0].cause == "link_failing"


def test_sensor_declared_on_one_connection_is_known_to_every_transport(tmp_path):
    async def main():
        cfg = _config(
            tmp_path, [], jsonl_tcp_port=0, jsonl_udp_port=0,
            jsonl_tcp=ListenerConfig(allow_register=True),
        )  # fmt: skip
        service = Service(cfg)
        await service.start()
        try:
            _, w = await asyncio.open_connection("127.0.0.1", service.ports["jsonl_tcp"])
            w.write(encode_line(RADAR) + b"\n")
            await w.drain()
            q = service.live.subscribe()
            async with asyncio.timeout(10):
                while "r1" not in service.header.sensors:
                    await q.get()  # the sensor message the live picture publishes
            loop = asyncio.get_running_loop()
            tr, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=("127.0.0.1", service.ports["jsonl_udp"])
            )
            for d in _radar_dets(time.time() - 30.0, 30):
                tr.sendto(encode_line(d) + b"\n")
            tracks = await _wait_for_tracks(service)
            tr.close()
            w.close()
            return service, tracks
        finally:
            await service.stop()

    service, tracks = asyncio.run(main())
    assert len(tracks) == 1
    assert service.engine.stats.unknown_sensor == 0


def test_the_store_writer_waits_for_an_idle_engine_briefly(tmp_path):
    service = Service(_config(tmp_path, [RADAR]))
    try:
        assert service.writer.pause is not None
        t = time.monotonic()
        assert service.writer.pause() is False  # the engine is not idle: a short wait
        waited = time.monotonic() - t
        assert 0.02 <= waited < 1.0
        service.engine_thread.idle.set()
        assert service.writer.pause() is True
    finally:
        service.store.close()


def test_an_engine_thread_that_stops_raises_a_critical_alert_cleared_by_a_restart(tmp_path):
    """Never silent: a map with no new tracks looks like a quiet sky."""

    async def main():
        service = Service(_config(tmp_path, [RADAR], "thread"))
        await service.start()
        try:

            def boom(det):
                raise RuntimeError("a fault in a scan")

            service.engine.push = boom  # type: ignore[method-assign]
            service.engine_thread.put(_radar_dets(time.time(), 1)[0])
            q = service.live.subscribe()
            async with asyncio.timeout(20):
                while not any(a.cause == "engine_stopped" for a in service.live.alerts.values()):
                    await q.get()
            service.live.unsubscribe(q)
            await asyncio.sleep(1.5)  # three more health checks: no restart on a thread
            return [a for a in service.live.alerts.values() if a.cause == "engine_stopped"]
        finally:
            await service.stop()

    (alert,) = asyncio.run(main())
    assert (alert.kind, alert.sensor, alert.level, alert.state) == (
        "sensor", "engine", "critical", "raised",
    )  # fmt: skip
    store = Store(tmp_path / "site.db")
    try:
        assert [a.state for a in store.alert_events(alert.id)] == ["raised"]
    finally:
        store.close()

    # Started again, the engine runs: the alert is cleared, and says why.
    service = Service(_config(tmp_path, [RADAR], "thread"))
    store = Store(tmp_path / "site.db")
    try:
        last = store.alert_events(alert.id)[-1]
        assert (last.state, last.cause) == ("cleared", "engine_running")
        assert not store.open_alerts()
    finally:
        store.close()
        service.store.close()


def test_an_engine_process_that_dies_is_started_again_and_says_so(tmp_path):
    """Its alert is raised and cleared; its threat alerts are cleared (their tracks
    died with it); the new engine tracks with new numbers."""
    spec = load_spec("single-drone")
    recs = list(generate(spec, seed=3, duration_s=420.0))
    cfg = SiteConfig(
        site=next(r for r in recs if isinstance(r, Site)),
        sensors=[r for r in recs if isinstance(r, Sensor)],
        zones=[r for r in recs if isinstance(r, Zone)],
        sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )
    data = [r for r in recs if not isinstance(r, (Site, Sensor, Zone, TruthPoint))]

    async def until(service, cond, timeout_s=60.0):
        q = service.live.subscribe()
        try:
            async with asyncio.timeout(timeout_s):
                while not cond():
                    await q.get()
        finally:
            service.live.unsubscribe(q)

    async def main():
        service = Service(cfg, feed=iter(data), feed_speed=20.0)
        await service.start()
        try:
            threat = lambda: [a for a in service.live.alerts.values() if a.kind != "sensor"]  # noqa: E731
            await until(service, threat)
            before = {t.id for t in service.live.tracks.values()}
            opened = threat()
            os.kill(service.engine_thread._proc.pid, signal.SIGKILL)
            await until(service, lambda: service.engine_thread.alive() and not threat()
                        and service._engine_restarts)  # fmt: skip
            await until(service, lambda: set(service.live.tracks) - before)
            return service, before, opened
        finally:
            await service.stop()

    service, before, opened = asyncio.run(main())
    store = Store(tmp_path / "site.db")
    try:
        (engine,) = [a for a in store.alerts() if a.sensor == "engine"]
        events = store.alert_events(engine.id)
        assert [(a.state, a.cause, a.level) for a in events] == [
            ("raised", "engine_stopped", "critical"),
            ("cleared", "engine_running", "critical"),
        ]
        for a in opened:
            last = store.alert_events(a.id)[-1]
            assert (last.state, last.reason) == (
                "cleared",
                "engine restarted: object not reacquired",
            )
    finally:
        store.close()
    numbers = lambda ids: {int(i.lstrip("T")) for i in ids}  # noqa: E731
    assert min(numbers(set(service.live.tracks) - before)) > max(numbers(before))
