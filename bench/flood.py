"""Garbage flood on the JSON Lines ports of a real ``skywarden serve``: memory stays bounded.

Starts ``skywarden serve`` as its own process on loopback (default listener
limits, no token needed to reach the detection ports), then floods its TCP and
UDP JSON Lines ports for ``--seconds`` with what an attacker would send: random
bytes, 6 KB of ``{"a":`` nesting, over-long lines, redeclarations of the site's
radar, detections for random sensor names, random unknown keys, NaN. Meanwhile
it asks the HTTP API for the tracks every half second and samples the server's
resident memory (``/proc/PID/status``) every second.

Run: ``.venv/bin/python bench/flood.py [--seconds 60] [--json]``. All traffic stays
on 127.0.0.1. The issue's acceptance: RSS growth under 50 MB over 60 s, and the
API answering throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from skywarden.store import Store

SITE = {"name": "flood", "lat": 51.0, "lon": 1.0, "alt_m": 20.0}
RADAR = {"id": "radar-1", "kind": "radar", "lat": 51.0, "lon": 1.0, "alt_m": 30.0,
         "update_s": 1.0, "max_range_m": 20000.0}  # fmt: skip


def free_ports() -> tuple[int, int, int]:
    """Three loopback ports free when picked (TCP, UDP, TCP), held open together so that
    the two TCP ones differ."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as http,
    ):
        for sock in (tcp, udp, http):
            sock.bind(("127.0.0.1", 0))
        return tcp.getsockname()[1], udp.getsockname()[1], http.getsockname()[1]


def garbage(rng: random.Random) -> bytes:
    """One hostile line (no newline)."""
    pick = rng.randrange(8)
    if pick == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" ")
    if pick == 1:
        return b'{"a":' * 1200 + b"1" + b"}" * 1200
    if pick == 2:
        return b'{"type":"detection","pad":"' + b"x" * 70_000 + b'"}'
    if pick == 3:
        return b'{"type":"sensor","id":"radar-1","kind":"rf","lat":0,"lon":0,"alt_m":0}'
    if pick == 4:
        name = f"{rng.getrandbits(64):016x}"
        return b'{"type":"detection","t":%f,"sensor":"%s","az_deg":1}' % (
            time.time(),
            name.encode(),
        )
    if pick == 5:
        key = f"{rng.getrandbits(64):016x}"
        return b'{"type":"t%s","%s":1}' % (key.encode(), key.encode())
    if pick == 6:
        return b'{"type":"detection","t":NaN,"sensor":"radar-1"}'
    return (
        b'{"type":"zone","id":"%x","name":"z","floor_m":0,"ceiling_m":1,"polygon":[[1,51],[1.1,51],[1,51.1]]}'
        % rng.getrandbits(32)
    )


class Site:
    """A ``skywarden serve`` process with JSON Lines ports and a viewer token."""

    #: How long the server may take to answer its API (a cold start compiles the
    #: tracker's and classifier's Numba code; a busy CI machine is slow at it).
    START_TIMEOUT_S = 180.0

    def __init__(self, workdir: Path, tries: int = 5) -> None:
        store = Store(workdir / "flood.db")
        self.token = store.create_token("viewer", "flood")
        store.close()
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.log = workdir / "serve.log"
        # A port free when picked may be taken before the server binds it; the server
        # then says so and exits, and other ports are tried (CI once lost a run to a
        # server that did not come up, with nothing to say why).
        for _ in range(tries):
            self.tcp_port, self.udp_port, self.http_port = free_ports()
            cfg = {
                "site": SITE,
                "sensors": [RADAR],
                "sources": {"jsonl_tcp_port": self.tcp_port, "jsonl_udp_port": self.udp_port},
                "store": {"path": str(workdir / "flood.db")},
                "server": {"port": self.http_port},
            }
            (workdir / "site.yaml").write_text(yaml.safe_dump(cfg))
            with self.log.open("wb") as err:
                self.proc = subprocess.Popen(
                    [sys.executable, "-c", "from skywarden.cli import main; main()",
                     "serve", "--config", str(workdir / "site.yaml")],
                    stdout=subprocess.DEVNULL, stderr=err, env=os.environ.copy(),
                )  # fmt: skip
            self.base = f"http://127.0.0.1:{self.http_port}"
            if self._wait_up():
                return
            said = self.stop()
            if "already in use" not in said:
                raise RuntimeError(f"skywarden serve did not come up: {said[-2000:]}")
        raise RuntimeError(f"{tries} sets of ports were taken before the server bound them")

    def _wait_up(self) -> bool:
        """Whether the API answered before the server exited or START_TIMEOUT_S passed."""
        deadline = time.monotonic() + self.START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.base + "/api/tracks", headers=self.headers).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # a separate process: nothing to await
        return False

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmRSS")

    def stop(self) -> str:
        """Stop the server; returns what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text(errors="replace")


async def flood(site: Site, seconds: float, connections: int = 6) -> dict[str, Any]:
    """Flood both ports for ``seconds``; returns bytes sent, API answers, RSS samples."""
    rng = random.Random(1)
    stop = time.monotonic() + seconds
    sent = {"tcp_bytes": 0, "udp_datagrams": 0, "tcp_reconnects": 0}
    api: list[tuple[float, int]] = []
    rss: list[float] = [site.rss_mb()]

    async def tcp_client() -> None:
        while time.monotonic() < stop:
            try:
                _, w = await asyncio.open_connection("127.0.0.1", site.tcp_port)
                while time.monotonic() < stop:
                    chunk = b"".join(garbage(rng) + b"\n" for _ in range(20))
                    w.write(chunk)
                    await w.drain()
                    sent["tcp_bytes"] += len(chunk)
                w.close()
            except OSError:
                sent["tcp_reconnects"] += 1
                await asyncio.sleep(0.05)

    async def udp_client() -> None:
        loop = asyncio.get_running_loop()
        tr, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", site.udp_port)
        )
        while time.monotonic() < stop:
            lines = [garbage(rng) for _ in range(4)]
            tr.sendto(b"\n".join(ln for ln in lines if len(ln) < 60_000))
            sent["udp_datagrams"] += 1
            await asyncio.sleep(0.0005)
        tr.close()

    async def api_client() -> None:
        async with httpx.AsyncClient(base_url=site.base, headers=site.headers) as c:
            while time.monotonic() < stop:
                t0 = time.monotonic()
                try:
                    r = await c.get("/api/tracks", timeout=5.0)
                    api.append((time.monotonic() - t0, r.status_code))
                except httpx.HTTPError:
                    api.append((time.monotonic() - t0, 0))
                await asyncio.sleep(0.5)

    async def sampler() -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(1.0)
            rss.append(site.rss_mb())

    await asyncio.gather(
        *(tcp_client() for _ in range(connections)), udp_client(), api_client(), sampler()
    )
    async with httpx.AsyncClient(base_url=site.base, headers=site.headers) as c:
        metrics = (await c.get("/metrics", timeout=10.0)).text
    # One series per (source, reason); their sum is every rejection.
    rejected = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("skywarden_rejected_messages_total")
    )
    return {**sent, "api": api, "rss_mb": rss, "rejected": rejected}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        site = Site(Path(d))
        try:
            res = asyncio.run(flood(site, args.seconds))
        finally:
            err = site.stop()
    rss = res["rss_mb"]
    ok = [s for _, s in res["api"] if s == 200]
    lat = sorted(t for t, _ in res["api"])
    summary = {
        "seconds": args.seconds,
        "tcp_mb_sent": round(res["tcp_bytes"] / 1e6, 1),
        "udp_datagrams": res["udp_datagrams"],
        "rss_start_mb": round(rss[0], 1),
        "rss_peak_mb": round(max(rss), 1),
        "rss_end_mb": round(rss[-1], 1),
        "rss_growth_mb": round(rss[-1] - rss[0], 1),
        "api_answers": f"{len(ok)}/{len(res['api'])}",
        "api_p99_s": round(lat[int(0.99 * (len(lat) - 1))], 3) if lat else None,
        "rejected": res["rejected"],
        "server_stderr_lines": len(err.splitlines()),
        "tracebacks": err.count("Traceback"),
    }
    if args.json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for k, v in summary.items():
            print(f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
