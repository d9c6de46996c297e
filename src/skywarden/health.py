"""Sensor health: a sensor silent beyond its expected update period raises a
``sensor`` alert, and the alert clears when the sensor is heard again.

Time is injected (``now_s`` arguments), so the monitor is exact in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .types import AlertLevel, AlertLine, Sensor, SensorCause

log = logging.getLogger(__name__)


@dataclass
class SensorHealth:
    """Watches when each sensor was last heard from and raises/clears sensor alerts.

    A sensor is *silent* when nothing has come from it for ``factor`` times its
    update period (``update_s``, or ``default_update_s``), and at least ``min_silence_s``.
    Only sensors of ``watch_kinds`` are watched: a radar or a position sensor reports
    every scan (a radar always has some clutter), whereas an RF direction finder,
    a camera or a Remote ID / ADS-B receiver is rightly silent when nothing flies;
    their health comes from status reports (SAPIENT) instead.

    A sensor declared while running (a SAPIENT node registering) is given its
    full silence limit from the moment it was declared (:meth:`declared`), not
    from the start of the run. A sensor that sends status reports at a known
    pace (:meth:`expect_status`) is alive as long as they come: it is silent only
    after ``factor`` times the longer of its update period and status interval.
    """

    sensors: Mapping[str, Sensor]
    start_s: float
    factor: float = 3.0
    min_silence_s: float = 5.0
    default_update_s: float = 2.0
    watch_kinds: tuple[str, ...] = ("radar", "position")
    last_heard: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    status_interval_s: dict[str, float] = field(default_factory=dict)
    _alert_ids: dict[str, str] = field(default_factory=dict)
    #: Sensors heard for the first time since the last ``take_newly_ok``.
    newly_ok: list[str] = field(default_factory=list)

    def take_newly_ok(self) -> list[str]:
        out, self.newly_ok = self.newly_ok, []
        return out

    def limit_s(self, sensor_id: str) -> float:
        s = self.sensors.get(sensor_id)
        period = (s.update_s if s and s.update_s else None) or self.default_update_s
        period = max(period, self.status_interval_s.get(sensor_id, 0.0))
        return max(self.factor * period, self.min_silence_s)

    def declared(self, sensor_id: str, now_s: float) -> None:
        """A sensor appeared at ``now_s``: its silence is counted from then."""
        self.last_heard.setdefault(sensor_id, now_s)

    def expect_status(self, sensor_id: str, interval_s: float | None) -> None:
        """The sensor reports its status every ``interval_s`` (None: not told)."""
        if interval_s is None:
            self.status_interval_s.pop(sensor_id, None)
        else:
            self.status_interval_s[sensor_id] = interval_s

    def heard(self, sensor_id: str, now_s: float) -> list[AlertLine]:
        """Note a message from a sensor; returns a ``cleared`` alert if it was silent."""
        self.last_heard[sensor_id] = now_s
        if self.status.get(sensor_id) is None:
            self.newly_ok.append(sensor_id)
        if self.status.get(sensor_id) == "silent":
            self.status[sensor_id] = "ok"
            aid = self._alert_ids.pop(sensor_id)
            log.info("sensor %s is back", sensor_id)
            reason = f"sensor {sensor_id} reporting again"
            return [sensor_alert(now_s, aid, sensor_id, "cleared", "sensor_heard", reason)]
        self.status[sensor_id] = "ok"
        return []

    def check(self, now_s: float) -> list[AlertLine]:
        """Raise an alert for every sensor that has just fallen silent."""
        out = []
        for sid, sensor in self.sensors.items():
            if sensor.kind not in self.watch_kinds:
                continue
            last = self.last_heard.get(sid, self.start_s)
            if self.status.get(sid) != "silent" and now_s - last > self.limit_s(sid):
                self.status[sid] = "silent"
                aid = self._alert_ids[sid] = sensor_alert_id(sid, now_s)
                log.warning("sensor %s silent for %.1f s", sid, now_s - last)
                silent = now_s - last
                reason = f"sensor {sid} silent for {silent:.0f} s"
                out.append(sensor_alert(now_s, aid, sid, "raised", "sensor_silent", reason, silent))
        return out


def sensor_alert_id(name: str, t_s: float) -> str:
    """An alert id for a sensor or sink, unique across restarts: name and the second it failed."""
    return f"S-{name}-{int(t_s)}"


def sensor_alert(
    t_s: float,
    alert_id: str,
    name: str,
    state: Literal["raised", "cleared"],
    cause: SensorCause,
    reason: str,
    silent_s: float | None = None,
    level: AlertLevel = "warning",
) -> AlertLine:
    """A ``sensor``-kind alert event about a sensor or a sink named ``name``.

    ``cause`` is the code readers word in their own language; ``reason`` the English
    text with particulars (the link's last error).
    """
    return AlertLine(
        t=t_s,
        id=alert_id,
        kind="sensor",
        sensor=name,
        level=level,
        state=state,
        reason=reason,
        cause=cause,
        silent_s=None if silent_s is None else round(silent_s, 1),
    )
