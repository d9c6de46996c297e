"""Sites -> JetStream -> region on loopback: latency, fusion time, throughput, CPU, memory.

Run: ``.venv/bin/python bench/region.py [--sites 20] [--tracks 200] [--seconds 60]``

Each site is a real :class:`RegionPublisher` (SQLite outbox, JetStream publish with
acknowledgement) fed one scan of ``--tracks`` confirmed tracks per second; the region
is a real :class:`RegionService` with its durable consumers, all in this process
with an embedded nats-server (so the figures include sharing the cores with it).
Latency is the region's receive time minus the scan time stamped by the site.
Sites stand 10 km apart in a row, each with its own drones (no overlap): the
association cost of a first sighting is paid once per track, then tracks are sticky.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from skywarden.geodesy import LocalFrame
from skywarden.region.config import NatsLinkConfig, RegionConfig, RegionLinkConfig
from skywarden.region.publish import RegionPublisher
from skywarden.region.schema import TracksMsg
from skywarden.region.server import NatsServer
from skywarden.region.service import RegionService
from skywarden.types import ScanOutput, Site, TrackLine


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def run(n_sites: int, n_tracks: int, seconds: float) -> None:
    frame = LocalFrame(51.0, -1.0, 0.0)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d, NatsServer(store_dir=d) as srv:
        tmp = Path(d)
        ids = [f"S{i:03d}" for i in range(n_sites)]
        region = RegionService(RegionConfig(
            lat=51.0, lon=-1.0, nats=NatsLinkConfig(url=srv.url), sites=ids,
            store=str(tmp / "region.db"),
        ))  # fmt: skip
        latency: list[float] = []
        #: Latencies of scans after the first 10 s (the first sightings are associated then).
        steady: list[float] = []
        fuse_ms: list[float] = []
        add = region.picture.add_tracks

        def timed_add(msg: TracksMsg) -> None:
            now = time.time()
            latency.append(now - msg.t)
            if msg.t > t_start + 10.0:
                steady.append(now - msg.t)
            add(msg)

        region.picture.add_tracks = timed_add  # type: ignore[method-assign]
        fuse = region.picture.fuse

        def timed_fuse(now: float | None = None):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            out = fuse(now)
            fuse_ms.append(1000 * (time.perf_counter() - t))
            return out

        region.picture.fuse = timed_fuse  # type: ignore[method-assign]
        load0 = os.getloadavg()
        t_start = time.time()
        await region.start()
        pubs, tasks, drones = [], [], []
        for i, sid in enumerate(ids):
            e0 = (i - n_sites / 2) * 10_000.0
            lat, lon, alt = frame.to_geodetic(np.array([e0, 0.0, 0.0]))
            site = Site(name=sid, lat=float(lat), lon=float(lon), alt_m=0.0)
            cfg = RegionLinkConfig(url=srv.url, site=sid, outbox=str(tmp / f"{sid}.db"))
            pub = RegionPublisher(cfg, site, clock=time.time)
            pubs.append(pub)
            tasks.append(asyncio.create_task(pub.run()))
            start = np.column_stack([e0 + rng.uniform(-4000, 4000, n_tracks),
                                     rng.uniform(-4000, 4000, n_tracks), rng.uniform(50, 500, n_tracks)])  # fmt: skip
            vel = np.column_stack([rng.uniform(-20, 20, (n_tracks, 2)), np.zeros(n_tracks)])
            drones.append((start, vel))
        t0 = time.time()
        cpu0 = time.process_time()
        k = 0
        rss_start = _rss_mb()
        while time.time() - t0 < seconds:
            t = time.time()
            for (start, vel), pub in zip(drones, pubs, strict=True):
                pos = start + vel * (t - t0)
                lat, lon, alt = frame.to_geodetic(pos)
                tracks = tuple(
                    TrackLine(t=t, id=f"T{j}", lat=float(lat[j]), lon=float(lon[j]),
                              alt_m=float(alt[j]), vel_enu_mps=tuple(float(v) for v in vel[j]),  # type: ignore[arg-type]
                              status="confirmed", class_="drone", class_p={"drone": 1.0},
                              pos_std_m=10.0)
                    for j in range(n_tracks)
                )  # fmt: skip
                pub.offer(ScanOutput(t_s=t, tracks=tracks, alerts=()))
            k += 1
            await asyncio.sleep(max(0.0, t0 + k - time.time()))
        wall = time.time() - t0
        cpu = time.process_time() - cpu0
        await asyncio.sleep(2.0)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pub in pubs:
            await pub.aclose()
        msgs = sum(st.messages for st in region.sites.values())
        lag = sorted(latency)
        await region.stop()
        print(f"sites {n_sites} x tracks {n_tracks} at 1 Hz for {wall:.0f} s (one process, "
              "embedded nats-server)")  # fmt: skip
        print(f"scans sent {k * n_sites}, region messages {msgs} ({msgs / wall:.0f}/s, "
              f"{msgs * n_tracks / wall:.0f} track states/s)")  # fmt: skip
        if lag:
            print(f"site -> region latency p50 {1000 * lag[len(lag) // 2]:.0f} ms, "
                  f"p99 {1000 * lag[int(0.99 * (len(lag) - 1))]:.0f} ms, max {1000 * lag[-1]:.0f} ms")  # fmt: skip
        st = sorted(steady)
        if st:
            print(f"  after the first 10 s: p50 {1000 * st[len(st) // 2]:.0f} ms, "
                  f"p99 {1000 * st[int(0.99 * (len(st) - 1))]:.0f} ms")  # fmt: skip
        fm = sorted(fuse_ms)
        if fm:
            print(f"fusion per call: p50 {fm[len(fm) // 2]:.1f} ms, p99 "
                  f"{fm[int(0.99 * (len(fm) - 1))]:.1f} ms, {len(fm)} calls")  # fmt: skip
        print(f"CPU of this process (sites + region): {100 * cpu / wall:.0f}% of one core; "
              f"RSS {rss_start:.0f} -> {_rss_mb():.0f} MB; max RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip
        print(f"machine: {os.cpu_count()} cores, load average at the start {load0[0]:.1f}, "
              f"at the end (1 min) {os.getloadavg()[0]:.1f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--tracks", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0)
    a = ap.parse_args()
    asyncio.run(run(a.sites, a.tracks, a.seconds))


if __name__ == "__main__":
    main()
