"""Threat levels and the alert lifecycle against known geometry, with seeded noise."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import msgspec
import numpy as np
import pytest

from skywarden.threat import ThreatAssessor, ThreatConfig, ZoneSet
from skywarden.types import DELETED

from .helpers import BIRD, DRONE, FRAME, UNKNOWN, classes, table, zone_enu

T0 = 1_767_225_600.0
SQUARE = [(-500, -500), (500, -500), (500, 500), (-500, 500)]


def zones():
    return ZoneSet([zone_enu("a", SQUARE, floor_u_m=0.0, ceiling_u_m=300.0)], FRAME)


def run(assessor, states, p, *, ids=None, dt=1.0, **kw):
    """Feed a sequence of state arrays (T, n, 6); return all events."""
    events = []
    for k, x in enumerate(states):
        x = np.atleast_2d(x)
        tid = ids if ids is not None else np.arange(1, x.shape[0] + 1)
        c = classes(np.repeat(np.atleast_2d(p), x.shape[0], axis=0), **kw)
        events += assessor.assess(table(T0 + k * dt, tid, x), c)
    return events


def straight(p0, v, n_steps, rng=None, sigma_p=0.0, sigma_v=0.0):
    t = np.arange(n_steps)[:, None]
    pos = np.asarray(p0, float)[None] + np.asarray(v, float)[None] * t
    vel = np.repeat(np.asarray(v, float)[None], n_steps, axis=0)
    if rng is not None:
        pos = pos + rng.normal(0, sigma_p, pos.shape)
        vel = vel + rng.normal(0, sigma_v, vel.shape)
    return np.concatenate([pos, vel], axis=1)


def test_tta_of_a_noisy_straight_drone_within_ten_percent_from_60s():
    rng = np.random.default_rng(3)
    a = ThreatAssessor(zones())
    speed = 12.0
    # Entry at y = -500; starts 200 s out.
    x = straight([100.0, -500 - speed * 200, 100.0], [0.0, speed, 0.0], 200, rng, 8.0, 0.4)
    for k in range(140, 181):  # from 60 s to 20 s before entry
        _, _, tta, entry = a.levels(table(T0 + k, [1], x[k]), classes([DRONE]))
        true = 200 - k
        assert tta[0, 0] == pytest.approx(true, rel=0.1)
        assert entry[0, 0, 1] == pytest.approx(-500.0, abs=2.0)
        assert entry[0, 0, 0] == pytest.approx(100.0 + 0.0, abs=60.0)


def test_drone_lifecycle_raised_escalated_cleared_on_turn_away():
    rng = np.random.default_rng(4)
    a = ThreatAssessor(zones())
    # 400 s out at 10 m/s, turns away (east) 80 s before entry.
    inbound = straight([0, -500 - 4000, 100], [0, 10, 0], 320, rng, 5.0, 0.3)
    turn_at = inbound[-1, :3]
    outbound = straight(turn_at, [10, -3, 0], 80, rng, 5.0, 0.3)
    ev = run(a, np.concatenate([inbound, outbound])[:, None, :], DRONE)
    states = [(e.state, e.level) for e in ev]
    assert states[0] == ("raised", "warning")
    assert ("updated", "critical") in states
    assert states[-1][0] == "cleared" and "turned away" in ev[-1].reason
    assert len({e.id for e in ev}) == 1
    assert len(ev) <= 12
    assert not a.open_alerts()
    # The raise happens when the drone is about 300 s out, after the raise hold.
    assert ev[0].tta_s == pytest.approx(300.0 - ThreatConfig().raise_hold_s, abs=15.0)
    assert ev[0].entry_lat is not None and ev[0].class_ == "drone"


def test_track_lost_clears_once_no_successor_came():
    cfg = ThreatConfig(raise_hold_s=0.0)
    a = ThreatAssessor(zones(), cfg)
    x = np.array([0, -600, 100, 0, 10, 0.0])
    assert [e.state for e in a.assess(table(T0, [7], x), classes([DRONE]))] == ["raised"]
    # Deleted: the alert waits handover_s for a successor track ...
    assert a.assess(table(T0 + 1, [7], x, status=[DELETED]), classes([DRONE])) == []
    empty = (np.empty((0, 6)), classes(np.empty((0, 5))))
    k = 2
    while k < 1 + cfg.handover_s:
        assert a.assess(table(T0 + k, [], empty[0]), empty[1]) == []
        k += 1
    # ... then clears with the reason.
    ev = a.assess(table(T0 + k, [], empty[0]), empty[1])
    assert [(e.state, e.track, e.reason) for e in ev] == [("cleared", "T7", "cleared: track lost")]
    assert not a.open_alerts()


def test_successor_track_carries_the_alert_on():
    """The tracker loses a drone and starts a new track on it: the alert moves to the
    new track as an update (same id), never a second raise."""
    a = ThreatAssessor(zones(), ThreatConfig(raise_hold_s=0.0))
    x = straight([0, -5000, 100], [0, 20, 0], 40)
    ev = run(a, x[:10, None, :], DRONE, ids=[7])
    assert [e.state for e in ev] == ["raised"]
    aid = ev[0].id
    ev = a.assess(table(T0 + 10, [7], x[10], status=[DELETED]), classes([DRONE]))
    assert ev == []
    # Two seconds later a new track starts where the old one predicted the drone.
    ev = []
    for k in range(12, 30):
        ev += a.assess(table(T0 + k, [42], x[k]), classes([DRONE]))
    assert [e.state for e in ev][:1] == ["updated"]
    assert all(e.id == aid and e.state != "raised" for e in ev)
    assert ev[0].track == "T42" and a.open_alerts()[0].track == "T42"


def test_young_track_continues_an_object_whose_track_goes_stale():
    """The tracker confirms a second track on a drone a few scans before its first one
    stops being updated (still confirmed, not yet coasting): the young track continues
    the object, and the alert moves to it; no second raise."""
    import dataclasses

    a = ThreatAssessor(zones())
    x = straight([0, -5000, 100], [0, 20, 0], 60)
    ev = run(a, x[:20, None, :], DRONE, ids=[7])
    assert [e.state for e in ev] == ["raised"]
    ev = []
    for k in range(20, 40):
        both = table(T0 + k, [7, 42], np.stack([x[19], x[k] + [20, 0, 0, 0, 0, 0]]))
        both = dataclasses.replace(
            both,
            t_first_s=np.array([T0 - 60.0, T0 + 20.0]),
            t_last_update_s=np.array([T0 + 19.0, T0 + k]),
        )
        ev += a.assess(both, classes([DRONE, DRONE]))
    assert not [e for e in ev if e.state == "raised"], [(e.state, e.track) for e in ev]
    assert ("updated", "T42") in [(e.state, e.track) for e in ev]
    assert [al.track for al in a.open_alerts()] == ["T42"]


def test_an_alert_stays_on_its_track_while_that_one_still_updates():
    """A drone's track misses a few updates and a young track near it (on a bird) takes
    its object over; then the drone's track updates again, and the two take turns. The
    alert goes back to the drone's track and stays there: it used to follow each turn,
    cleared on the bird's track ("turned away") and was raised again (real-train-07
    seed 2: 4 raises for one quadcopter and zone)."""
    import dataclasses

    a = ThreatAssessor(zones())
    x = straight([0, -3000, 100], [0, 20, 0], 80)
    ev = run(a, x[:20, None, :], DRONE, ids=[7])
    assert [e.state for e in ev] == ["raised"]
    bird = straight([40, -2600, 100], [15, -5, 0], 80)
    ev = []
    for k in range(20, 80):
        # The drone's track 7 gets no update from scan 20 to 24, then every other scan;
        # the bird's track 42 (new at scan 20) every scan.
        last7 = T0 + (19 if k < 25 else k - (k % 2))
        both = table(T0 + k, [7, 42], np.stack([x[k], bird[k - 20]]))
        both = dataclasses.replace(
            both,
            t_first_s=np.array([T0 - 60.0, T0 + 20.0]),
            t_last_update_s=np.array([last7, T0 + k]),
        )
        ev += a.assess(both, classes([DRONE, BIRD]))
    states = [(e.state, e.track) for e in ev]
    assert not [s for s in states if s[0] in ("raised", "cleared")], states
    assert [al.track for al in a.open_alerts()] == ["T7"]


def test_far_new_track_is_not_a_successor():
    a = ThreatAssessor(zones(), ThreatConfig(raise_hold_s=0.0))
    x = straight([0, -5000, 100], [0, 20, 0], 40)
    run(a, x[:10, None, :], DRONE, ids=[7])
    a.assess(table(T0 + 10, [7], x[10], status=[DELETED]), classes([DRONE]))
    other = straight([2500, -5000, 100], [-10, 20, 0], 20)
    ev = []
    for k in range(12, 20):
        ev += a.assess(table(T0 + k, [43], other[k - 12]), classes([DRONE]))
    states = [(e.state, e.track) for e in ev]
    assert ("raised", "T43") in states and ("cleared", "T7") in states


def test_duplicate_track_on_a_coasting_one_raises_nothing_new():
    from skywarden.types import COASTING

    a = ThreatAssessor(zones(), ThreatConfig(raise_hold_s=0.0))
    x = straight([0, -5000, 100], [0, 20, 0], 40)
    ev = run(a, x[:10, None, :], DRONE, ids=[7])
    for k in range(10, 30):
        both = np.stack([x[k], x[k] + [30, 0, 0, 0, 0, 0]])
        ev += a.assess(table(T0 + k, [7, 9], both, status=[COASTING, 1]), classes([DRONE] * 2))
    assert [e.state for e in ev].count("raised") == 1


def _loiter_path(n_passes: int, radius_m: float, centre=(0.0, -2500.0)) -> np.ndarray:
    """A drone circling at 15 m/s around ``centre``: each lap passes near the zone."""
    w = 15.0 / radius_m
    t = np.arange(int(n_passes * 2 * np.pi / w))
    ph = w * t
    pos = np.column_stack(
        [
            centre[0] + radius_m * np.sin(ph),
            centre[1] - radius_m * np.cos(ph),
            np.full(t.shape, 100.0),
        ]
    )
    vel = np.column_stack([15 * np.cos(ph), 15 * np.sin(ph), np.zeros(t.shape)])
    return np.concatenate([pos, vel], axis=1)


def test_loitering_drone_keeps_one_alert_per_zone_with_dwell():
    a = ThreatAssessor(zones())
    x = _loiter_path(5, 900.0)
    ev = run(a, x[:, None, :], DRONE)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 2, [(e.t - T0, e.state, e.level) for e in ev]
    # The second alert is the loiter alert: open to the end, with a growing dwell time.
    loiter = [e for e in ev if e.id == raised[1].id]
    assert all(e.state != "cleared" for e in loiter)
    assert loiter[0].dwell_s is not None and loiter[0].dwell_s > 60.0
    assert "loitering" in loiter[0].reason
    assert [x.id for x in a.open_alerts()] == [raised[1].id]


def test_loiter_alert_held_far_off_reports_no_arrival_beyond_the_horizon():
    """A loiterer whose alert stays open while it idles 4.5 km off, now and then nosing
    towards the zone at 5 m/s (a straight-line arrival in 15 minutes): that is no
    arrival within the horizon, so no time to arrival is reported and no "updated"
    event comes and goes with every turn."""
    a = ThreatAssessor(zones())
    x = _loiter_path(5, 900.0)
    run(a, x[:, None, :], DRONE)
    (loiter_id,) = [o.id for o in a.open_alerts()]
    out = straight(x[-1, :3], [0, -15, 0], 120)  # away south, to about 4.5 km
    legs = [out]
    for k in range(12):  # ten seconds north, ten seconds east, ...
        v = [0, 5, 0] if k % 2 == 0 else [5, 0, 0]
        legs.append(straight(legs[-1][-1, :3], v, 10))
    t0 = T0 + x.shape[0]
    far = []
    for k, xk in enumerate(np.concatenate(legs)):
        far += a.assess(table(t0 + k, [1], xk), classes([DRONE]))
    mine = [e for e in far if e.id == loiter_id]
    assert [o.id for o in a.open_alerts()] == [loiter_id]
    horizon = a.config.warning_horizon_s * a.config.horizon_exit_factor
    assert all(e.tta_s is None or e.tta_s <= horizon for e in mine), [e.tta_s for e in mine]
    assert sum(e.state == "updated" for e in mine) <= 2, [(e.t - t0, e.tta_s) for e in mine]


def _second_pass(away_s: int) -> tuple[ThreatAssessor, list]:
    """A drone alerted on its way in, turning away for ``away_s`` seconds at 40 m/s,
    coming back at the zone and turning away again: the assessor and its events."""
    a = ThreatAssessor(zones())
    inbound = straight([0, -6000, 100], [0, 40, 0], 60)
    away = straight(inbound[-1, :3], [40, -5, 0], away_s)
    back = straight(away[-1, :3], [-40, 30, 0], 50)
    out = straight(back[-1, :3], [40, 0, 0], 80)
    return a, run(a, np.concatenate([inbound, away, back, out])[:, None, :], DRONE)


def test_transit_drone_second_pass_is_not_loitering():
    """A drone on a dogleg route (alerted inbound, a leg that points past the zone,
    then in again from 5 km further along) is passing through, not loitering: it
    made most of the way it flew (``loiter_max_net_frac``), and its second alert
    clears when it turns away again."""
    a = ThreatAssessor(zones())
    inbound = straight([0, -9000, 100], [0, 40, 0], 60)
    leg = straight(inbound[-1, :3], [37.5, 14, 0], 100)
    back = straight(leg[-1, :3], [-32, 24, 0], 50)
    out = straight(back[-1, :3], [40, 0, 0], 80)
    ev = run(a, np.concatenate([inbound, leg, back, out])[:, None, :], DRONE)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 2
    assert all(e.dwell_s is None for e in ev)
    assert ev[-1].state == "cleared" and not a.open_alerts()


def test_drone_back_at_a_zone_after_minutes_away_is_loitering():
    """A drone that turns away for minutes, 6 km off, and comes back at the zone made
    little way for all its flying: it loiters, and its second alert stays open."""
    a, ev = _second_pass(160)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 2 and raised[1].dwell_s is not None
    assert [o.id for o in a.open_alerts()] == [raised[1].id]


def test_drone_back_at_a_zone_a_few_km_from_its_first_alert_is_loitering():
    """The same drone, turning back 3 km from where it was first alerted (a loitering
    quadcopter strays that far between passes): its second alert is a loiter alert
    and stays open when it turns away again, with its dwell time."""
    a, ev = _second_pass(80)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 2 and raised[1].dwell_s is not None
    assert [o.id for o in a.open_alerts()] == [raised[1].id]


def _through_and_back(out_m: float) -> tuple[ThreatAssessor, list]:
    """A drone that flies into the zone, out of it ``out_m`` to the north and straight
    back in (a quadcopter leaving a depot and returning): the assessor and its events."""
    a = ThreatAssessor(zones())
    inbound = straight([0, -3000, 100], [0, 20, 0], 175)  # inside from y = -500, at 125 s
    out = straight(inbound[-1, :3], [0, 20, 0], int(out_m / 20) + 25)
    back = straight(out[-1, :3], [0, -20, 0], int(out_m / 20) + 25)
    return a, run(a, np.concatenate([inbound, out, back])[:, None, :], DRONE)


def test_drone_that_leaves_a_zone_and_comes_back_keeps_its_alert():
    """Out of the zone and 1.5 km off, then back in: the one alert stays open (a loiter
    alert, with its dwell time), not cleared and raised again."""
    a, ev = _through_and_back(1_500.0)
    assert [e.state for e in ev].count("raised") == 1, [(e.t - T0, e.state) for e in ev]
    assert not [e for e in ev if e.state == "cleared"]
    assert ev[-1].dwell_s is not None and ev[-1].dwell_s > 200.0
    assert len(a.open_alerts()) == 1


def test_drone_that_leaves_a_zone_for_good_is_cleared_beyond_the_loiter_range():
    a = ThreatAssessor(zones())
    x = np.concatenate(
        [straight([0, -3000, 100], [0, 20, 0], 175), straight([0, 500, 100], [0, 40, 0], 260)]
    )
    ev = run(a, x[:, None, :], DRONE)
    cleared = [e for e in ev if e.state == "cleared"]
    assert [e.state for e in ev].count("raised") == 1
    assert len(cleared) == 1 and cleared[0].reason == "cleared: left the zone"
    # Not before it was loiter_range_m (8 km) from the zone.
    assert cleared[0].t - T0 >= 175 + (8_000 - 0) / 40


def test_noisy_track_along_the_critical_horizon_does_not_flap():
    rng = np.random.default_rng(5)
    a = ThreatAssessor(zones())
    # Orbiting so that its time to arrival hovers around the 120 s horizon,
    # with noisy velocity; and drone probability noisy around the threshold.
    n = 900
    ev = []
    for k in range(n):
        x = np.array([0, -500 - 1200 + rng.normal(0, 30), 100, 0, 10 + rng.normal(0, 1.0), 0])
        pd_ = float(np.clip(0.6 + rng.normal(0, 0.08), 0, 1))
        p = [pd_, (1 - pd_) / 4, (1 - pd_) / 4, (1 - pd_) / 4, (1 - pd_) / 4]
        ev += a.assess(table(T0 + k, [1], x), classes([p]))
    counts = Counter(e.state for e in ev)
    assert counts["raised"] == 1
    assert len(ev) <= 25, Counter((e.state, e.level) for e in ev)


def test_cooperative_drone_at_most_info_and_spoofed_is_hostile():
    x = straight([0, -1000, 100], [0, 10, 0], 110)[:, None, :]
    assert run(ThreatAssessor(zones()), x, DRONE, cooperative=[True]) == []
    a = ThreatAssessor(zones(), ThreatConfig(cooperative_info=True))
    ev = run(a, x, DRONE, cooperative=[True])
    assert ev and {e.level for e in ev} == {"info"}
    assert "cooperative" in ev[0].reason
    b = ThreatAssessor(zones())
    ev = run(b, x, DRONE, cooperative=[True], spoof=[True])
    assert "critical" in {e.level for e in ev}
    assert "spoofed" in ev[-1].reason


def test_birds_give_nothing_unknowns_give_info():
    x = straight([0, -1000, 100], [0, 10, 0], 120)[:, None, :]
    assert run(ThreatAssessor(zones()), x, BIRD) == []
    off = ThreatConfig(unidentified_warning_horizon_s=0.0)
    ev = run(ThreatAssessor(zones(), off), x, UNKNOWN)
    assert ev and {e.level for e in ev} == {"info"}
    # An info alert waits until the object has stayed unidentified for 30 s.
    assert ev[0].t - T0 >= ThreatConfig().info_raise_hold_s - 1.0


#: A slow object that may be a drone: at the 0.5 cap of one with no signature, less a bit.
SLOW_DRONE = [0.45, 0.25, 0.05, 0.05, 0.2]


@pytest.mark.parametrize(("p", "speed"), [(SLOW_DRONE, 10.0), (UNKNOWN, 30.0)])
def test_unidentified_object_about_to_enter_is_a_warning(p, speed):
    """An unidentified object that may be a drone (fast, or slow with a drone probability
    near the cap of a slow object with no signature) gets info far out and warning once
    it may enter the zone within unidentified_warning_horizon_s plus its uncertainty
    allowance (at most max_allowance_m); never before the info hold."""
    cfg = ThreatConfig()
    x = straight([0, -500 - 250 * speed, 100], [0, speed, 0], 260)[:, None, :]
    ev = run(ThreatAssessor(zones(), cfg), x, p)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 1 and raised[0].level == "info"
    assert raised[0].t - T0 >= cfg.info_raise_hold_s - 1.0
    up = next(e for e in ev if e.level == "warning")
    assert up.state == "updated" and up.id == raised[0].id
    allowance_s = cfg.max_allowance_m / speed
    assert cfg.unidentified_warning_horizon_s < up.tta_s
    assert up.tta_s <= cfg.unidentified_warning_horizon_s + allowance_s
    # Starting inside the horizon: the raise still waits for the info hold.
    near = straight([0, -500 - 50 * speed, 100], [0, speed, 0], 60)[:, None, :]
    ev = run(ThreatAssessor(zones(), cfg), near, p)
    assert ev[0].state == "raised" and ev[0].level == "warning"
    assert ev[0].t - T0 >= cfg.info_raise_hold_s - 1.0
    # A believed cooperative object stays quiet.
    assert run(ThreatAssessor(zones(), cfg), near, p, cooperative=[True]) == []


def test_slow_object_more_likely_not_a_drone_is_info_until_it_is_in():
    """A slow object that reads mostly ``unknown`` and only 0.2 drone (a real gull drifting
    at 4-6 m/s toward the main site read so for 30 s, and was warned 83 s out;
    real-train-05) has no strong hostile-drone evidence: info on its way in, warning once
    it is inside. With drone probability 0.45 (a drone at a bird's speed with no
    signature is capped at 0.5) it is warned minutes before."""
    cfg = ThreatConfig()
    speed = 10.0
    x = straight([0, -500 - 250 * speed, 100], [0, speed, 0], 270)[:, None, :]
    ev = run(ThreatAssessor(zones(), cfg), x, UNKNOWN)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 1 and raised[0].level == "info"
    up = next(e for e in ev if e.level == "warning")
    assert up.id == raised[0].id
    assert up.t - T0 == pytest.approx(250.0, abs=1.5)  # crossing the edge at y = -500
    early = next(
        e for e in run(ThreatAssessor(zones(), cfg), x, SLOW_DRONE) if e.level == "warning"
    )
    assert early.t - T0 <= 250.0 - cfg.unidentified_warning_horizon_s


def _events_off_path(cfg, p, x, vel_sigma_mps):
    a, ev = ThreatAssessor(zones(), cfg), []
    for k, xk in enumerate(x):
        ev += a.assess(table(T0 + k, [1], xk, vel_sigma_mps=vel_sigma_mps), classes([p]))
    return ev


def test_unidentified_object_that_may_enter_within_its_uncertainty_is_a_warning():
    """Far out, a track's heading swings by degrees between updates, and a straight path
    grazing a zone's edge comes and goes. A fast unidentified object whose path passes
    200 m outside the zone, while its velocity is known to 1 m/s, may well enter: warning
    (after the info hold). Known to 0.05 m/s it surely misses: nothing."""
    cfg = ThreatConfig()
    x = straight([700, -4500, 100], [0, 30, 0], 150)
    ev = _events_off_path(cfg, UNKNOWN, x, 1.0)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 1 and raised[0].level == "warning", ev
    assert raised[0].t - T0 >= cfg.info_raise_hold_s - 1.0
    assert 0.0 < raised[0].tta_s <= cfg.unidentified_warning_horizon_s
    assert _events_off_path(cfg, UNKNOWN, x, 0.05) == []


def test_a_slow_unidentified_object_that_may_drift_in_is_info_until_close():
    """A slow object whose path passes 100 m outside the zone may drift in minutes from
    now. Reading mostly ``unknown`` (a real gannet circling a kilometre out read so) it is
    info once its possible arrival is within unidentified_slow_possible_horizon_s, never
    warning while outside; with the old rule (the whole unidentified horizon, warning) it
    was warned. One as drone-like as its missing signature allows is warned."""
    cfg = ThreatConfig()
    x = straight([600, -1500, 100], [0, 8, 0], 150)

    def first(c, p, level) -> float:
        ev = _events_off_path(c, p, x, 1.0)
        return min((e.t - T0 for e in ev if e.level == level), default=math.inf)

    assert first(cfg, UNKNOWN, "warning") == math.inf
    assert math.isfinite(first(cfg, UNKNOWN, "info"))
    old_rule = msgspec.structs.replace(
        cfg, unidentified_slow_possible_horizon_s=120.0, unidentified_slow_drone_p=0.0
    )
    assert math.isfinite(first(old_rule, UNKNOWN, "warning"))
    assert math.isfinite(first(cfg, SLOW_DRONE, "warning"))


def test_a_new_fast_track_that_may_be_a_drone_is_warned_without_the_unknown_wait():
    """A track first seen 5 km out, flying at 30 m/s straight at the zone, reading
    helicopter with drone 0.3: no bird, and no new track's "unknown" either. It may be a
    drone from info_fast_min_age_s (10 s) on, and is warned once that has held
    info_raise_hold_s, 20 s before the 30 s wait for an unknown would allow."""
    cfg = ThreatConfig()
    heli_or_drone = [0.3, 0.05, 0.1, 0.5, 0.05]
    x = straight([0, -5_000, 100], [0, 30, 0], 100)

    def first_raise(c: ThreatConfig) -> float:
        a = ThreatAssessor(zones(), c)
        for k, xk in enumerate(x):
            tab = dataclasses.replace(table(T0 + k, [1], xk), t_first_s=np.array([T0]))
            for e in a.assess(tab, classes([heli_or_drone])):
                if e.state == "raised":
                    return e.t - T0
        return math.inf

    t = first_raise(cfg)
    assert t == pytest.approx(cfg.info_fast_min_age_s + cfg.info_raise_hold_s, abs=1.0)
    slow = msgspec.structs.replace(cfg, info_fast_min_age_s=cfg.info_min_age_s)
    assert first_raise(slow) == pytest.approx(t + 20.0, abs=1.0)


def test_swarm_of_twenty_gives_twenty_alerts_and_few_lines():
    rng = np.random.default_rng(6)
    a = ThreatAssessor(zones())
    n, steps = 20, 400
    ang = rng.uniform(0, 2 * np.pi, n)
    start = np.column_stack([3500 * np.sin(ang), 3500 * np.cos(ang), np.full(n, 80.0)])
    v = -start / np.linalg.norm(start, axis=1, keepdims=True) * rng.uniform(8, 15, n)[:, None]
    v[:, 2] = 0
    t = np.arange(steps)[:, None, None]
    pos = start[None] + v[None] * t + rng.normal(0, 5, (steps, n, 3))
    vel = v[None] + rng.normal(0, 0.5, (steps, n, 3))
    ev = run(a, np.concatenate([pos, vel], axis=2), DRONE)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == n and len({e.id for e in raised}) == n
    per = Counter(e.id for e in ev)
    assert max(per.values()) <= 10
    assert len(ev) <= 10 * n


def test_priority_lengthens_horizons():
    z = ZoneSet(
        [
            zone_enu("hi", SQUARE, 0, 300, priority=1),
            zone_enu("lo", [(p[0] + 5000, p[1]) for p in SQUARE], 0, 300, priority=5),
        ],
        FRAME,
    )
    a = ThreatAssessor(z, ThreatConfig())
    # 200 s from both zones.
    x = np.array([[0, -500 - 2000, 100, 0, 10, 0], [5000, -500 - 2000, 100, 0, 10, 0]])
    lv, _, tta, _ = a.levels(table(T0, [1, 2], x), classes([DRONE, DRONE]))
    assert tta[0, 0] == pytest.approx(200, abs=1) and tta[1, 1] == pytest.approx(200, abs=1)
    # Priority 1 stretches 120 s to 180 s... still not 200; warning. Priority 5 shrinks 300 s to 150 s.
    assert lv[0, 0] == 1 and lv[1, 1] < 1


def test_restore_continues_open_alerts_without_reraising():
    a = ThreatAssessor(zones())
    x = straight([0, -1500, 100], [0, 10, 0], 30)[:, None, :]
    ev = run(a, x, DRONE)
    opened = a.open_alerts()
    assert len(opened) == 1
    b = ThreatAssessor(zones())
    b.restore(ev)
    assert [o.id for o in b.open_alerts()] == [opened[0].id]
    more = b.assess(table(T0 + 30, [1], x[-1, 0] + [0, 10, 0, 0, 0, 0]), classes([DRONE]))
    assert all(e.state != "raised" for e in more)
    # A new track gets the next id, once its level has held for raise_hold_s.
    hold = int(np.ceil(b.config.raise_hold_s))
    new = []
    for k in range(hold + 1):
        tab = table(T0 + 31 + k, [1, 2], np.stack([x[-1, 0], x[-1, 0]]))
        new += b.assess(tab, classes([DRONE, DRONE]))
    assert [e.id for e in new if e.state == "raised"] == ["A2"]


def test_drone_on_a_dogleg_closing_on_the_zone_is_warned():
    # 4 km out on a leg 30 degrees off the zone: the straight line misses, the leg closes.
    a = ThreatAssessor(zones())
    v = 40.0 * np.array([np.sin(np.radians(30)), np.cos(np.radians(30)), 0.0])
    x = np.concatenate([[0.0, -4500.0, 100.0], v])
    lv, _, tta, _ = a.levels(table(T0, [1], x), classes([DRONE]))
    # Reported time to arrival: 4 km to the zone's edge at the closing speed 40 cos 30.
    assert lv[0, 0] == 1 and tta[0, 0] == pytest.approx(
        4000.0 / (40.0 * np.cos(np.radians(30))), rel=0.01
    )
    # Heading 60 degrees off the zone is not closing on it.
    v2 = 40.0 * np.array([np.sin(np.radians(60)), np.cos(np.radians(60)), 0.0])
    lv2, _, _, _ = a.levels(table(T0, [1], np.concatenate([x[:3], v2])), classes([DRONE]))
    assert lv2[0, 0] < 1


def test_loose_signs_raise_only_the_zones_reached_first():
    # Closing on zone a (off its straight path, arrival ~115 s) and, further on, on zone
    # b (~245 s): only a is raised on that sign; an open alert on b would still be held.
    far = [(x, y + 4500.0) for x, y in SQUARE]
    zs = ZoneSet([zone_enu("a", SQUARE), zone_enu("b", far)], FRAME)
    v = 40.0 * np.array([np.sin(np.radians(30)), np.cos(np.radians(30)), 0.0])
    x = np.concatenate([[0.0, -4500.0, 100.0], v])
    lv_in, lv_out, tta, _ = ThreatAssessor(zs).levels(table(T0, [1], x), classes([DRONE]))
    closing = 40.0 * np.cos(np.radians(30))
    assert tta[0].tolist() == pytest.approx([4000.0 / closing, 8500.0 / closing], rel=0.01)
    assert lv_in[0].tolist() == [1, -1] and lv_out[0].tolist() == [1, 1]
    every = ThreatAssessor(zs, ThreatConfig(loose_zone_margin_s=7200.0))
    lv_in, _, _, _ = every.levels(table(T0, [1], x), classes([DRONE]))
    assert lv_in[0].tolist() == [1, 1]


def test_no_alert_on_an_unlocated_track_or_a_one_scan_blip():
    a = ThreatAssessor(zones())
    x = straight([0, -1000, 100], [0, 10, 0], 20)
    for k in range(20):  # a bearing-only track: kilometres of position uncertainty
        assert a.assess(table(T0 + k, [1], x[k], pos_sigma_m=2000.0), classes([DRONE])) == []
    b = ThreatAssessor(zones())
    assert b.assess(table(T0, [2], x[0]), classes([DRONE])) == []  # level held 0 s
    assert b.assess(table(T0 + 1, [2], x[1], status=[DELETED]), classes([DRONE])) == []


def test_young_unknown_track_gives_no_info():
    a = ThreatAssessor(zones())
    x = straight([0, -1000, 100], [0, 10, 0], 10)
    for k in range(10):
        tab = table(T0 + k, [1], x[k])
        tab.t_first_s[:] = T0 - 5.0  # tracked for 5..14 s: still being classified
        assert a.assess(tab, classes([UNKNOWN])) == []


def test_fast_object_that_may_be_a_drone_gets_info_slow_one_nothing():
    """Without a radar cross-section or RF, a fixed-wing drone and a helicopter fly alike:
    an object faster than any bird that may be a drone (p 0.3) heading in gets ``info``;
    the same evidence at a bird's speed gets nothing."""
    maybe_drone = [0.3, 0.05, 0.05, 0.55, 0.05]
    fast = straight([0, -15000, 200], [0, 35, 0], 200)
    slow = straight([0, -3000, 100], [0, 12, 0], 200)
    ev_fast = run(ThreatAssessor(zones()), fast[:, None, :], maybe_drone)
    ev_slow = run(ThreatAssessor(zones()), slow[:, None, :], maybe_drone)
    assert [(e.state, e.level) for e in ev_fast][:1] == [("raised", "info")]
    assert ev_slow == []


def test_exit_thresholds_hold_a_level_but_never_raise_one():
    """An info alert on an object whose drone probability sits between the exit (0.45)
    and entry (0.6) thresholds stays info: it never becomes critical on hysteresis
    (nor warning, with the unidentified-object warning off)."""
    cfg = ThreatConfig(unidentified_warning_horizon_s=0.0)
    doubtful = [0.5, 0.3, 0.02, 0.03, 0.15]  # drone + unknown >= info_p: info
    x = straight([0, -500, 100], [0, 3, 0], 200)  # creeping into the zone
    ev = run(ThreatAssessor(zones(), cfg), x[:, None, :], doubtful)
    assert ev and {e.level for e in ev} == {"info"}, [(e.state, e.level) for e in ev]
    # With it on (the default), about to enter makes it a warning, never critical.
    ev = run(ThreatAssessor(zones()), x[:, None, :], doubtful)
    assert ev and {e.level for e in ev} == {"warning"}, [(e.state, e.level) for e in ev]


def test_loiterer_coming_back_near_a_later_raise_keeps_its_alert():
    """Loitering is judged against every earlier raise, not only the first: a drone
    raised once from the south, then from the east 8.6 km on (it made most of its way
    there: not loitering), then again from the same spot in the east, is loitering at
    its third raise. (Judged by displacement: a slow object re-raised is loitering
    wherever it went, the next test.)"""
    a = ThreatAssessor(zones(), ThreatConfig(loiter_slow_anywhere=False))
    leg = lambda p0, v, n: straight(p0, v, n)  # noqa: E731
    legs = [leg([0, -7000, 100], [0, 20, 0], 60)]  # raise 1 near (0, -6300)
    legs.append(leg(legs[-1][-1, :3], [15.32, 12.86, 0], 420))  # past the zone, north-east
    legs.append(leg(legs[-1][-1, :3], [-20, 0, 0], 30))  # raise 2 near (6250, -380)
    legs.append(leg(legs[-1][-1, :3], [20, 0, 0], 60))  # away
    legs.append(leg(legs[-1][-1, :3], [-20, 0, 0], 40))  # raise 3, near raise 2
    legs.append(leg(legs[-1][-1, :3], [20, 0, 0], 40))  # away again: stays open
    ev = run(a, np.concatenate(legs)[:, None, :], DRONE)
    raised = [e for e in ev if e.state == "raised"]
    assert len(raised) == 3, [(e.t - T0, e.state, e.level) for e in ev]
    assert all(e.dwell_s is None for e in ev if e.id in (raised[0].id, raised[1].id))
    third = [e for e in ev if e.id == raised[2].id]
    assert third[0].dwell_s is not None and all(e.state != "cleared" for e in third)


def test_a_slow_drone_raised_again_for_a_zone_is_loitering_wherever_it_went():
    """A non-hostile quadcopter without Remote ID wandered 3-5 km from mass-raid's
    zones and made most of its way between its first two raises for one zone, so it was
    not judged loitering and was raised three times in ten minutes. An object slower
    than a bird (the classifier's flag) raised again for a zone is loitering wherever it
    went: its second alert stays open when it turns away. A fast one (an attack drone
    on doglegs) is judged by displacement as before."""
    leg = lambda p0, v, n: straight(p0, v, n)  # noqa: E731
    legs = [leg([0, -7000, 100], [0, 20, 0], 60)]  # raise 1 near (0, -6300)
    legs.append(leg(legs[-1][-1, :3], [15.32, 12.86, 0], 420))  # past the zone, north-east
    legs.append(leg(legs[-1][-1, :3], [-20, 0, 0], 30))  # raise 2 near (6250, -380)
    legs.append(leg(legs[-1][-1, :3], [20, 0, 0], 60))  # away
    states = np.concatenate(legs)
    for anywhere, fast, loitering in (
        (True, False, True),
        (False, False, False),
        (True, True, False),
    ):
        a = ThreatAssessor(zones(), ThreatConfig(loiter_slow_anywhere=anywhere))
        ev = []
        for k, x in enumerate(states):
            c = dataclasses.replace(classes([DRONE]), fast=np.array([fast]))
            ev += a.assess(table(T0 + k, [1], x), c)
        raised = [e for e in ev if e.state == "raised"]
        assert len(raised) == 2, (anywhere, fast)
        second = [e for e in ev if e.id == raised[1].id]
        assert (second[0].dwell_s is not None) == loitering, (anywhere, fast)
        assert any(e.state == "cleared" for e in second) != loitering, (anywhere, fast)


def test_class_wavering_while_heading_in_does_not_clear_and_reraise():
    """A drone flying at the zone whose class falls for 40 s (clutter, a flock) keeps
    its alert (``class_clear_delay_s``); one that turns away is cleared as before."""
    a = ThreatAssessor(zones())
    x = straight([0, -500 - 4200, 100], [0, 15, 0], 200)
    p = [DRONE] * 60 + [BIRD] * 40 + [DRONE] * 100
    ev = []
    for k in range(x.shape[0]):
        ev += a.assess(table(T0 + k, [1], x[k]), classes([p[k]]))
    assert [e.state for e in ev].count("raised") == 1
    assert not any(e.state == "cleared" for e in ev)


def test_an_alert_clears_once_its_track_goes_unfixed():
    """A drone heading in is alerted; then its track stops being fixed (the drone dived
    into another zone, or went out of view) while it coasts on at the zone: after
    ``max_unfixed_s`` it gives no level, and the alert clears as for a turn away,
    not when the tracker finally drops the track."""
    a = ThreatAssessor(zones())
    x = straight([0, -6000, 100], [0, 40, 0], 60)
    ev = []
    for k, xk in enumerate(x):
        tab = table(T0 + k, [1], xk)
        # Fixed until 20 s, then only coasting predictions.
        tab = dataclasses.replace(tab, t_fix_s=np.array([T0 + min(k, 20)], float))
        ev += a.assess(tab, classes([DRONE]))
    states = [(e.state, round(e.t - T0)) for e in ev]
    assert states[0][0] == "raised" and states[-1][0] == "cleared", states
    assert 20 + a.config.max_unfixed_s < states[-1][1] <= 20 + a.config.max_unfixed_s + 12


def test_unidentified_object_hovering_at_a_zone_edge_is_warned():
    """An unidentified object creeping about 30 m outside a zone's edge (its heading
    wanders, so its straight path only now and then enters) is warned of: a few
    seconds' drift takes it in. The same 200 m out, 1 km above the zone's ceiling (a
    balloon), or a bird at the edge, is not."""
    rng = np.random.default_rng(2)

    def hover(y0: float, p, up: float = 30.0) -> list:
        a = ThreatAssessor(zones())
        ev = []
        for k in range(90):
            heading = rng.uniform(0.0, 2.0 * np.pi)
            x = [rng.normal(0.0, 3.0), y0 + rng.normal(0.0, 3.0), up,
                 2.0 * np.cos(heading), 2.0 * np.sin(heading), 0.0]  # fmt: skip
            ev += a.assess(table(T0 + k, [1], x), classes([p]))
        return ev

    near = hover(-530.0, UNKNOWN)
    assert [(e.state, e.level) for e in near][:1] == [("raised", "warning")]
    assert hover(-700.0, UNKNOWN) == []
    assert hover(-530.0, UNKNOWN, up=1300.0) == []
    assert hover(-530.0, BIRD) == []


def test_the_classifiers_faster_than_a_bird_holds_through_a_speed_dip():
    """A fixed-wing drone at the bird limit (25 m/s) whose speed estimate reads 24 m/s,
    drone 0.3: the threat stage's fast rule takes the classifier's hysteresis, so the
    object stays one that may be a drone and is warned of on its way in; by its speed
    alone it is neither fast nor unidentified enough, and raises nothing."""
    p = [0.3, 0.45, 0.1, 0.1, 0.05]
    x = straight([0, -500 - 100 * 24.0, 100], [0, 24.0, 0], 90)

    def events(fast: bool) -> list:
        a, ev = ThreatAssessor(zones()), []
        for k, xk in enumerate(x):
            c = dataclasses.replace(classes([p]), fast=np.array([fast]))
            ev += a.assess(table(T0 + k, [1], xk), c)
        return ev

    assert [e.level for e in events(True) if e.state == "raised"] == ["warning"]
    assert events(False) == []


def test_a_birds_burst_the_classifier_calls_no_cruise_is_not_fast():
    """A homing pigeon bursting to 27 m/s over the ground, drone 0.3: the classifier says
    it is not faster than a bird (its average is a bird's), and the threat stage takes
    that over the speed of the moment, so it raises nothing; without the classifier's
    flag the speed alone makes it fast and it is warned of as it comes in."""
    p = [0.3, 0.45, 0.1, 0.1, 0.05]
    x = straight([0, -500 - 100 * 27.0, 100], [0, 27.0, 0], 90)

    def events(fast: bool | None) -> list:
        a, ev = ThreatAssessor(zones()), []
        for k, xk in enumerate(x):
            c = classes([p])
            if fast is not None:
                c = dataclasses.replace(c, fast=np.array([fast]))
            ev += a.assess(table(T0 + k, [1], xk), c)
        return ev

    assert events(False) == []
    assert [e.level for e in events(None) if e.state == "raised"] == ["warning"]
    assert [e.level for e in events(True) if e.state == "raised"] == ["warning"]
