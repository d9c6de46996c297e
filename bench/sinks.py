"""What the outbound sinks cost the pipeline, per scan.

Runs the same scan loop twice on one event loop: with no sinks, and with every
sink on (TAK over TCP, SAPIENT to a test C2 node, ASTERIX CAT062 over UDP, and
a webhook whose endpoint is dead, so it keeps failing and retrying). Each scan
does a fixed piece of tracker-like work (gating distances and an assignment
over ``--tracks`` tracks), then offers the scan's output to every sink, as the
pipeline does. Printed side by side: the cost of the offers, the scan's own
work time, and how late each scan started against its schedule (the event
loop's delay, which is where a sink doing work on the loop would show).

    .venv/bin/python bench/sinks.py --tracks 200 --scans 60 --period-s 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

from skywarden.geodesy import LocalFrame
from skywarden.sinks.base import QueueWorker
from skywarden.sinks.config import (
    Asterix62Config,
    SapientOutConfig,
    SinksConfig,
    TakConfig,
    WebhookConfig,
    build_sinks,
)
from skywarden.sinks.sapient_out import frame_message, read_message
from skywarden.types import AlertLine, ScanOutput, TrackLine, Zone

FRAME = LocalFrame(51.47, -0.4543, 80.0)


def make_scans(n_tracks: int, n_scans: int, t0_s: float, period_s: float, seed: int):
    """``n_scans`` outputs of ``n_tracks`` drones in straight flight, three alerts each."""
    rng = np.random.default_rng(seed)
    pos = np.column_stack(
        [
            rng.uniform(-4000, 4000, n_tracks),
            rng.uniform(-4000, 4000, n_tracks),
            rng.uniform(20, 400, n_tracks),
        ]
    )
    vel = rng.normal(0.0, 12.0, (n_tracks, 3))
    vel[:, 2] *= 0.1
    scans = []
    for k in range(n_scans):
        t = t0_s + k * period_s
        lat, lon, alt = FRAME.to_geodetic(pos + vel * (k * period_s))
        tracks = tuple(
            TrackLine(
                t=t,
                id=f"T{i + 1}",
                lat=float(lat[i]),
                lon=float(lon[i]),
                alt_m=float(alt[i]),
                vel_enu_mps=tuple(float(v) for v in vel[i]),
                status="confirmed",
                class_="drone",
                class_p={"drone": 0.9, "bird": 0.05, "unknown": 0.05},
                pos_std_m=8.0,
            )
            for i in range(n_tracks)
        )
        alerts = tuple(
            AlertLine(
                t=t,
                id=f"A{j}",
                level="critical",
                state="raised" if k == 0 else "updated",
                kind="threat",
                track=f"T{j + 1}",
                zone="Z1",
                tta_s=60.0 - k * period_s,
                class_="drone",
            )
            for j in range(3)
        )
        scans.append(ScanOutput(t_s=t, tracks=tracks, alerts=alerts))
    return scans, pos


def tracker_work(pos_m: np.ndarray) -> None:
    """Stand-in for one scan of tracking: all-pairs distances and an assignment."""
    d = np.linalg.norm(pos_m[:, None, :] - pos_m[None, :, :] + 1.0, axis=-1)
    linear_sum_assignment(d)


async def start_receivers():
    """A TAK TCP receiver, a SAPIENT C2 node and a UDP sink; all discard what they get."""

    async def tak(reader, writer):
        while await reader.read(1 << 16):
            pass

    async def c2(reader, writer):
        from sapient_msg.bsi_flex_335_v2_0 import sapient_message_pb2

        try:
            await read_message(reader)
            ack = sapient_message_pb2.SapientMessage(node_id="c2")
            ack.registration_ack.acceptance = True
            writer.write(frame_message(ack))
            await writer.drain()
            while True:
                await read_message(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    tak_srv = await asyncio.start_server(tak, "127.0.0.1", 0)
    c2_srv = await asyncio.start_server(c2, "127.0.0.1", 0)
    udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
    s.close()
    ports = {
        "tak": tak_srv.sockets[0].getsockname()[1],
        "c2": c2_srv.sockets[0].getsockname()[1],
        "udp": udp.get_extra_info("sockname")[1],
        "dead": dead_port,
    }
    return ports, [tak_srv, c2_srv, udp]


async def run(sinks: list[QueueWorker], scans, pos0, vel, period_s: float) -> dict[str, np.ndarray]:
    tasks = [asyncio.create_task(s.run()) for s in sinks]
    await asyncio.sleep(1.0)  # connect, register, spawn the CAT062 encoder
    loop = asyncio.get_running_loop()
    offer_us, work_ms, late_ms = [], [], []
    t_start = loop.time()
    for k, out in enumerate(scans):
        due = t_start + k * period_s
        await asyncio.sleep(max(0.0, due - loop.time()))
        late_ms.append((loop.time() - due) * 1e3)
        t0 = time.perf_counter()
        tracker_work(pos0 + vel * (k * period_s))
        t1 = time.perf_counter()
        for s in sinks:
            s.offer(out)
        t2 = time.perf_counter()
        work_ms.append((t1 - t0) * 1e3)
        offer_us.append((t2 - t1) * 1e6)
    for s in sinks:
        await asyncio.wait_for(s.queue.join(), 30.0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for s in sinks:
        await s.aclose()
    return {
        "offer_us": np.array(offer_us),
        "work_ms": np.array(work_ms),
        "late_ms": np.array(late_ms),
    }


async def main(args: argparse.Namespace) -> None:
    ports, servers = await start_receivers()
    scans, pos0 = make_scans(args.tracks, args.scans, time.time(), args.period_s, seed=1)
    vel = np.zeros_like(pos0)
    zone = Zone(
        id="Z1", name="Z1", polygon=[(-0.46, 51.46), (-0.44, 51.46), (-0.44, 51.48), (-0.46, 51.48)],
        floor_m=0.0, ceiling_m=500.0,
    )  # fmt: skip
    cfg = SinksConfig(
        tak=[TakConfig(url=f"tcp://127.0.0.1:{ports['tak']}")],
        sapient=[SapientOutConfig(host="127.0.0.1", port=ports["c2"])],
        asterix62=[Asterix62Config(host="127.0.0.1", port=ports["udp"], sac=1, sic=1)],
        webhooks=[WebhookConfig(url=f"http://127.0.0.1:{ports['dead']}/hook", secret="bench")],
    )
    results = {}
    results["no sinks"] = await run([], scans, pos0, vel, args.period_s)
    sinks = build_sinks(cfg, FRAME, site_name="bench", zones=[zone], rng=np.random.default_rng(0))
    results["all sinks, webhook dead"] = await run(sinks, scans, pos0, vel, args.period_s)
    webhook = sinks[-1]
    for s in servers:
        s.close()

    print(f"{args.scans} scans of {args.tracks} tracks + 3 alerts, one every {args.period_s} s")
    names = list(results)
    print(f"{'':28s}" + "".join(f"{n:>26s}" for n in names))
    rows = [
        ("offer to sinks, median µs", "offer_us", np.median),
        ("offer to sinks, mean µs", "offer_us", np.mean),
        ("offer to sinks, p99 µs", "offer_us", lambda a: np.percentile(a, 99)),
        ("scan work, median ms", "work_ms", np.median),
        ("scan work, mean ms", "work_ms", np.mean),
        ("scan work, p99 ms", "work_ms", lambda a: np.percentile(a, 99)),
        ("scan start late, mean ms", "late_ms", np.mean),
        ("scan start late, p99 ms", "late_ms", lambda a: np.percentile(a, 99)),
    ]
    for label, key, f in rows:
        print(f"{label:28s}" + "".join(f"{f(results[n][key]):26.2f}" for n in names))
    print("sink counters:")
    for s in sinks:
        extra = {
            k: getattr(s, k)
            for k in ("sent_events", "rate_limited", "sent_messages", "sent_datagrams")
            if hasattr(s, k)
        }
        print(f"  {s.name}: handled={s.handled} dropped_scans={s.dropped} {extra}")
    print(f"  webhook health: {webhook.health()}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=200)
    p.add_argument("--scans", type=int, default=60)
    p.add_argument("--period-s", type=float, default=0.2)
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    asyncio.run(main(p.parse_args()))
