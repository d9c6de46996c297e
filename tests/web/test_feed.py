"""The WebSocket feed: deltas rebuild the server's picture exactly, at any client pace;
a slow client is moved to a coarser rate without holding up a fast one, and still
gets every alert event."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import orjson
import pytest
import websockets

from skywarden.store import Store
from skywarden.types import ScanOutput, TrackLine
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

from .webhelpers import T0, alert, sensors, serving, track_line, zone_a


class Client:
    """A map client following docs/format.md: it keeps only what the messages say."""

    def __init__(self) -> None:
        self.tracks: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.seq: int | None = None
        self.whole = True
        self.kinds: list[str] = []
        #: Track messages that moved the client on (keepalives, empty deltas at the
        #: client's own scan, do not).
        self.updates = 0
        self.alert_events: list[tuple[str, str]] = []

    def take(self, text: str | bytes) -> None:
        msg = orjson.loads(text)
        kind = msg["type"]
        self.kinds.append(kind)
        if kind == "snapshot":
            self.tracks = {
                t["id"]: {k: v for k, v in t.items() if k != "trail"} for t in msg["tracks"]
            }
            self.alerts = {a["id"]: a for a in msg["alerts"]}
        elif kind == "tracks":
            self.tracks = {t["id"]: t for t in msg["tracks"]}
        elif kind == "delta":
            for tid in msg["removed"]:
                self.tracks.pop(tid, None)
            self.tracks.update((t["id"], t) for t in msg["tracks"])
        elif kind == "alert":
            a = msg["alert"]
            self.alert_events.append((a["id"], a["state"]))
            if a["state"] == "cleared":
                self.alerts.pop(a["id"], None)
            else:
                self.alerts[a["id"]] = a
        if "seq" in msg:
            self.updates += kind != "snapshot" and msg["seq"] != self.seq
            self.seq = msg["seq"]
            self.whole = not msg.get("more")

    def at(self, seq: int) -> bool:
        """Whether the client's picture is whole at scan ``seq`` (every part taken)."""
        return self.seq == seq and self.whole


def _shown(scan: ScanOutput) -> dict[str, dict[str, Any]]:
    """What a map should show after ``scan``: its tracks but the deleted, each as
    its output line's JSON object (docs/format.md) without the ``type`` key."""
    out = {}
    for tl in scan.tracks:
        if tl.status != "deleted":
            d = msgspec.json.decode(msgspec.json.encode(tl))
            del d["type"]
            out[tl.id] = d
    return out


def _evolving_picture(n_scans: int, seed: int) -> Iterator[tuple[ScanOutput, set[str], set[str]]]:
    """Scans of a picture where tracks appear, move, hold still, are deleted or
    just vanish; with each, the ids that changed and the ids that went."""
    rng = np.random.default_rng(seed)
    current: dict[str, TrackLine] = {}
    next_id = 1
    for k in range(n_scans):
        t = T0 + k
        lines: dict[str, TrackLine] = {}
        changed: set[str] = set()
        gone: set[str] = set()
        for tid, tl in current.items():
            r = rng.random()
            if r < 0.05:  # deleted by the tracker: one last line
                lines[tid] = msgspec.structs.replace(tl, t=t, status="deleted")
                gone.add(tid)
            elif r < 0.1:  # missing from the scan
                gone.add(tid)
            elif r < 0.4:  # the very same line again
                lines[tid] = tl
            else:
                e, n = rng.uniform(-2000, 2000, 2)
                lines[tid] = track_line(tid, t, e, n)
                changed.add(tid)
        for _ in range(int(rng.integers(0, 4))):
            tid = f"T{next_id}"
            next_id += 1
            lines[tid] = track_line(tid, t, *rng.uniform(-2000, 2000, 2), cls="bird")
            changed.add(tid)
        current = {tid: tl for tid, tl in lines.items() if tl.status != "deleted"}
        yield ScanOutput(t_s=t, tracks=tuple(lines.values()), alerts=()), changed, gone


def test_clients_at_any_pace_rebuild_the_servers_picture():
    async def main() -> None:
        live = LiveState(sensors(), [zone_a()], history_len=8)
        every_scan, every_fifth, at_the_end = live.subscribe(), live.subscribe(), live.subscribe()
        clients = {s: Client() for s in (every_scan, every_fifth, at_the_end)}

        def drain(sub) -> list[str]:
            msgs = list(iter(sub.get_nowait, None))
            for m in msgs:
                clients[sub].take(m)
            return msgs

        for sub in clients:
            drain(sub)  # the snapshot of the empty picture
        late = None
        last = None
        for k, (scan, changed, gone) in enumerate(_evolving_picture(60, seed=4)):
            live.apply(scan)
            last = scan
            (msg,) = drain(every_scan)
            delta = orjson.loads(msg)
            # Only what changed travels, and every track that went is named.
            assert delta["type"] == "delta" and delta["seq"] == k + 1
            assert {t["id"] for t in delta["tracks"]} == changed
            assert set(delta["removed"]) == gone
            if k % 5 == 4:
                (msg,) = drain(every_fifth)
                assert orjson.loads(msg)["type"] == "delta"
            if k == 30:
                late = live.subscribe()
                clients[late] = Client()
            elif late is not None:
                drain(late)
        for sub in (every_fifth, at_the_end):
            drain(sub)
        assert last is not None
        truth = _shown(last)
        assert len(truth) > 5
        for sub, client in clients.items():
            assert client.tracks == truth, client.kinds
            assert client.seq == live.seq
            assert sub.every == 1
        # 60 scans behind with 8 remembered: the whole picture, once.
        assert clients[at_the_end].kinds == ["snapshot", "tracks"]
        assert clients[late].kinds[0] == "snapshot"
        assert clients[every_fifth].kinds.count("delta") == 12

    asyncio.run(main())


def test_a_large_update_comes_in_parts_and_an_alert_goes_out_between_them():
    async def main() -> None:
        live = LiveState(sensors(), [zone_a()], part_bytes=2_000)
        sub = live.subscribe()
        client = Client()
        client.take(sub.get_nowait() or "")
        scan = ScanOutput(
            t_s=T0,
            tracks=tuple(track_line(f"T{i}", T0, 10.0 * i, 0.0) for i in range(20)),
            alerts=(),
        )
        live.apply(scan)
        first = sub.get_nowait()
        assert first is not None and orjson.loads(first)["more"] is True
        client.take(first)
        live.apply_alerts([alert("A1", T0)])
        rest = list(iter(sub.get_nowait, None))
        # The alert overtakes the rest of the update; the last part alone has no "more".
        assert orjson.loads(rest[0])["type"] == "alert"
        parts = [orjson.loads(m) for m in rest[1:]]
        assert [p.get("more", False) for p in parts] == [True] * (len(parts) - 1) + [False]
        for m in rest:
            client.take(m)
        assert client.tracks == _shown(scan) and client.at(live.seq)
        assert set(client.alerts) == {"A1"}

    asyncio.run(main())


@pytest.fixture
def small_buffers_server(tmp_path):
    """The app on 127.0.0.1 with small socket buffers (inherited by accepted
    connections), so that a client that stops reading blocks its sends soon."""
    store = Store(tmp_path / "site.db")
    token = store.create_token("viewer", "vera")
    live = LiveState(sensors(), [zone_a()])
    app = create_app(live, store, WebConfig())
    with serving(app, send_buffer_bytes=32_768) as url:
        yield live, url.replace("http://", "ws://", 1) + "/ws", token
    store.close()


def _crowd(k: int, n: int = 400) -> ScanOutput:
    """n tracks, all moved at scan k (about 150 kB of JSON per delta)."""
    t = T0 + k
    return ScanOutput(
        t_s=t,
        tracks=tuple(track_line(f"T{i}", t, 5.0 * i - 1000.0, 3.0 * k) for i in range(n)),
        alerts=(),
    )


def test_slow_client_is_downgraded_does_not_hold_up_a_fast_one_and_gets_every_alert(
    small_buffers_server,
):
    live, url, token = small_buffers_server
    # Far more deltas than go out to an idle client before the server's send blocks
    # (some 18 deltas of 400 tracks, 2.7 MB of JSON: permessage-deflate shrinks them
    # into the socket buffers): a sender that merges scans takes fewer updates, and with
    # 40 scans one that took every second never blocked and was never judged slow (2
    # local runs in 12, one CI run).
    n_scans = 100

    async def connect(**kw) -> websockets.ClientConnection:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32_768)
        s.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])))
        s.setblocking(False)
        return await websockets.connect(
            url, sock=s, subprotocols=["bearer", token], max_size=None, **kw
        )

    async def main() -> tuple[Client, Client]:
        fast, slow = Client(), Client()
        async with await connect() as fws, await connect(max_queue=1) as sws:
            fast.take(await fws.recv())
            slow.take(await sws.recv())
            # From here the slow client reads nothing until every scan is out (nor does
            # its library read ahead into memory).
            sws.transport.pause_reading()
            for k in range(1, n_scans + 1):
                alerts = ()
                if k == 10:
                    alerts = (alert("A1", T0 + k),)
                elif k == 20:
                    alerts = (alert("A1", T0 + k, state="cleared"),)
                live.apply(ScanOutput(t_s=T0 + k, tracks=_crowd(k).tracks, alerts=alerts))
                # Lockstep: the fast client gets scan k before scan k + 1 exists.
                while not fast.at(k):
                    fast.take(await asyncio.wait_for(fws.recv(), 30))
            assert live.downgrades == 0, "a client was judged slow before it took anything"
            # The slow client reads again: it catches up with the latest picture.
            sws.transport.resume_reading()
            while not slow.at(n_scans):
                slow.take(await asyncio.wait_for(sws.recv(), 30))
        return fast, slow

    fast, slow = asyncio.run(main())
    truth = _shown(ScanOutput(t_s=T0 + n_scans, tracks=_crowd(n_scans).tracks, alerts=()))
    # The fast client got every scan, each as its own delta (in parts), never downgraded.
    assert fast.updates == n_scans
    assert fast.kinds.count("delta") > n_scans, "a delta of 400 tracks comes in parts"
    assert fast.tracks == truth and slow.tracks == truth
    # The slow one got the scans merged (and was moved to a coarser rate) ...
    assert slow.updates < n_scans
    assert live.downgrades >= 1
    # ... but every alert event, in order, as the fast one did.
    assert slow.alert_events == fast.alert_events == [("A1", "raised"), ("A1", "cleared")]


def test_a_slowed_client_idle_for_a_push_interval_gets_the_latest_scan():
    """A client moved to every fourth scan is not sent the one scan it is behind on ...
    until it has been sent nothing for a push interval: then it is (the removal of
    every track, say, when scans stop), instead of a keepalive at its stale picture."""

    async def main() -> None:
        live = LiveState(sensors(), [zone_a()], history_len=8)
        sub = live.subscribe()
        client = Client()
        client.take(sub.get_nowait())  # the snapshot
        live.apply(ScanOutput(t_s=T0, tracks=(track_line("T1", T0, 0.0, 0.0),), alerts=()))
        client.take(sub.get_nowait())
        sub.every = 4
        live.apply(ScanOutput(t_s=T0 + 1, tracks=(), alerts=()))
        assert sub.get_nowait() is None
        msg = sub.get_nowait(any_rate=True)
        assert msg is not None
        client.take(msg)
        assert client.tracks == {} and client.at(live.seq)
        assert sub.get_nowait(any_rate=True) is None  # nothing more to catch up on

    asyncio.run(main())
