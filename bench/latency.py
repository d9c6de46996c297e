"""Live latency and sustained load through ``skywarden serve``.

Starts ``skywarden serve`` as its own process on loopback, with position
sensors and a protected zone, then in this process:

1. **latency**: 100 drone-like objects fly through the area (a radar giving
   small-drone RCS, and an RF direction finder, both 1 Hz);
   every detection is stamped with the wall-clock time it is sent, so for each
   alert event and track update received on the WebSocket, ``receive time -
   its time stamp`` is the time from the triggering detection reaching the
   socket to the event reaching a client (it includes the reorder window);
2. **load**: 200 objects seen by 10 position sensors at 1 Hz (2,000
   detections/s) for ``--load-s`` seconds, sampling the server's resident
   memory every 10 s; a flat memory curve has a slope near zero.

Run: ``.venv/bin/python bench/latency.py [--latency-s 60] [--load-s 300] [--json]``.
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import websockets
import yaml
from rich.console import Console
from rich.table import Table

from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.scenario import encode_line
from skywarden.store import Store
from skywarden.types import Detection

console = Console()
SITE = {"name": "bench", "lat": 51.0, "lon": 1.0, "alt_m": 20.0}
FRAME = LocalFrame(SITE["lat"], SITE["lon"], SITE["alt_m"])
RADAR = SensorGeometry(FRAME, SITE["lat"], SITE["lon"], 30.0)
RF = SensorGeometry(FRAME, SITE["lat"] + 0.02, SITE["lon"], 30.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zone() -> dict:
    # A 2 km square around the site origin, ground to 1,500 m.
    corners = np.array([[-1000, -1000], [1000, -1000], [1000, 1000], [-1000, 1000]], float)
    lat, lon, _ = FRAME.to_geodetic(np.c_[corners, np.zeros(4)])
    return {
        "id": "Z1", "name": "core", "floor_m": 0.0, "ceiling_m": 1500.0, "priority": 1,
        "polygon": [[float(lo), float(la)] for la, lo in zip(lat, lon, strict=True)],
    }  # fmt: skip


def _sensors(n: int) -> list[dict]:
    # A radar and an RF direction finder at the site make the latency phase's
    # objects look like radio-linked drones to the classifier, so alerts come.
    out = [
        {"id": "radar", "kind": "radar", "lat": SITE["lat"], "lon": SITE["lon"], "alt_m": 30.0,
         "update_s": 1.0, "max_range_m": 20000.0, "sigma_range_m": 10.0, "sigma_az_deg": 0.3,
         "sigma_el_deg": 0.5, "sigma_range_rate_mps": 0.5},
        {"id": "rf", "kind": "rf", "lat": SITE["lat"] + 0.02, "lon": SITE["lon"], "alt_m": 30.0,
         "update_s": 1.0, "max_range_m": 20000.0, "sigma_az_deg": 2.0},
    ]  # fmt: skip
    for i in range(n):
        lat, lon, alt = FRAME.to_geodetic(np.array([200.0 * i, 0.0, 10.0]))
        out.append(
            {"id": f"p{i}", "kind": "position", "lat": float(lat), "lon": float(lon),
             "alt_m": float(alt), "update_s": 1.0, "sigma_pos_m": 10.0}
        )  # fmt: skip
    return out


class Flock:
    """n objects on straight paths at drone speeds, crossing a 16 km box through the centre."""

    def __init__(self, n: int, rng: np.random.Generator, *, low: bool = False) -> None:
        self.rng = rng
        self.low = low
        self.pos = np.zeros((n, 3))
        self.vel = np.zeros((n, 3))
        for i in range(n):
            self._respawn(i)

    def _respawn(self, i: int) -> None:
        heading = self.rng.uniform(0, 2 * math.pi)
        r = self.rng.uniform(3000, 8000)
        aim = self.rng.normal(0, 800, 2)
        start = aim - r * np.array([math.sin(heading), math.cos(heading)])
        speed = self.rng.uniform(25, 50)
        self.pos[i] = [start[0], start[1], self.rng.uniform(100, 300 if self.low else 600)]
        self.vel[i] = [speed * math.sin(heading), speed * math.cos(heading), 0.0]

    def step(self, dt: float) -> None:
        self.pos += self.vel * dt
        for i in np.flatnonzero(np.abs(self.pos[:, :2]).max(axis=1) > 8000):
            self._respawn(i)

    def radar_lines(self, t: float) -> bytes:
        """Radar plots (with RCS of a small fixed-wing drone) and RF bearings of every object."""
        out = []
        r, az, el = RADAR.to_aer(self.pos)
        rr = RADAR.range_rate(self.pos, self.vel)
        noise = self.rng.normal(0, 1, (4, r.shape[0]))
        for i in range(r.shape[0]):
            out.append(
                Detection(
                    t=t, sensor="radar", range_m=float(r[i] + 10 * noise[0, i]),
                    az_deg=math.degrees(az[i] + 0.005 * noise[1, i]) % 360,
                    el_deg=math.degrees(el[i] + 0.009 * noise[2, i]),
                    range_rate_mps=float(rr[i] + 0.5 * noise[3, i]), rcs_dbsm=-8.0, snr_db=20.0,
                )
            )  # fmt: skip
        _, az2, _ = RF.to_aer(self.pos)
        for i in range(az2.shape[0]):
            out.append(Detection(t=t, sensor="rf", az_deg=math.degrees(az2[i]) % 360))
        return b"".join(encode_line(d) + b"\n" for d in out)

    def lines(self, sensor: str, t: float) -> bytes:
        p = self.pos + self.rng.normal(0, 10.0, self.pos.shape)
        lat, lon, alt = FRAME.to_geodetic(p)
        return b"".join(
            encode_line(Detection(t=t, sensor=sensor, lat=float(a), lon=float(b), alt_m=float(c)))
            + b"\n"
            for a, b, c in zip(lat, lon, alt, strict=True)
        )


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the engine's process), MB."""
    total = _rss_mb(pid)
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_rss_mb(int(k)) for k in kids)


async def _wait_port(port: int, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"port {port} never opened")


async def run(latency_s: float, load_s: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="skywarden-latency-"))
    web_port, tcp_port = _free_port(), _free_port()
    cfg = {
        "site": SITE,
        "sensors": _sensors(10),
        "zones": [_zone()],
        "sources": {"jsonl_tcp_port": tcp_port, "jsonl_udp_port": None},
        "store": {"path": str(tmp / "site.db")},
        "server": {"port": web_port},
    }
    (tmp / "site.yaml").write_text(yaml.safe_dump(cfg))
    store = Store(tmp / "site.db")
    token = store.create_token("viewer", "bench")
    store.close()
    exe = Path(sys.executable).with_name("skywarden")
    proc = subprocess.Popen(
        [str(exe), "serve", "--config", str(tmp / "site.yaml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await _wait_port(tcp_port)
        await _wait_port(web_port)
        _, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        alert_lat: list[float] = []
        track_lat: list[float] = []
        stop = asyncio.Event()

        async def listen() -> None:
            async with websockets.connect(
                f"ws://127.0.0.1:{web_port}/ws", subprotocols=["bearer", token], max_size=None
            ) as ws:
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 1.0)
                    except TimeoutError:
                        continue
                    now = time.time()
                    msg = orjson.loads(raw)
                    if msg.get("type") == "alert" and msg["alert"].get("kind") != "sensor":
                        alert_lat.append(now - msg["alert"]["t"])
                    elif msg.get("type") == "delta" and msg.get("t") and msg["tracks"]:
                        track_lat.append(now - msg["t"])

        listener = asyncio.create_task(listen())
        rng = np.random.default_rng(1)
        flock = Flock(100, rng, low=True)
        t_end = time.time() + latency_s
        while time.time() < t_end:
            t = time.time()
            writer.write(flock.radar_lines(t))
            await writer.drain()
            flock.step(1.0)
            await asyncio.sleep(max(0.0, t + 1.0 - time.time()))
        # Load phase: 200 objects x 10 sensors, staggered through each second.
        flock = Flock(200, rng)
        sent = 0
        rss: list[tuple[float, float]] = []
        t0 = time.time()
        next_rss = t0
        while time.time() < t0 + load_s:
            t_sec = time.time()
            for k in range(10):
                t = time.time()
                writer.write(flock.lines(f"p{k}", t))
                sent += flock.pos.shape[0]
                await writer.drain()
                await asyncio.sleep(max(0.0, t_sec + (k + 1) / 10 - time.time()))
            flock.step(1.0)
            if time.time() >= next_rss:
                rss.append((time.time() - t0, _tree_rss_mb(proc.pid)))
                next_rss += 10.0
        rate = sent / (time.time() - t0)
        stop.set()
        await listener
        writer.close()
        rs = np.array(rss)
        # Memory slope after the first minute of warm-up (MB per minute).
        warm = rs[rs[:, 0] >= min(60.0, rs[-1, 0] / 2)] if len(rs) > 2 else rs
        slope = float(np.polyfit(warm[:, 0], warm[:, 1], 1)[0] * 60) if len(warm) > 2 else math.nan
        return {
            "alert_events": len(alert_lat),
            "alert_latency_p50_ms": 1000 * float(np.percentile(alert_lat, 50))
            if alert_lat
            else None,
            "alert_latency_p99_ms": 1000 * float(np.percentile(alert_lat, 99))
            if alert_lat
            else None,
            "track_updates": len(track_lat),
            "track_latency_p50_ms": 1000 * float(np.percentile(track_lat, 50))
            if track_lat
            else None,
            "track_latency_p99_ms": 1000 * float(np.percentile(track_lat, 99))
            if track_lat
            else None,
            "load_detections_per_s": rate,
            "load_seconds": load_s,
            "rss_mb": [round(m, 1) for _, m in rss],
            "rss_slope_mb_per_min": slope,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency-s", type=float, default=60.0)
    ap.add_argument("--load-s", type=float, default=300.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = asyncio.run(run(a.latency_s, a.load_s))
    if a.json:
        sys.stdout.write(orjson.dumps(res).decode() + "\n")
        return
    t = Table(title="skywarden serve: latency (socket → WebSocket) and sustained load")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in res.items():
        if k == "rss_mb":
            v = f"{v[0]} → {v[-1]} ({len(v)} samples)" if v else "-"
        t.add_row(k.replace("_", " "), f"{v:.1f}" if isinstance(v, float) else str(v))
    console.print(t)


if __name__ == "__main__":
    main()
