"""No sink loses an alert event: link down and scan queue full, then the link comes back.

Each test offers eight scans while nothing listens (more than the scan queue holds,
so scans are dropped), each raising one alert, updating another and, once, clearing
one; then a real receiver starts on the same port and every alert must arrive in its
latest state, the cleared one as raised then cleared.
"""

from __future__ import annotations

import asyncio
import socket
import warnings

import httpx
import numpy as np
from sapient_msg.bsi_flex_335_v2_0 import alert_pb2

from skywarden.sinks.asterix62 import Asterix62Sink
from skywarden.sinks.base import AlertLane
from skywarden.sinks.config import Asterix62Config, SapientOutConfig, TakConfig
from skywarden.sinks.cot import CotSink
from skywarden.sinks.sapient_out import SapientOutSink
from skywarden.store import Store, StoreWriter
from skywarden.types import ScanOutput, SinkState

from .helpers import T0_S, alert, frame, scan, swarm
from .test_cot import _parse_xml_stream
from .test_sapient_out import NODE_ID, C2Node
from .test_webhook import FakeTime, Receiver, _sink

FR = frame()
N_SCANS = 8


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _scans() -> list[ScanOutput]:
    """Scan k raises A-Tk and updates A-T0; scan 5 clears A-T1."""
    rng = np.random.default_rng(7)
    out = []
    for k in range(N_SCANS):
        t = T0_S + k
        alerts = [alert(t, f"T{k}")]
        if k > 0:
            alerts.append(alert(t, "T0", state="updated", tta_s=42.0 - k))
        if k == 5:
            alerts.append(alert(t, "T1", state="cleared"))
        out.append(scan(t, swarm(FR, t, 5, rng), alerts))
    return out


#: What the receiver must end up with: (alert id, state) in order, A-T0 in its latest state.
EXPECTED = [("A-T0", "raised"), ("A-T1", "raised"), ("A-T1", "cleared")] + [
    (f"A-T{k}", "raised") for k in range(2, N_SCANS)
]


def test_alert_lane_keeps_latest_event_per_alert_and_its_clear():
    lane = AlertLane()
    for s in _scans():
        lane.add(s.alerts)
    assert [(a.id, a.state) for a in lane.peek()] == EXPECTED
    assert lane.peek()[0].tta_s == 42.0 - (N_SCANS - 1)  # the latest update, still "raised"
    first = lane.peek()[:2]
    lane.add([alert(T0_S + 20, "T0", state="updated", tta_s=1.0)])
    lane.done(first)  # A-T0's newer event stays; A-T1's raised event goes
    assert [(a.id, a.state, a.tta_s) for a in lane.peek()[:2]] == [
        ("A-T0", "raised", 1.0),
        ("A-T1", "cleared", 42.0),
    ]


def test_cot_link_down_and_queue_full_loses_no_alert():
    now = [0.0]

    async def main():
        port = _closed_port()
        sink = CotSink(
            TakConfig(url=f"tcp://127.0.0.1:{port}", queue_size=2, min_interval_s=0.0),
            clock=lambda: now[0],
        )
        runner = asyncio.create_task(sink.run())
        for s in _scans():
            sink.offer(s)
            await asyncio.sleep(0.01)
        assert sink.dropped > 0 or sink.dropped_events > 0  # scans were lost meanwhile
        assert sink.health().state is SinkState.FAILING
        assert sink.health().alerts_pending == len(EXPECTED)
        # The receiver comes up on the sink's port; past the backoff, any scan wakes it.
        srv, _, buf, got, _ = await _serve_tcp_on(port)
        now[0] = 1000.0
        sink.offer(scan(T0_S + 10, [], []))
        sink.wake()
        async with asyncio.timeout(10):
            while len(_alert_events(buf)) < len(EXPECTED):
                got.clear()
                await got.wait()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await sink.aclose()
        srv.close()
        return sink, _alert_events(buf)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sink, events = asyncio.run(main())
    assert [(e.uid.removeprefix("skywarden.alert."), e.state) for e in events] == EXPECTED
    assert sink.health().alerts_pending == 0 and sink.health().state is SinkState.OK


async def _serve_tcp_on(port: int):
    """_serve_tcp of the CoT tests, on a given port."""
    buf = bytearray()
    got = asyncio.Event()

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            buf.extend(data)
            got.set()
        writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", port)
    return server, port, buf, got, []


class _Ev:
    def __init__(self, uid: str, state: str) -> None:
        self.uid, self.state = uid, state


def _alert_events(buf: bytearray) -> list[_Ev]:
    out = []
    for m in _parse_xml_stream(bytes(buf)):
        ev = m.cotEvent
        if ev.uid.startswith("skywarden.alert."):
            # A cleared alert is sent already stale (it leaves TAK maps).
            out.append(_Ev(ev.uid, "cleared" if ev.staleTime <= ev.sendTime else "raised"))
    return out


def test_sapient_link_down_and_queue_full_loses_no_alert():
    async def main():
        port = _closed_port()
        sink = SapientOutSink(
            SapientOutConfig(
                host="127.0.0.1", port=port, status_period_s=0.05, queue_size=2,
                backoff_initial_s=0.05, backoff_max_s=0.1,
            ),
            FR, node_id=NODE_ID,
        )  # fmt: skip
        runner = asyncio.create_task(sink.run())
        for s in _scans():
            sink.offer(s)
            await asyncio.sleep(0.01)
        assert sink.dropped > 0 or sink.dropped_reports > 0
        assert sink.health().alerts_pending == len(EXPECTED)
        c2 = C2Node(send_task=False)
        await c2.start(port)
        await c2.wait_for(lambda: len(c2.of("alert")) >= len(EXPECTED), timeout_s=10.0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await c2.close()
        return sink, c2

    sink, c2 = asyncio.run(main())
    clear = alert_pb2.Alert.ALERT_STATUS_CLEAR
    # SAPIENT alert ids are ULIDs; skywarden's own id rides in additional_information.
    info = [dict(kv.split("=", 1) for kv in m.alert.additional_information.split("; "))
            for m in c2.of("alert")]  # fmt: skip
    got = [
        (i["skywarden_alert"], "cleared" if m.alert.status == clear else "raised")
        for i, m in zip(info, c2.of("alert"), strict=True)
    ]
    assert got == EXPECTED
    assert info[0]["tta_s"] == "35.0"  # A-T0's latest
    assert sink.health().alerts_pending == 0


def test_asterix62_carries_no_alerts_and_drops_only_scans():
    sink = Asterix62Sink(
        Asterix62Config(host="127.0.0.1", port=_closed_port(), sac=1, sic=2, queue_size=2), FR
    )
    for s in _scans():
        sink.offer(s)
    # CAT062 has no alert item: the lane takes nothing; the full queue drops old scans.
    assert not Asterix62Sink.carries_alerts and len(sink.alerts) == 0
    assert sink.queue.qsize() == 2 and sink.dropped == N_SCANS - 2


def test_store_writer_queue_full_loses_no_alert(tmp_path):
    store = Store(str(tmp_path / "s.db"))
    # Its buffers are bounded by rows: one track line may wait, alert events always.
    writer = StoreWriter(store, max_pending_tracks=1)
    scans = _scans()
    for s in scans:
        writer.offer(s)
    assert writer.dropped_tracks > 0

    async def main():
        await writer.aclose()

    asyncio.run(main())
    sent = [a for s in scans for a in s.alerts]
    stored = [e for aid in sorted({a.id for a in sent}) for e in store.alert_events(aid)]
    assert len(stored) == len(sent)  # the record keeps every event, not only the latest
    store.close()


def test_webhook_endpoint_down_loses_no_alert():
    # The endpoint answers 503 to its first 6 posts (down), then accepts. A webhook
    # has no scan queue to fill: every alert goes to the lane.
    ft = FakeTime(1_800_000_000.0)

    async def main(rx: Receiver):
        sink = _sink(rx.url, ft, backoff_initial_s=1.0, backoff_max_s=2.0)
        async with httpx.AsyncClient(timeout=2.0) as client:
            for s in _scans():
                sink.offer(s)
                await sink.deliver_once(client)  # interleaved with the failing posts
            while len(sink.alerts):
                await sink.deliver_once(client)
        return sink

    with Receiver(fail_first=6) as rx:
        sink = asyncio.run(main(rx))
    ok = [(r["alert"]["id"], r["alert"]["state"]) for r in rx.requests if not r.get("failed")]
    assert sum(bool(r.get("failed")) for r in rx.requests) == 6
    # A-T0 went out once the endpoint was back, in its state of that moment; later
    # updates of it follow as "updated". Every other alert arrives, A-T1 raised then cleared.
    delivered = {aid for aid, _ in ok}
    assert delivered == {f"A-T{k}" for k in range(N_SCANS)}
    assert ok.index(("A-T1", "raised")) < ok.index(("A-T1", "cleared"))
    assert sink.health().alerts_pending == 0 and sink.health().state is SinkState.OK
