"""``skywarden region`` as a process, SIGKILLed mid-stream and started again.

A site (played by publishing its encoded messages to JetStream) raises and then
clears one alert per drone while the region runs; the region is killed with
SIGKILL three times while it consumes and is started again on the same store.
Before each kill, a proxy holds what the region sends to nats-server until the
region has committed a batch whose acknowledgements JetStream has not received:
the restarted region gets those events again. When its durable consumer is
drained, every site alert event has given exactly one regional event: each
drone one ``raised`` then one ``cleared``, nothing lost, nothing repeated.
"""

from __future__ import annotations

import asyncio
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
from skywarden.store import Store
from skywarden.types import AlertLine
from tests.service_helpers import read_facts

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
    url = read_facts(proc, "region", log)["url"]
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


async def events_count(client: httpx.AsyncClient, base: str, token: str) -> int:
    try:
        r = await client.get(
            f"{base}/api/region/alerts", timeout=2.0, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError:
        return -1
    return len(r.json()["events"])


class HoldingProxy:
    """A TCP proxy between the region and nats-server that can hold what the region sends
    (its fetch requests and acknowledgements) while the server's replies still flow."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.open = asyncio.Event()
        self.open.set()
        self.server: asyncio.Server | None = None
        self.links: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return f"nats://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.port)
        self.links += [up_w, writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, held: bool) -> None:
            try:
                while data := await src.read(65536):
                    if held:
                        await self.open.wait()
                    dst.write(data)
                    await dst.drain()
            except (OSError, RuntimeError):
                pass  # the link was cut
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_w, True), pipe(up_r, writer, False))

    def cut(self) -> None:
        """Drop every connection and what is held for it (as a killed process's socket)."""
        for w in self.links:
            w.transport.abort()
        self.links = []
        self.open.set()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_repeats_no_alert(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    store = tmp_path / "region.db"
    map_store = Store(tmp_path / "region-map.db")
    token = map_store.create_token("viewer", "test")
    map_store.close()
    config = tmp_path / "region.yaml"
    log = tmp_path / "region.log"
    msgs = site_messages()

    async def main() -> None:
        proxy = HoldingProxy(nats_server.port)
        config.write_text(yaml.safe_dump({
            "lat": 51.0, "lon": -1.0, "sites": ["A"], "store": str(store),
            "nats": {"url": await proxy.start()}, "ack_wait_s": 1.0,
        }))  # fmt: skip
        proc, base = await asyncio.to_thread(start_region, config, log)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        #: Stream sequence of each published site alert event (alert id, state).
        seq_of: dict[tuple[str, str], int] = {}

        async def publish() -> None:
            for subj, data in msgs:
                ack = await js.publish(subj, data)
                if subj.endswith(".alerts"):
                    a = msgspec.msgpack.decode(data, type=AlertsMsg).alerts[0]
                    seq_of[(a.id, a.state)] = ack.seq
                await asyncio.sleep(0.003)

        async def committed_not_acked() -> bool:
            """Has the region committed events whose acknowledgement JetStream lacks?"""
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                seen = db.execute("SELECT alert, state FROM seen").fetchall()
            applied = max((seq_of[(a, st)] for a, st in seen), default=0)
            info = await js.consumer_info("SKYWARDEN", "region-A")
            return applied > info.ack_floor.stream_seq

        publisher = asyncio.create_task(publish())
        caught = 0
        async with httpx.AsyncClient() as client:
            try:
                for frac in (0.15, 0.4, 0.65):
                    while await events_count(client, base, token) < 2 * N * frac:
                        await asyncio.sleep(0.02)
                    # Hold what the region sends until it has applied and committed a batch
                    # whose acknowledgements JetStream has not had (the window where a
                    # replay could repeat events), then kill it with no chance to tidy up,
                    # and start it again on the same store while the site goes on.
                    for _ in range(20):
                        proxy.open.clear()
                        await asyncio.sleep(0.5)
                        if await committed_not_acked():
                            caught += 1
                            break
                        proxy.open.set()
                        await asyncio.sleep(0.05)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=10)
                    proxy.cut()
                    proc, base = await asyncio.to_thread(start_region, config, log)
                await publisher
                assert caught >= 1, "no kill came between a commit and its acknowledgement"
                deadline = asyncio.get_running_loop().time() + 60
                # Drained: nothing pending or waiting for an acknowledgement, and the API
                # shows the same count twice in a row past one ack_wait.
                last = -2
                while True:
                    assert asyncio.get_running_loop().time() < deadline, "region did not drain"
                    await asyncio.sleep(1.2)
                    consumer = await js.consumer_info("SKYWARDEN", "region-A")
                    n = await events_count(client, base, token)
                    if consumer.num_pending == 0 and consumer.num_ack_pending == 0 and n == last:
                        break
                    last = n
            finally:
                publisher.cancel()
                proxy.open.set()
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=20)
                proxy.close()
        await nc.close()
        print(f"killed 3 times, {caught} between a commit and its acknowledgement")

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
    # The map's store, written after the region's commits and mended at each start, ends
    # with every regional alert cleared.
    map_store = Store(tmp_path / "region-map.db")
    try:
        assert sorted((a.id, a.state) for a in map_store.alerts()) == sorted(
            (e.id, "cleared") for e in events if e.state == "cleared"
        )
    finally:
        map_store.close()
