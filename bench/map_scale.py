"""The live map with thousands of tracks, measured in Chromium.

Serves the real web app (the same ``create_app`` as ``skywarden serve``, uvicorn on
127.0.0.1) and feeds its live picture at 1 Hz from a thread: ``--tracks`` objects
(a quarter drones flying at five zones in waves, the rest birds, aircraft,
helicopters and unknowns), with the alert lifecycle a raid makes (raised, updated as
the time to arrival falls, cleared). Debian's Chromium, through Playwright, signs
in and shows the map; the page is instrumented from outside (an init script), not by
the app:

- **frames**: the interval between animation frames (a frame that takes longer than
  16.7 ms shows as a longer interval);
- **update**: main-thread script time spent on the WebSocket messages (parse, state,
  alert list) and in animation-frame callbacks (the map's redraw, the alert list),
  summed per second of data, and for each tracks message its handling plus the
  redraw in the frame that follows;
- **long tasks** (> 50 ms, the browser's own PerformanceObserver) and long animation
  frames (their whole duration, rendering included);
- **CPU**: the share of one CPU used by the page's main thread and by its renderer
  process (Chromium's counters), which other load on the machine does not inflate as
  it does every wall-clock figure above (the load average is printed too).

Steady state is measured with no one touching the page, after a warm-up; a second
phase pans, zooms and hovers with the mouse. No figure is asserted: it prints them.

Run: ``.venv/bin/python bench/map_scale.py [--tracks 2000] [--seconds 60] [--json]``.
``--static DIR`` serves the page from another copy of ``web/static`` (to compare
renderers, e.g. ``git archive <commit> src/skywarden/web/static``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from rich.console import Console
from rich.table import Table

from skywarden.geodesy import LocalFrame
from skywarden.store import Store
from skywarden.types import AlertLine, ScanOutput, Sensor, TrackLine, Zone
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

console = Console()
SITE = (51.0, 1.0, 20.0)
FRAME = LocalFrame(*SITE)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
RANGE_M = 8000.0
ZONE_R_M = 2500.0  # zone centres, on a circle about the site
ZONE_HALF_M = 300.0
# Class shares besides the drones (a quarter of all).
OTHERS = {"bird": 0.69, "aircraft": 0.03, "helicopter": 0.01, "unknown": 0.02}

# The page's instruments: frame intervals, script time in message handlers and in
# animation-frame callbacks, long tasks and long animation frames.
INSTRUMENT = """
(() => {
  const B = (window.__bench = { frames: [], handler: [], raf: [], longtasks: [], loaf: [] });
  const raf = window.requestAnimationFrame.bind(window);
  let last = null;
  const loop = (ts) => { if (last !== null) B.frames.push([ts, ts - last]); last = ts; raf(loop); };
  raf(loop);
  window.requestAnimationFrame = (cb) => raf((ts) => {
    const t0 = performance.now();
    try { cb(ts); } finally { B.raf.push([t0, performance.now() - t0, ts, cb.name]); }
  });
  const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get() { return desc.get.call(this); },
    set(fn) {
      desc.set.call(this, (ev) => {
        const t0 = performance.now();
        try { fn(ev); } finally {
          const m = /"type":"(\\w+)"/.exec(ev.data.slice(0, 40));
          B.handler.push([t0, performance.now() - t0, m ? m[1] : "?", ev.data.length]);
        }
      });
    },
  });
  for (const type of ["longtask", "long-animation-frame"]) {
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          (type === "longtask" ? B.longtasks : B.loaf).push([e.startTime, e.duration]);
        }
      }).observe({ type, buffered: true });
    } catch (e) { /* not in this browser */ }
  }
})();
"""


def _zone(i: int) -> Zone:
    a = 2 * math.pi * i / 5
    c = np.array([ZONE_R_M * math.sin(a), ZONE_R_M * math.cos(a)])
    corners = c + ZONE_HALF_M * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
    lat, lon, _ = FRAME.to_geodetic(np.c_[corners, np.zeros(4)])
    return Zone(
        id=f"Z{i + 1}", name=f"zone {i + 1}", floor_m=0.0, ceiling_m=1500.0, priority=1,
        polygon=[(float(lo), float(la)) for la, lo in zip(lat, lon, strict=True)],
    )  # fmt: skip


class Picture:
    """``n`` objects: drones flying at the zones in waves (respawned far out when they
    arrive), birds wandering, aircraft and helicopters on straight lines and circles."""

    def __init__(self, n: int, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_drones = n // 4
        counts = {k: round(v * n) for k, v in OTHERS.items()}
        counts["bird"] += n - self.n_drones - sum(counts.values())
        self.cls = ["drone"] * self.n_drones + [c for c, k in counts.items() for _ in range(k)]
        self.ids = [f"{c[0].upper()}{i}" for i, c in enumerate(self.cls)]
        self.pos = np.zeros((n, 3))
        self.vel = np.zeros((n, 3))
        self.target = np.zeros(n, dtype=int)
        self.spawned = np.zeros(n, dtype=int)  # bumps on respawn: a new alert each pass
        self.centres = np.array(
            [[ZONE_R_M * math.sin(2 * math.pi * i / 5), ZONE_R_M * math.cos(2 * math.pi * i / 5)]
             for i in range(5)]
        )  # fmt: skip
        for i in range(n):
            self._spawn(i, first=True)

    def _spawn(self, i: int, first: bool = False) -> None:
        c = self.cls[i]
        r = self.rng
        if c == "drone":
            self.target[i] = r.integers(5)
            a = r.uniform(0, 2 * math.pi)
            d = r.uniform(2000, 6000) if first else r.uniform(5000, 7000)
            start = self.centres[self.target[i]] + d * np.array([math.sin(a), math.cos(a)])
            self.pos[i] = [*start, r.uniform(50, 150)]
            self._aim(i)
            self.spawned[i] += 1
        else:
            self.pos[i] = [*r.uniform(-RANGE_M, RANGE_M, 2) * 0.9, r.uniform(30, 3000)]
            speed = {"bird": 10.0, "aircraft": 80.0, "helicopter": 40.0, "unknown": 5.0}[c]
            a = r.uniform(0, 2 * math.pi)
            self.vel[i] = [speed * math.sin(a), speed * math.cos(a), 0.0]

    def _aim(self, i: int) -> None:
        d = self.centres[self.target[i]] - self.pos[i, :2]
        self.vel[i] = [*(15.0 * d / max(1.0, float(np.hypot(*d)))), 0.0]

    def step(self, dt: float) -> None:
        self.pos += self.vel * dt
        drones = np.arange(self.n_drones)
        arrived = np.hypot(*(self.pos[drones, :2] - self.centres[self.target[drones]]).T) < 50
        for i in drones[arrived]:
            self._spawn(int(i))
        birds = [i for i, c in enumerate(self.cls) if c == "bird"]
        turn = self.rng.normal(0, 0.2, len(birds))
        for i, w in zip(birds, turn, strict=True):
            ve, vn = self.vel[i, :2]
            self.vel[i, :2] = [
                ve * math.cos(w) - vn * math.sin(w),
                ve * math.sin(w) + vn * math.cos(w),
            ]
        far = np.abs(self.pos[:, :2]).max(axis=1) > RANGE_M
        self.vel[far, :2] *= -1  # everyone but the drones turns back at the edge

    def tracks(self, t: float) -> tuple[TrackLine, ...]:
        lat, lon, alt = FRAME.to_geodetic(self.pos)
        return tuple(
            TrackLine(
                t=t,
                id=self.ids[i],
                lat=float(lat[i]),
                lon=float(lon[i]),
                alt_m=float(alt[i]),
                vel_enu_mps=(float(self.vel[i, 0]), float(self.vel[i, 1]), 0.0),
                status="confirmed",
                class_=self.cls[i],
                class_p={self.cls[i]: 0.9, "unknown": 0.1},
            )
            for i in range(len(self.cls))
        )


class Alerts:
    """A raid's alert lifecycle: a drone within 5 km of its zone is alerted (critical
    under 60 s, warning under 180 s, else info), updated when its level changes or
    every ``UPDATE_S`` (as often as the threat engine may update an alert at all:
    ``min_update_interval_s``), cleared when it arrives and respawns."""

    UPDATE_S = 10.0

    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self.open: dict[str, tuple[str, float]] = {}  # alert id -> (level, last sent)

    def step(self, t: float) -> tuple[AlertLine, ...]:
        pic = self.pic
        out = []
        now: set[str] = set()
        lat, lon, _ = FRAME.to_geodetic(np.c_[pic.centres, np.zeros(5)])
        for i in range(pic.n_drones):
            z = int(pic.target[i])
            d = float(np.hypot(*(pic.pos[i, :2] - pic.centres[z])))
            if d > 5000:
                continue
            aid = f"A-{pic.ids[i]}-{pic.spawned[i]}"
            now.add(aid)
            tta = max(0.0, (d - ZONE_HALF_M) / 15.0)
            level = "critical" if tta < 60 else "warning" if tta < 180 else "info"
            prev = self.open.get(aid)
            if prev is None or prev[0] != level or t - prev[1] >= self.UPDATE_S:
                out.append(
                    AlertLine(
                        t=t,
                        id=aid,
                        level=level,
                        state="raised" if prev is None else "updated",
                        track=pic.ids[i],
                        zone=f"Z{z + 1}",
                        tta_s=tta,
                        entry_lat=float(lat[z]),
                        entry_lon=float(lon[z]),
                        class_="drone",
                    )
                )
                self.open[aid] = (level, t)
        for aid in [a for a in self.open if a not in now]:
            level, _ = self.open.pop(aid)
            out.append(AlertLine(t=t, id=aid, level=level, state="cleared", kind="threat"))
        return tuple(out)


def feed(live: LiveState, pic: Picture, alerts: Alerts, stop: threading.Event) -> None:
    """One scan a second, on the wall clock, until ``stop``."""
    t_next = time.time()
    while not stop.is_set():
        t = time.time()
        live.apply(ScanOutput(t_s=t, tracks=pic.tracks(t), alerts=alerts.step(t)))
        pic.step(1.0)
        t_next += 1.0
        stop.wait(max(0.0, t_next - time.time()))


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def cpu_seconds(cdp) -> dict[str, float]:
    """CPU time so far (s) of the page's main thread and of its whole renderer process
    (Chromium's own counters): unlike wall-clock figures, other work on the machine
    does not inflate them."""
    m = {x["name"]: x["value"] for x in cdp.send("Performance.getMetrics")["metrics"]}
    return {"thread": m["ThreadTime"], "process": m["ProcessTime"]}


def cpu_share(a: dict[str, float], b: dict[str, float], wall_ms: float) -> dict[str, float]:
    """Per cent of one CPU used between ``a`` and ``b``."""
    return {
        "main_thread_cpu_pct": 100 * (b["thread"] - a["thread"]) / (wall_ms / 1000),
        "renderer_cpu_pct": 100 * (b["process"] - a["process"]) / (wall_ms / 1000),
    }


def summarise(b: dict, t0: float, t1: float) -> dict:
    """Figures of the page's records between page times ``t0`` and ``t1`` (ms)."""
    within = lambda rows: [r for r in rows if t0 <= r[0] < t1]  # noqa: E731
    frames = [r[1] for r in within(b["frames"])]
    handler = within(b["handler"])
    raf = within(b["raf"])
    per_s: dict[int, float] = {}
    for r in handler + raf:
        k = int((r[0] - t0) // 1000)
        per_s[k] = per_s.get(k, 0.0) + r[1]
    # Each tracks message: its handling, plus the callbacks of the first frame after it.
    by_frame: dict[float, list[list[float]]] = {}
    for r in raf:
        by_frame.setdefault(r[2], []).append(r)
    frame_ts = sorted(by_frame)
    tracks_update = []
    for h in handler:
        if h[2] != "tracks":
            continue
        end = h[0] + h[1]
        nxt = next((f for f in frame_ts if min(r[0] for r in by_frame[f]) >= end), None)
        redraw = sum(r[1] for r in by_frame[nxt]) if nxt is not None else 0.0
        tracks_update.append((h[1], redraw))
    longtasks = [r[1] for r in within(b["longtasks"])]
    loaf = [r[1] for r in within(b["loaf"])]
    return {
        "seconds": (t1 - t0) / 1000,
        "frames": len(frames),
        "frame_p50_ms": pct(frames, 50),
        "frame_p95_ms": pct(frames, 95),
        "frame_p99_ms": pct(frames, 99),
        "frame_max_ms": max(frames, default=float("nan")),
        "messages": len(handler),
        # The server sends a whole snapshot again when a client's queue overflowed.
        "snapshots": sum(1 for h in handler if h[2] == "snapshot"),
        "snapshot_handle_max_ms": max((h[1] for h in handler if h[2] == "snapshot"), default=0.0),
        "tracks_handle_p50_ms": pct([u[0] for u in tracks_update], 50),
        "tracks_handle_p95_ms": pct([u[0] for u in tracks_update], 95),
        "tracks_redraw_p50_ms": pct([u[1] for u in tracks_update], 50),
        "tracks_redraw_p95_ms": pct([u[1] for u in tracks_update], 95),
        "update_per_s_p50_ms": pct(list(per_s.values()), 50),
        "update_per_s_p95_ms": pct(list(per_s.values()), 95),
        "update_per_s_max_ms": max(per_s.values(), default=float("nan")),
        "long_tasks": len(longtasks),
        "long_tasks_over_200ms": sum(1 for d in longtasks if d > 200),
        "long_task_max_ms": max(longtasks, default=0.0),
        "long_frames": len(loaf),
        "long_frame_max_ms": max(loaf, default=0.0),
    }


def interact(page, seconds: float) -> None:
    """Pan by dragging, zoom with the wheel and sweep the pointer over the tracks."""
    if seconds <= 0:
        return
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        dx = 150 * math.cos(k)
        dy = 100 * math.sin(k)
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=20)
        page.mouse.up()
        page.mouse.wheel(0, -240 if k % 2 == 0 else 240)
        page.wait_for_timeout(400)
        for s in range(40):  # hover sweep
            page.mouse.move(box["x"] + 40 + s * (box["width"] - 80) / 40, cy + 60 * math.sin(s / 4))
            page.wait_for_timeout(10)
        k += 1


def run(
    n: int, seconds: float, warmup: float, interact_s: float, static: Path | None, shot: Path | None
) -> dict:
    from playwright.sync_api import sync_playwright

    if static is not None:
        import skywarden.web.app as web_app

        web_app.STATIC_DIR = static  # type: ignore[attr-defined]
    sensors = [
        Sensor(
            id="radar", kind="radar", lat=SITE[0], lon=SITE[1], alt_m=SITE[2], max_range_m=RANGE_M
        )
    ]
    live = LiveState(sensors, [_zone(i) for i in range(5)])
    pic = Picture(n)
    alerts = Alerts(pic)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        token = store.create_token("operator", "bench")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        srv = uvicorn.Server(
            uvicorn.Config(
                create_app(live, store, WebConfig()), log_level="warning", lifespan="off"
            )
        )
        th = threading.Thread(target=lambda: asyncio.run(srv.serve(sockets=[sock])), daemon=True)
        th.start()
        stop = threading.Event()
        feeder = threading.Thread(target=feed, args=(live, pic, alerts, stop), daemon=True)
        feeder.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 850})
                    # A slow renderer (the old one, at 2,000 tracks) answers slowly.
                    page.set_default_timeout(180_000)
                    page.add_init_script(INSTRUMENT)
                    errors: list[str] = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    page.goto(url)
                    page.fill("#login-token", token)
                    page.click("#login button[type=submit]")
                    page.wait_for_selector("#conn.up")
                    page.mouse.move(5, 5)  # off the map: no hover
                    page.wait_for_timeout(warmup * 1000)
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    cpu0 = cpu_seconds(cdp)
                    t0 = page.evaluate("performance.now()")
                    page.wait_for_timeout(seconds * 1000)
                    t1 = page.evaluate("performance.now()")
                    cpu1 = cpu_seconds(cdp)
                    if shot is not None:
                        page.screenshot(path=str(shot))
                    interact(page, interact_s)
                    t2 = page.evaluate("performance.now()")
                    cpu2 = cpu_seconds(cdp)
                    shown = (
                        page.inner_text(".filters summary")
                        if page.query_selector(".filters")
                        else ""
                    )
                    heap = page.evaluate(
                        "performance.memory ? performance.memory.usedJSHeapSize : 0"
                    )
                    b = page.evaluate("window.__bench")
                finally:
                    browser.close()
        finally:
            stop.set()
            feeder.join(timeout=5)
            srv.should_exit = True
            th.join(timeout=10)
            sock.close()
            store.close()
    return {
        "tracks": n,
        "open_alerts": len(alerts.open),
        "page_says": shown,
        "js_heap_mb": heap / 1e6,
        "page_errors": errors,
        # Other work on the machine inflates every wall-clock figure: the 1-minute load
        # average at the start and the end, against this many CPUs.
        "load_average": [load0, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
        "steady": {**summarise(b, t0, t1), **cpu_share(cpu0, cpu1, t1 - t0)},
        "interacting": {**summarise(b, t1, t2), **cpu_share(cpu1, cpu2, t2 - t1)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0, help="steady-state measurement")
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--interact", type=float, default=20.0, help="pan/zoom/hover phase, s")
    ap.add_argument("--static", type=Path, default=None, help="serve the page from this folder")
    ap.add_argument("--screenshot", type=Path, default=None, help="PNG of the steady map")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"needs Debian's Chromium at {CHROMIUM}")
    out = run(args.tracks, args.seconds, args.warmup, args.interact, args.static, args.screenshot)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    console.print(
        f"{out['tracks']} tracks at 1 Hz, {out['open_alerts']} open alerts at the end; "
        f"the page says '{out['page_says']}'; JS heap {out['js_heap_mb']:.0f} MB; "
        f"load average {out['load_average'][0]:.1f} → {out['load_average'][1]:.1f} "
        f"on {out['cpus']} CPUs"
    )
    if out["page_errors"]:
        console.print(f"[red]page errors: {out['page_errors'][:5]}[/red]")
    table = Table(title="Map in Chromium (ms)")
    table.add_column("figure")
    for phase in ("steady", "interacting"):
        table.add_column(phase, justify="right")
    for key in out["steady"]:
        table.add_row(key, *(f"{out[ph][key]:.1f}" for ph in ("steady", "interacting")))
    console.print(table)


if __name__ == "__main__":
    main()
