"""Escalation of unacknowledged alerts, on a fake clock, with a real store and API."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from skywarden.sinks.config import EscalationConfig, WebhookConfig
from skywarden.sinks.escalation import Escalator
from skywarden.sinks.webhook import WebhookSink
from skywarden.store import Store
from skywarden.web import WebConfig, create_app
from skywarden.web.state import LiveState

from .helpers import T0_S, alert, scan, zone


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _setup(tmp_path):
    store = Store(tmp_path / "s.db")
    live = LiveState([], [zone()])
    clock = Clock(1_800_000_000.0)
    channel = WebhookSink(
        WebhookConfig(url="http://127.0.0.1:9/duty", secret="s"),
        site_name="site", rng=np.random.default_rng(0),
    )  # fmt: skip
    cfg = EscalationConfig(after_s={"critical": 60.0, "warning": 300.0})
    esc = Escalator(cfg, [channel], store=store, live=live, clock=clock)
    return store, live, clock, channel, esc


def _feed(live: LiveState, esc: Escalator, item, store: Store) -> None:
    store.write_alerts(item.alerts)
    live.apply(item)
    esc.offer(item)


def test_unacknowledged_alert_escalates_after_its_level_time_once(tmp_path):
    store, live, clock, channel, esc = _setup(tmp_path)
    try:
        _feed(
            live, esc, scan(T0_S, [], [alert(T0_S, "T1"), alert(T0_S, "T2", level="info")]), store
        )
        clock.t += 59.0
        assert esc.check(clock.t) == [] and not len(channel.alerts)
        clock.t += 1.0
        (e,) = esc.check(clock.t)
        assert (e.alert_id, e.level, e.after_s) == ("A-T1", "critical", 60.0)
        (sent,) = channel.alerts.peek()
        assert sent.id == "A-T1" and sent.reason.startswith(
            "escalated: not acknowledged within 60 s"
        )
        clock.t += 600.0
        assert esc.check(clock.t) == []  # once only; info is never escalated
        # Recorded in the store (who: the channel; when), shown in the API's alert JSON.
        (rec,) = store.escalations()
        assert (
            rec.alert_id == "A-T1"
            and rec.t == e.t
            and rec.channels == "webhook:http://127.0.0.1:9/duty"
        )
        token = store.create_token("viewer", "vera")
        c = TestClient(create_app(live, store, WebConfig()))
        h = {"Authorization": f"Bearer {token}"}
        live_json = {a["id"]: a for a in c.get("/api/alerts?open=true", headers=h).json()["alerts"]}
        assert live_json["A-T1"]["escalated"]["t"] == e.t
        assert "escalated" not in live_json["A-T2"]
        stored = {a["id"]: a for a in c.get("/api/alerts", headers=h).json()["alerts"]}
        assert stored["A-T1"]["escalated"]["to"] == rec.channels
        # The channel hears the rest of an escalated alert's life, its all-clear too.
        _feed(live, esc, scan(T0_S + 9, [], [alert(T0_S + 9, "T1", state="cleared")]), store)
        assert [a.state for a in channel.alerts.peek()] == ["raised", "cleared"]
    finally:
        store.close()


def test_acknowledged_or_cleared_alerts_do_not_escalate_and_rising_level_shortens(tmp_path):
    store, live, clock, _channel, esc = _setup(tmp_path)
    try:
        _feed(live, esc, scan(T0_S, [], [alert(T0_S, "T1"), alert(T0_S, "T2")]), store)
        _feed(live, esc, scan(T0_S, [], [alert(T0_S, "T3", level="warning")]), store)
        live.acknowledge(store.acknowledge("A-T1", "otto"))
        _feed(live, esc, scan(T0_S + 1, [], [alert(T0_S + 1, "T2", state="cleared")]), store)
        clock.t += 120.0
        assert esc.check(clock.t) == []  # T1 acked, T2 cleared, T3 a warning (300 s)
        _feed(live, esc, scan(T0_S + 2, [], [alert(T0_S + 2, "T3", state="updated")]), store)
        (e,) = esc.check(clock.t)  # now critical, raised 120 s ago: past its 60 s
        assert e.alert_id == "A-T3" and e.after_s == 60.0
        assert [k.by for k in store.acks()] == ["otto"]
        assert [x.alert_id for x in store.escalations()] == ["A-T3"]
    finally:
        store.close()


def test_prune_drops_escalations_of_old_cleared_alerts_only(tmp_path):
    store = Store(tmp_path / "p.db", retention_s=3600.0)
    live = LiveState([], [zone()])
    clock = Clock(1_800_000_000.0)
    esc = Escalator(
        EscalationConfig(after_s={"critical": 1.0}), [], store=store, live=live, clock=clock
    )
    try:
        _feed(live, esc, scan(T0_S, [], [alert(T0_S, "T1"), alert(T0_S, "T2")]), store)
        clock.t += 2.0
        assert len(esc.check(clock.t)) == 2
        _feed(live, esc, scan(T0_S + 5, [], [alert(T0_S + 5, "T1", state="cleared")]), store)
        store.prune(T0_S + 7200.0)
        assert [e.alert_id for e in store.escalations()] == ["A-T2"]
    finally:
        store.close()
