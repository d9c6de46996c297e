"""The live service at scale: ``skywarden serve`` with a mass raid of ~2,000 objects.

Simulates a raid (``--drones`` hostile drones from four directions in waves onto
five zones, ``--birds`` birds, singles and flocks, and air traffic) seen by three
radars and an RF direction finder, writes it to a scenario file, then starts the
real ``skywarden serve`` on loopback and, in this process:

- sends every detection over the JSON Lines TCP port at the time it is stamped
  with (the simulated times shifted to the wall clock);
- listens on the WebSocket as a map would (snapshot, then deltas), and records
  for each threat alert event ``receive time - alert t``: the alert's ``t`` is
  the scan time of the detections that produced it, so this is detection →
  alert on the WebSocket, reorder window included; and the same for each track
  delta (detection → map update);
- with ``--slow-clients``, also holds WebSocket clients that take messages at
  100 kB/s, uncompressed (a browser on a poor link: the server's sends back up),
  to show they neither delay the fast one nor miss an alert;
- asks the REST API for the open alerts every 2 s (how responsive the event loop
  stays), and samples the server's resident memory every 10 s.

Statistics leave out the first ``--warmup-s`` (tracks forming). The memory slope
is a least-squares fit over the samples after the warm-up, MB per minute.

    .venv/bin/python bench/live_scale.py [--minutes 3] [--drones 500 --birds 1500]
        [--worker process,thread] [--json]

``--worker``: where ``serve`` runs the engine (``engine.worker``); with both, the same
raid is served twice, one after the other, and the figures are printed side by side.

All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import orjson
import websockets
import yaml
from rich.console import Console
from rich.table import Table

from latency import _free_port, _tree_rss_mb, _wait_port
from skywarden.scenario import ScenarioReader, encode_line
from skywarden.sim.generate import simulate_to_file
from skywarden.sim.spec import ScenarioSpec, spec_from_dict
from skywarden.store import Store
from skywarden.types import Detection, Sensor, Site, Zone

console = Console(stderr=True)
GROUND_M = 160.0
#: Zone centre (east, north), radius, priority; and the bearings its drones come from.
ZONES = [
    ("Z1", "Refinery", (0.0, 0.0), 600.0, 1, (0.0, 60.0)),
    ("Z2", "Power plant", (3_000.0, 1_500.0), 400.0, 1, (80.0, 140.0)),
    ("Z3", "Rail yard", (-2_000.0, -2_500.0), 500.0, 2, (170.0, 230.0)),
    ("Z4", "Depot", (-3_000.0, 2_500.0), 400.0, 2, (260.0, 320.0)),
    ("Z5", "Substation", (2_500.0, -3_000.0), 500.0, 3, (120.0, 200.0)),
]
#: Drone flight: 15-17 km out at 50-60 m/s, about five minutes to the zone.
FLIGHT_S = 16_000.0 / 55.0


def _radar(sid: str, at: list[float], phase_s: float) -> dict[str, Any]:
    # A counter-drone radar: a 0 dBsm target at the reference pd out to 60 km, so
    # that small birds are seen across the 10 km area (as many tracks as objects).
    return {
        "id": sid, "kind": "radar", "pos_enu_m": at, "pd": 0.9, "update_s": 2.0,
        "phase_s": phase_s, "max_range_m": 30_000.0, "ref_range_m": 60_000.0, "pfa": 1e-6,
        "fov": {"el_min_deg": 0.0, "el_max_deg": 70.0}, "sigma_range_m": 15.0,
        "sigma_az_deg": 0.4, "sigma_el_deg": 0.7, "sigma_range_rate_mps": 0.5,
        "clutter_per_scan": 20.0,
    }  # fmt: skip


def raid_spec(duration_s: float, drones: int, birds: int) -> ScenarioSpec:
    """``drones`` hostile drones in flight at once (a first wave, then waves every
    minute replacing those that arrive), ``birds`` birds, air traffic."""
    objects: list[dict[str, Any]] = []

    def wave(count: int, launch: tuple[float, float]) -> None:
        per_zone = np.diff(np.linspace(0, count, len(ZONES) + 1).round()).astype(int)
        for (zid, _, _, _, _, bearing), n in zip(ZONES, per_zone, strict=True):
            if n:
                objects.append({
                    "kind": "hostile_drone", "count": int(n), "zone": zid,
                    "bearing_deg": list(bearing), "launch_s": list(launch),
                    "speed_mps": [50.0, 60.0], "start_range_m": [15_000.0, 17_000.0],
                    "radio_fraction": 0.5,
                })  # fmt: skip

    wave(drones, (0.0, 30.0))
    per_min = round(drones * 60.0 / FLIGHT_S)
    t = FLIGHT_S - 60.0
    while t < duration_s and per_min:
        wave(per_min, (t, t + 60.0))
        t += 60.0
    flocks = birds // 3 // 10
    objects += [
        {"kind": "bird", "count": birds - 10 * flocks, "area": {"radius_m": 10_000.0}},
        {"kind": "bird", "count": flocks, "area": {"radius_m": 10_000.0}, "flock_size": [9, 11]},
        {"kind": "airliner", "count": 20, "area": {"radius_m": 40_000.0}},
        {"kind": "light_aircraft", "count": 10},
        {"kind": "helicopter", "count": 5},
    ]
    return spec_from_dict(
        {
            "name": "live-scale",
            "description": f"{drones} hostile drones in flight, {birds} birds, air traffic.",
            "duration_s": duration_s,
            "site": {"name": "Bench industrial area", "lat": 49.0, "lon": 8.4, "alt_m": GROUND_M},
            "zones": [
                {
                    "id": zid,
                    "name": name,
                    "circle": {"east_m": e, "north_m": n, "radius_m": r},
                    "floor_m": GROUND_M,
                    "ceiling_m": GROUND_M + 500.0,
                    "priority": prio,
                }
                for zid, name, (e, n), r, prio, _ in ZONES
            ],
            "sensors": [
                _radar("radar-1", [0.0, 0.0, 25.0], 0.0),
                _radar("radar-2", [8_000.0, 5_000.0, 25.0], 0.5),
                _radar("radar-3", [-6_000.0, -7_000.0, 25.0], 1.0),
                {
                    "id": "rf-1",
                    "kind": "rf",
                    "pos_enu_m": [0.0, 200.0, 15.0],
                    "pd": 0.8,
                    "update_s": 1.0,
                    "max_range_m": 20_000.0,
                    "sigma_az_deg": 2.0,
                },
            ],
            "objects": objects,
        },
        "bench/live_scale.py",
    )


def _plain(rec: msgspec.Struct) -> dict[str, Any]:
    d = msgspec.to_builtins(rec)
    d.pop("type", None)
    return d


def _pct(xs: list[float], q: float) -> float | None:
    return round(1000.0 * float(np.percentile(xs, q)), 1) if xs else None


class MapClient:
    """A WebSocket client keeping the picture as the map does; records latencies."""

    def __init__(self, name: str, t_measure: float, bytes_per_s: float = math.inf) -> None:
        self.name = name
        self.t_measure = t_measure
        self.bytes_per_s = bytes_per_s
        self.closed: str | None = None
        self.drain: str | None = None
        self.tracks: set[str] = set()
        self.alert_lat: list[float] = []
        self.raise_lat: list[float] = []
        self.delta_lat: list[float] = []
        self.alert_events: set[tuple[str, str, float]] = set()
        #: Scan time of the snapshot: earlier events are in it, not sent one by one.
        self.t_snapshot: float | None = None
        self.n_tracks: list[int] = []
        self.updates = 0
        self.bytes = 0

    def take(self, raw: str | bytes) -> bool:
        """Take one message; True for a keepalive (an empty delta)."""
        now = time.time()
        self.bytes += len(raw)
        msg = orjson.loads(raw)
        kind = msg["type"]
        if kind in ("snapshot", "tracks"):
            self.tracks = {t["id"] for t in msg["tracks"]}
            if kind == "snapshot" and self.t_snapshot is None:
                self.t_snapshot = msg.get("t") or 0.0
        elif kind == "delta":
            if not (msg["tracks"] or msg["removed"]):
                return True
            self.updates += 1
            if now >= self.t_measure and msg["t"]:
                self.delta_lat.append(now - msg["t"])
            self.tracks.difference_update(msg["removed"])
            self.tracks.update(t["id"] for t in msg["tracks"])
            self.n_tracks.append(len(self.tracks))
        elif kind == "alert" and msg["alert"].get("kind") != "sensor":
            a = msg["alert"]
            self.alert_events.add((a["id"], a["state"], a["t"]))
            if now >= self.t_measure:
                self.alert_lat.append(now - a["t"])
                if a["state"] == "raised":
                    self.raise_lat.append(now - a["t"])
        return False

    async def run(self, url: str, token: str, stop: asyncio.Event) -> None:
        slow = math.isfinite(self.bytes_per_s)
        sock = None
        if slow:
            # Over a poor link few bytes are in flight: the data waits at the server.
            # A small receive buffer and one message held at a time make it so here.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
            sock.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
            sock.setblocking(False)
        try:
            async with websockets.connect(
                url, sock=sock, subprotocols=["bearer", token], max_size=None,
                max_queue=1 if slow else 16, ping_interval=None,
                # Uncompressed, so that the rate it takes is the rate on the wire.
                compression=None if slow else "deflate",
            ) as ws:  # fmt: skip
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 1.0)
                    except TimeoutError:
                        continue
                    self.take(raw)
                    if slow:
                        await asyncio.sleep(len(raw) / self.bytes_per_s)
                if slow:
                    # Catch up with what is still on its way (alert events included),
                    # until a keepalive that came after a pause: the server sends one
                    # only when nothing was due for its push interval (1 s), so one that
                    # follows the previous message closely was sent while this client
                    # was still behind, and more may be queued after it.
                    t0 = last = time.monotonic()
                    end = t0 + 60.0
                    self.drain = "60 s limit"
                    n = 0
                    while time.monotonic() < end:
                        with contextlib.suppress(TimeoutError):
                            raw = await asyncio.wait_for(ws.recv(), 5.0)
                            now, n = time.monotonic(), n + 1
                            if self.take(raw) and now - last >= 0.5:
                                self.drain = f"{n} messages, {now - t0:.1f} s"
                                break
                            last = now
        except websockets.ConnectionClosed as e:
            self.closed = f"{e} (at {time.strftime('%H:%M:%S')})"


def _metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^(skywarden_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN)$", line)
        if m and m.group(2) is None:
            out[m.group(1)] = float(m.group(3))
    return out


async def _feed(
    reader: ScenarioReader, port: int, wall0: float, t_end: float, sent: list[int]
) -> None:
    """Send the scenario's detections, shifted to the wall clock, each scan at its time."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    t0: float | None = None
    group: list[bytes] = []
    group_t = -math.inf

    async def flush() -> None:
        await asyncio.sleep(max(0.0, group_t - time.time()))
        writer.write(b"".join(group))
        await writer.drain()
        sent[0] += len(group)

    for rec in reader:
        if not isinstance(rec, Detection):
            continue
        if t0 is None:
            t0 = rec.t
        t = rec.t - t0 + wall0
        if t > t_end:
            break
        if t != group_t and group:
            await flush()
            group = []
        group_t = t
        group.append(encode_line(msgspec.structs.replace(rec, t=t, truth=None)) + b"\n")
    if group:
        await flush()
    writer.close()


def simulate(args: argparse.Namespace, tmp: Path) -> Path:
    duration_s = args.warmup_s + 60.0 * args.minutes + 5.0
    spec = raid_spec(duration_s, args.drones, args.birds)
    scen = tmp / "raid.jsonl"
    t_gen = time.perf_counter()
    simulate_to_file(spec, scen, seed=args.seed, duration_s=duration_s)
    console.print(f"simulated {duration_s:.0f} s in {time.perf_counter() - t_gen:.0f} s: {scen}")
    return scen


async def run(args: argparse.Namespace, scen: Path, worker: str) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"skywarden-live-scale-{worker}-"))
    console.print(f"serve with the engine on a {worker}")
    # Opened now: opening a long scenario takes seconds (the event loop must not wait).
    reader = ScenarioReader(scen)
    hdr = reader.header
    web_port, tcp_port = _free_port(), _free_port()
    cfg = {
        "site": _plain(hdr.site) if isinstance(hdr.site, Site) else None,
        "sensors": [_plain(s) for s in hdr.sensors.values() if isinstance(s, Sensor)],
        "zones": [_plain(z) for z in hdr.zones if isinstance(z, Zone)],
        "sources": {"jsonl_tcp_port": tcp_port, "jsonl_udp_port": None},
        "engine": {"worker": worker},
        "store": {"path": str(tmp / "site.db")},
        "server": {"port": web_port},
    }
    (tmp / "site.yaml").write_text(yaml.safe_dump(cfg))
    store = Store(tmp / "site.db")
    token = store.create_token("viewer", "bench")
    store.close()
    exe = Path(sys.executable).with_name("skywarden")
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve", "--config", str(tmp / "site.yaml")], stdout=log, stderr=log
    )
    try:
        await _wait_port(tcp_port)
        await _wait_port(web_port)
        wall0 = time.time() + 1.0
        t_measure = wall0 + args.warmup_s
        t_end = t_measure + 60.0 * args.minutes
        url = f"ws://127.0.0.1:{web_port}/ws"
        stop = asyncio.Event()
        fast = MapClient("fast", t_measure)
        slows = [MapClient(f"slow{i}", t_measure, 100e3) for i in range(args.slow_clients)]
        clients = [asyncio.create_task(c.run(url, token, stop)) for c in (fast, *slows)]
        sent = [0]
        feeder = asyncio.create_task(_feed(reader, tcp_port, wall0, t_end, sent))
        api_s: list[float] = []
        rss: list[tuple[float, float]] = []
        tracks_live: list[float] = []
        store_pending: list[float] = []
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web_port}") as http:
            next_rss = time.time()
            while not feeder.done():
                now = time.time()
                if now >= next_rss:
                    rss.append((now - wall0, _tree_rss_mb(proc.pid)))
                    next_rss += 10.0
                    m = _metrics((await http.get("/metrics", headers=headers)).text)
                    tracks_live.append(m.get("skywarden_tracks_live", math.nan))
                    store_pending.append(m.get("skywarden_store_pending_rows", math.nan))
                t = time.perf_counter()
                r = await http.get("/api/alerts", params={"open": "true"}, headers=headers)
                r.raise_for_status()
                if now >= t_measure:
                    api_s.append(time.perf_counter() - t)
                await asyncio.sleep(2.0)
            await feeder
            metrics = _metrics((await http.get("/metrics", headers=headers)).text)
        stop.set()
        await asyncio.gather(*clients)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    rs = np.array([p for p in rss if p[0] >= args.warmup_s]) if rss else np.zeros((0, 2))
    slope = float(np.polyfit(rs[:, 0], rs[:, 1], 1)[0] * 60.0) if len(rs) > 2 else math.nan
    live = [x for x in tracks_live[len(tracks_live) // 3 :] if math.isfinite(x)]
    measured_s = 60.0 * args.minutes
    return {
        "worker": worker,
        "minutes": args.minutes,
        "warmup_s": args.warmup_s,
        "objects": {"hostile_drones_in_flight": args.drones, "birds": args.birds, "aircraft": 35},
        "detections_sent": sent[0],
        "detections_per_s": round(sent[0] / (measured_s + args.warmup_s), 1),
        "tracker_tracks_median": float(np.median(live)) if live else None,
        "map_tracks_median": float(np.median(fast.n_tracks[len(fast.n_tracks) // 3 :]))
        if fast.n_tracks
        else None,
        "alert_events": len(fast.alert_lat),
        "alert_latency_p50_ms": _pct(fast.alert_lat, 50),
        "alert_latency_p99_ms": _pct(fast.alert_lat, 99),
        "alert_latency_max_ms": _pct(fast.alert_lat, 100),
        "raised_latency_p99_ms": _pct(fast.raise_lat, 99),
        "map_updates": len(fast.delta_lat),
        "map_update_latency_p50_ms": _pct(fast.delta_lat, 50),
        "map_update_latency_p99_ms": _pct(fast.delta_lat, 99),
        "ws_mb_per_min_fast_client": round(
            fast.bytes / 1e6 / (measured_s / 60 + args.warmup_s / 60), 1
        ),
        "api_p50_ms": _pct(api_s, 50),
        "api_p99_ms": _pct(api_s, 99),
        "fast_client_closed": fast.closed,
        "slow_clients": [
            {
                "updates": c.updates,
                # Events the fast client had that this one never got, leaving out those
                # before its snapshot (they are in the snapshot's alert list).
                "alert_events_missed": sum(
                    1 for e in fast.alert_events - c.alert_events if e[2] > (c.t_snapshot or 0.0)
                ),
                "alert_events": len(c.alert_events),
                "drain": c.drain,
                "closed": c.closed,
            }
            for c in slows
        ],
        "ws_downgrades": metrics.get("skywarden_ws_downgrades_total"),
        "detections_dropped_queue": metrics.get("skywarden_detections_dropped_queue_total"),
        "engine_ms_per_scan_mean": metrics.get("skywarden_scan_ms_mean"),
        # The record keeps up: rows waiting for the store's writer (every 10 s), and
        # any dropped past its bound.
        "store_pending_rows_max": max((p for p in store_pending if p == p), default=None),
        "store_rows_dropped": (
            metrics.get("skywarden_store_dropped_track_lines_total", 0.0)
            + metrics.get("skywarden_store_dropped_detections_total", 0.0)
        ),
        "rss_mb_start": rss[0][1] if rss else None,
        "rss_mb_end": rss[-1][1] if rss else None,
        "rss_samples": len(rss),
        "rss_slope_mb_per_min": round(slope, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="measured time (after warm-up)")
    ap.add_argument("--warmup-s", type=float, default=60.0)
    ap.add_argument("--drones", type=int, default=500, help="hostile drones in flight at once")
    ap.add_argument("--birds", type=int, default=1500)
    ap.add_argument("--slow-clients", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--worker",
        default="process,thread",
        help="where serve runs the engine (engine.worker), one run each, side by side",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scenario, store and log")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    workers = [w.strip() for w in a.worker.split(",") if w.strip()]
    if not workers or not set(workers) <= {"thread", "process"}:
        ap.error("--worker: a comma-separated list of 'thread' and 'process'")
    tmp = Path(tempfile.mkdtemp(prefix="skywarden-live-scale-"))
    try:
        scen = simulate(a, tmp)
        res = [asyncio.run(run(a, scen, w)) for w in workers]
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        sys.stdout.write(orjson.dumps(res if len(res) > 1 else res[0]).decode() + "\n")
        return
    t = Table(title="skywarden serve at scale: detection → WebSocket, memory")
    t.add_column("measure")
    for r in res:
        t.add_column(f"engine on a {r['worker']}", justify="right")
    for k in res[0]:
        if k == "worker":
            continue
        t.add_row(
            k.replace("_", " "),
            *(f"{r[k]:.1f}" if isinstance(r[k], float) else str(r[k]) for r in res),
        )
    Console().print(t)


if __name__ == "__main__":
    main()
