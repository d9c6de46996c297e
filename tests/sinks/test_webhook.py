"""Webhook sink: signed delivery to a local HTTP server, retries and health, never blocking."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest

from skywarden.sinks.config import WebhookConfig
from skywarden.sinks.webhook import WebhookSink, verify
from skywarden.types import SinkState

from .helpers import T0_S, alert, scan

SECRET = "correct horse battery staple"


class Receiver:
    """An http.server on 127.0.0.1 that checks each request's HMAC on its own."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[dict] = []
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                sig_ok = hmac.compare_digest(want, self.headers["X-Skywarden-Signature"])
                doc = json.loads(body)
                ts_ok = int(self.headers["X-Skywarden-Timestamp"]) == doc["sent_at"]
                if not (sig_ok and ts_ok):
                    outer.bad_signatures += 1
                    self.send_response(401)
                elif len(outer.requests) < outer.fail_first:
                    outer.requests.append({"failed": True, **doc})
                    self.send_response(503)
                else:
                    outer.requests.append(doc)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTime:
    """A clock and a sleep that advances it at once (no real waiting)."""

    def __init__(self, t0: float) -> None:
        self.now = t0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s
        await asyncio.sleep(0)


def _sink(url: str, ft: FakeTime | None = None, **kw) -> WebhookSink:
    cfg = WebhookConfig(url=url, secret=SECRET, timeout_s=2.0, **kw)
    extra = {"clock": ft.clock, "sleep": ft.sleep} if ft else {}
    return WebhookSink(cfg, site_name="heathrow-t5", rng=np.random.default_rng(3), **extra)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_signed_delivery_verified_by_receiver_with_retry_after_503():
    alerts = [alert(T0_S, "T1"), alert(T0_S + 5, "T1", state="updated", tta_s=20.0)]
    ft = FakeTime(time.time())

    async def main(rx: Receiver):
        sink = _sink(rx.url, ft)
        async with httpx.AsyncClient(timeout=2.0) as client:
            await sink.handle(scan(T0_S, [], alerts[:1]))
            for _ in range(2):  # a refused attempt, its retry
                await sink.deliver_once(client)
            await sink.handle(scan(T0_S + 5, [], alerts[1:]))
            await sink.deliver_once(client)  # the update
        return sink

    with Receiver(fail_first=1) as rx:
        sink = asyncio.run(main(rx))
    assert rx.bad_signatures == 0
    failed, *ok = rx.requests
    assert failed["failed"] and failed["alert"]["id"] == "A-T1"
    assert [r["alert"]["state"] for r in ok] == ["raised", "updated"]
    for r, a in zip(ok, alerts, strict=True):
        assert r["site"] == "heathrow-t5"
        assert r["alert"]["track"] == a.track and r["alert"]["zone"] == "Z1"
        assert r["alert"]["level"] == a.level and r["alert"]["tta_s"] == a.tta_s
        assert r["alert"]["class"] == "drone"
    assert len(ft.slept) == 1 and 0.5 <= ft.slept[0] <= 1.0  # one jittered retry after 1 s
    h = sink.health()
    assert h.state is SinkState.OK and h.alerts_pending == 0 and sink.delivered == 2


def test_verify_refuses_tampering_and_replay():
    ft = FakeTime(1_800_000_000.0)
    sink = _sink("http://127.0.0.1:9/", ft)
    body = sink.body(alert(T0_S, "T1"), sent_at=int(ft.now))
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    ts = str(int(ft.now))
    assert verify(SECRET.encode(), body, sig, ts, ft.now)
    assert not verify(SECRET.encode(), body.replace(b"critical", b"info"), sig, ts, ft.now)
    assert not verify(SECRET.encode(), body, sig, str(int(ft.now) + 1), ft.now)
    assert not verify(SECRET.encode(), body, sig, ts, ft.now + 3600.0)  # replayed an hour later


def test_dead_endpoint_backs_off_reports_failing_never_blocks_and_keeps_every_alert(caplog):
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    ft = FakeTime(1_800_000_000.0)
    sink = _sink(url, ft, max_attempts=5, backoff_initial_s=1.0, backoff_max_s=4.0)
    item = scan(T0_S, [], [alert(T0_S, "T1"), alert(T0_S, "T2")])

    # handle() finishes without ever suspending: it cannot wait on the network.
    coro = sink.handle(item)
    with pytest.raises(StopIteration):
        coro.send(None)
    assert sink.health().alerts_pending == 2

    async def main():
        async with httpx.AsyncClient(timeout=1.0) as client:
            for _ in range(10):
                await sink.deliver_once(client)

    with caplog.at_level(logging.ERROR, logger="skywarden.sinks.webhook"):
        asyncio.run(main())
    h = sink.health()
    assert h.state is SinkState.FAILING and "ConnectError" in (h.last_error or "")
    # Nothing is given up on: both alerts still wait, the first one tried ten times.
    assert h.alerts_pending == 2 and sink.attempts == 10 and sink.delivered == 0
    assert [a.track for a in sink.alerts.peek()] == ["T1", "T2"]
    assert sum("still undelivered after 5 attempts" in r.getMessage() for r in caplog.records) == 1
    # Retries double from 1 s, capped at 4 s, each jittered into [d/2, d].
    bounds = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert len(ft.slept) == 9
    for s_, d in zip(ft.slept, bounds, strict=True):
        assert d / 2 <= s_ <= d


def test_waiting_alert_keeps_only_its_latest_event_and_says_raised():
    sink = _sink("http://127.0.0.1:9/", FakeTime(0.0))
    sink.enqueue([alert(T0_S, f"T{i}") for i in range(5)])
    sink.enqueue([alert(T0_S + 1, "T0", state="updated", tta_s=10.0)])
    sink.enqueue([alert(T0_S + 2, "T1", state="cleared")])
    sink.enqueue([alert(T0_S + 3, "T0", state="updated", tta_s=5.0)])
    waiting = sink.alerts.peek()
    assert [(a.track, a.state) for a in waiting] == [
        ("T0", "raised"), ("T1", "raised"), ("T1", "cleared"),
        ("T2", "raised"), ("T3", "raised"), ("T4", "raised"),
    ]  # fmt: skip
    # T0's receiver has not heard of it yet: the news is still "raised", in its latest state.
    assert waiting[0].tta_s == 5.0 and waiting[0].t == T0_S + 3


def test_levels_filter():
    sink = _sink("http://127.0.0.1:9/", FakeTime(0.0), levels=["critical"])
    sink.enqueue([alert(T0_S, "T1", level="info"), alert(T0_S, "T2", level="critical")])
    assert sink.health().alerts_pending == 1
