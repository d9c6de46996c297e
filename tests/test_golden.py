"""Golden files: the exact bytes skywarden sends as CoT XML, webhook JSON and WebSocket
messages for a fixed picture, compared byte for byte with files in ``tests/golden/``.

Every time in these messages is the scan time or an injected clock, so nothing needs
normalising. After a deliberate change of a wire format, regenerate with
``SKYWARDEN_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np

from skywarden.sinks.config import TakConfig, WebhookConfig
from skywarden.sinks.cot import CotSink
from skywarden.sinks.webhook import WebhookSink
from skywarden.store import Ack
from skywarden.web.state import LiveState

from .sinks.helpers import T0_S, alert, frame, make_track, scan, zone

GOLDEN = Path(__file__).parent / "golden"
FR = frame()


def _check(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("SKYWARDEN_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} missing: run with SKYWARDEN_UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{name} differs from the golden file"


def _picture(t_s: float):
    tracks = [
        make_track(FR, 1, t_s, [800.0, 600.0, 120.0], [-10.0, -7.5, 0.0]),
        make_track(FR, 2, t_s, [-500.0, 200.0, 60.0], [3.0, 0.0, 1.0], cls="bird"),
        make_track(
            FR, 3, t_s, [2000.0, -1500.0, 900.0], [0.0, 70.0, -3.0], cls="aircraft",
            identity={"icao24": "4ca7b5"},
        ),
        make_track(FR, 4, t_s, [100.0, 100.0, 40.0], [1.0, 1.0, 0.0], status="deleted"),
    ]  # fmt: skip
    return tracks, [alert(t_s, "T1"), alert(t_s, "T9", level="warning", state="cleared")]


def test_cot_xml_golden():
    sink = CotSink(
        TakConfig(url="tcp://127.0.0.1:9", friendly_ids=["OWN-UAS-7"], zones_period_s=60.0),
        zones=[zone()],
        clock=lambda: 0.0,
    )
    tracks, alerts = _picture(T0_S)
    events = sink.events_for(scan(T0_S, tracks, alerts)) + sink.zone_events(T0_S)
    _check("cot_events.xml", b"\n".join(events) + b"\n")


def test_webhook_json_golden():
    sink = WebhookSink(
        WebhookConfig(url="http://127.0.0.1:9/hook", secret="s3cret"),
        site_name="heathrow-t5",
        rng=np.random.default_rng(0),
    )
    _, alerts = _picture(T0_S)
    bodies = [sink.body(a, sent_at=int(T0_S) + 1) for a in alerts]
    _check("webhook_bodies.jsonl", b"\n".join(bodies) + b"\n")


def test_websocket_messages_golden():
    async def main() -> list[str]:
        live = LiveState([], [zone()])
        sub = live.subscribe()

        def drain() -> list[str]:
            return list(iter(sub.get_nowait, None))

        msgs = drain()  # the snapshot of the empty picture
        tracks, alerts = _picture(T0_S)
        live.apply(scan(T0_S, tracks, alerts[:1]))
        msgs += drain()
        live.acknowledge(Ack(alert_id="A-T1", by="otto", t=T0_S + 2.0))
        msgs += drain()
        t1 = T0_S + 1.0
        live.apply(scan(t1, [make_track(FR, 1, t1, [790.0, 592.5, 120.0], [-10.0, -7.5, 0.0])], []))
        msgs += drain()
        # A client that joins now gets everything in one snapshot.
        return [*msgs, *list(iter(live.subscribe().get_nowait, None))]

    msgs = asyncio.run(main())
    assert [m.split('"type":"', 1)[1].split('"', 1)[0] for m in msgs] == [
        "snapshot", "alert", "delta", "ack", "delta", "snapshot",
    ]  # fmt: skip
    _check("websocket_messages.jsonl", ("\n".join(msgs) + "\n").encode())
