"""``skywarden region`` as a process, SIGKILLed mid-stream and started again.

A site (played by publishing its encoded messages to JetStream) raises and then
clears one alert per drone while the region runs; the region is killed with
SIGKILL three times while it consumes and is started again on the same store.
When its durable consumer is drained, every site alert event has given exactly
one regional event: each drone one ``raised`` then one ``cleared``, nothing
lost, nothing repeated.

Where a kill lands is up to chance: the narrow window between the region's
commit and JetStream receiving its acknowledgements (a replay of applied
events) is covered deterministically by test_region.py's restart test.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import msgspec
import nats
import pytest
import yaml

from skywarden.region.schema import AlertsMsg, TracksMsg, encode, subject
from skywarden.region.server import NatsServer
from skywarden.types import AlertLine

from .conftest import alert, track

SKYWARDEN = str(Path(sys.executable).parent / "skywarden")
#: Drones; each gives a ``raised`` and a ``cleared`` site alert event.
N = 240


def start_region(config: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``skywarden region``; its process and API base URL once it listens."""
    err = log.open("a")
    proc = subprocess.Popen(
        [SKYWARDEN, "region", "--config", str(config), "--port", "0", "--json"],
        stdout=subprocess.PIPE, stderr=err, text=True,
    )  # fmt: skip
    err.close()
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "}\n":
        line = proc.stdout.readline()
        assert line, f"region exited: {log.read_text()}"
        lines.append(line)
    url = json.loads("".join(lines))["url"]
    return proc, url.removesuffix("/api/sites")


def site_messages() -> list[tuple[str, bytes]]:
    """Drone k's track and its alert raised; the alert cleared three drones later (within
    one fetched batch, so a batch applied twice would raise a cleared alert again)."""
    out: list[tuple[str, bytes]] = []
    for k in range(N + 3):
        t = 1000.0 + k
        if k < N:
            # Drones 200 m apart in latitude: none is associated with another.
            lat = 51.0 + 0.0018 * k
            tr = TracksMsg(site="A", t=t, lat=51.0, lon=-1.0, alt_m=0.0, vel_std_mps=2.0,
                           tracks=[track(f"T{k}", t, lat, -1.0)])  # fmt: skip
            out.append((subject("A", "tracks"), encode(tr)))
            raised = alert(f"a{k}", t, f"T{k}", "Z1")
            out.append((subject("A", "alerts"), encode(AlertsMsg(site="A", t=t, alerts=[raised]))))
        j = k - 3
        if j >= 0:
            cleared = alert(f"a{j}", t, f"T{j}", "Z1", state="cleared")
            out.append((subject("A", "alerts"), encode(AlertsMsg(site="A", t=t, alerts=[cleared]))))
    return out


async def events_count(client: httpx.AsyncClient, base: str) -> int:
    try:
        r = await client.get(f"{base}/api/alerts", timeout=2.0)
    except httpx.HTTPError:
        return -1
    return len(r.json()["events"])


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_repeats_no_alert(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    store = tmp_path / "region.db"
    config = tmp_path / "region.yaml"
    config.write_text(yaml.safe_dump({
        "lat": 51.0, "lon": -1.0, "sites": ["A"], "store": str(store),
        "nats": {"url": nats_server.url}, "ack_wait_s": 1.0,
    }))  # fmt: skip
    log = tmp_path / "region.log"
    msgs = site_messages()

    async def main() -> None:
        proc, base = start_region(config, log)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        #: Kill when the region has emitted this many events (of 2 N), while it consumes.
        kill_at = [2 * N * f for f in (0.15, 0.4, 0.65)]
        async with httpx.AsyncClient() as client:
            try:
                i = 0
                while i < len(msgs) or kill_at:
                    if i < len(msgs):
                        await js.publish(*msgs[i])
                        i += 1
                        await asyncio.sleep(0.003)
                    else:
                        await asyncio.sleep(0.05)
                    if kill_at and (i % 10 == 0 or i == len(msgs)):
                        n = await events_count(client, base)
                        assert n < 2 * N - 20, "the region finished before it was killed"
                        if n >= kill_at[0]:
                            # The region is applying the stream: kill it with no chance to
                            # tidy up; start it again on the same store while the site goes on.
                            proc.send_signal(signal.SIGKILL)
                            proc.wait(timeout=10)
                            kill_at.pop(0)
                            proc, base = start_region(config, log)
                deadline = asyncio.get_running_loop().time() + 60
                # Drained: nothing pending or waiting for an acknowledgement, and the API
                # shows the same count twice in a row past one ack_wait.
                last = -2
                while True:
                    assert asyncio.get_running_loop().time() < deadline, "region did not drain"
                    await asyncio.sleep(1.2)
                    consumer = await js.consumer_info("SKYWARDEN", "region-A")
                    n = await events_count(client, base)
                    if consumer.num_pending == 0 and consumer.num_ack_pending == 0 and n == last:
                        break
                    last = n
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=20)
        await nc.close()

    asyncio.run(main())

    db = sqlite3.connect(store)
    dec = msgspec.json.Decoder(AlertLine)
    events = [dec.decode(d) for (d,) in db.execute("SELECT data FROM revent ORDER BY seq")]
    by_track: dict[str | None, list[str]] = {}
    for e in events:
        by_track.setdefault(e.track, []).append(e.state)
    # Every drone: one regional alert raised once and cleared once, in that order.
    assert len(by_track) == N
    assert all(states == ["raised", "cleared"] for states in by_track.values())
    assert len({e.id for e in events}) == N
    # The site's events were each applied once (the idempotence record by site and alert id).
    assert db.execute("SELECT count(*) FROM seen").fetchone()[0] == 2 * N
    db.close()
