from skywarden.health import SensorHealth
from skywarden.types import Sensor


def _sensor(sid: str, kind: str, update_s: float | None = 1.0) -> Sensor:
    return Sensor(id=sid, kind=kind, lat=51.0, lon=1.0, alt_m=0.0, update_s=update_s)


def test_silent_radar_raises_then_clears_with_one_alert_id():
    h = SensorHealth({"r": _sensor("r", "radar", 2.0)}, start_s=100.0)
    h.heard("r", 100.0)
    assert h.check(105.0) == []  # 3 x 2 s = 6 s not yet passed
    (raised,) = h.check(106.5)
    assert (raised.kind, raised.sensor, raised.state) == ("sensor", "r", "raised")
    assert (raised.cause, raised.silent_s) == ("sensor_silent", 6.5)
    assert h.check(120.0) == []  # raised once, not every check
    (cleared,) = h.heard("r", 121.0)
    assert cleared.state == "cleared" and cleared.id == raised.id
    assert (cleared.cause, cleared.silent_s) == ("sensor_heard", None)
    assert h.heard("r", 122.0) == []


def test_sensor_never_heard_is_silent_from_start_and_event_driven_ones_are_not_watched():
    sensors = {"p": _sensor("p", "position", None), "rf": _sensor("rf", "rf")}
    h = SensorHealth(sensors, start_s=0.0)
    # No update period given: 3 x the default 2 s.
    assert h.check(5.9) == []
    alerts = h.check(6.1)
    assert [a.sensor for a in alerts] == ["p"]
    assert h.check(1000.0) == []
