"""Cursor on Target (CoT) to TAK: tracks, alerts and protected zones as CoT events.

Transport is pytak's (TCP, UDP unicast/multicast, TLS with client
certificates); TAK protocol v1 protobuf framing is takproto's. Events are built
here as CoT 2.0 XML with the *scan* time, not the wall clock, so that a replay
shows the right times and stale times follow the track's own update rate.

Symbols (MIL-STD-2525 function ids as used in CoT, ``a-<affiliation>-A-...``):

=============  =====================  ====================================
class          CoT type               2525 meaning
=============  =====================  ====================================
drone          ``a-?-A-M-H-Q``        military rotary wing, drone/RPV/UAV
               ``a-?-A-M-F-Q``        military fixed wing, drone/RPV/UAV
aircraft       ``a-?-A-C-F``          civil fixed wing
helicopter     ``a-?-A-C-H``          civil rotary wing
bird           ``a-n-A``              air track, no platform
unknown        ``a-?-A``              air track, no platform
=============  =====================  ====================================

2525 has no "small civil drone", so a drone takes the UAV leaf, the only one
that means "unmanned". A bird is not a platform and 2525 has no symbol for
animals, so it is drawn as a plain air track; its affiliation is neutral (we
identified it and it threatens nothing) and never hostile. Affiliation ``?``:
friend (``f``) for an id on the friendly list, hostile (``h``) for a drone
with an open threat alert at or above ``hostile_level``, neutral (``n``) for
cooperative civil traffic, otherwise unknown (``u``).

``how`` is ``m-g`` (machine, GNSS) for tracks carrying a cooperative identity
(Remote ID, ADS-B: the position is the target's own GNSS report) and ``m-r``
(machine, radar/sensor) for sensed ones.

Rate limits keep a swarm from flooding a radio link: one event per track per
``min_interval_s`` of scan time, and a token bucket for the whole link, with
threats served first. Alert events are never rate-dropped (they do spend
tokens, so tracks yield to them).
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import datetime as dt
import logging
import math
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ..types import AlertLine, Level, ScanOutput, SiteEvent, TrackLine, Zone, ZonesReplaced
from .base import QueueWorker
from .config import TakConfig, secret_from

log = logging.getLogger(__name__)

#: Unknown circular / linear error, as the CoT schema spells it.
UNKNOWN_ERROR_M = 9_999_999.0


def cot_time(t_s: float) -> str:
    """UTC seconds -> CoT time string (ISO-8601, milliseconds, ``Z``)."""
    return (
        dt.datetime.fromtimestamp(t_s, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def course_speed(vel_enu_mps: Sequence[float]) -> tuple[float, float]:
    """ENU velocity (m/s) -> (course in degrees clockwise from true north in [0, 360), ground speed m/s)."""
    ve, vn = float(vel_enu_mps[0]), float(vel_enu_mps[1])
    return math.degrees(math.atan2(ve, vn)) % 360.0, math.hypot(ve, vn)


def cot_type(cls: str, affiliation: str, drone_symbol: str = "rotary") -> str:
    """The CoT type for a track of class ``cls`` and affiliation ``f``/``h``/``n``/``u``."""
    if cls == "drone":
        return f"a-{affiliation}-A-M-{'H' if drone_symbol == 'rotary' else 'F'}-Q"
    if cls == "aircraft":
        return f"a-{affiliation}-A-C-F"
    if cls == "helicopter":
        return f"a-{affiliation}-A-C-H"
    return f"a-{affiliation}-A"


@dataclass(slots=True)
class _TrackState:
    """What the sink remembers of one track between scans."""

    last_t_s: float | None = None
    period_s: float | None = None
    last_sent_t_s: float = -math.inf


class TokenBucket:
    """``rate`` tokens/s up to ``burst``; ``take`` may run into debt so urgent sends still go."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self._t = clock()

    def refill(self) -> float:
        """Add the tokens earned since the last call; return the balance."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self._t) * self.rate)
        self._t = now
        return self.tokens

    def take(self, n: float = 1.0) -> None:
        self.tokens -= n


class CotEventBuilder:
    """Builds CoT XML events from skywarden output lines (pure, no I/O)."""

    def __init__(self, config: TakConfig) -> None:
        self.cfg = config
        self.friendly = set(config.friendly_ids)

    def uid(self, kind: str, ident: str) -> str:
        return f"{self.cfg.uid_prefix}.{kind}.{ident}"

    def affiliation(self, track: TrackLine, alert_level: str | None) -> str:
        ids = set((track.identity or {}).values())
        if ids & self.friendly:
            return "f"
        if (
            track.class_ == "drone"
            and alert_level is not None
            and Level.of(alert_level) >= Level.of(self.cfg.hostile_level)
        ):
            return "h"
        if track.class_ == "bird" or (
            track.identity and track.class_ in ("aircraft", "helicopter")
        ):
            return "n"
        return "u"

    def stale_s(self, period_s: float | None) -> float:
        """Seconds after the event time at which the track is stale."""
        if period_s is None:
            return self.cfg.stale_min_s
        return max(self.cfg.stale_min_s, self.cfg.stale_factor * period_s)

    def track_event(
        self, track: TrackLine, *, period_s: float | None, alert: AlertLine | None
    ) -> bytes:
        """One track as a CoT event; a deleted track is sent already stale."""
        level = alert.level if alert is not None else None
        aff = self.affiliation(track, level)
        stale = track.t if track.status == "deleted" else track.t + self.stale_s(period_s)
        ev = _event(
            uid=self.uid("track", track.id),
            type_=cot_type(track.class_, aff, self.cfg.drone_symbol),
            how="m-g" if track.identity else "m-r",
            t_s=track.t,
            stale_s=stale,
        )
        ce = track.pos_std_m if track.pos_std_m is not None else UNKNOWN_ERROR_M
        _point(ev, track.lat, track.lon, track.alt_m, ce=ce, le=ce)
        detail = ET.SubElement(ev, "detail")
        ET.SubElement(detail, "contact", callsign=f"{track.id} {track.class_}")
        course_deg, speed_mps = course_speed(track.vel_enu_mps)
        ET.SubElement(detail, "track", course=f"{course_deg:.1f}", speed=f"{speed_mps:.2f}")
        p = track.class_p.get(track.class_)
        parts = [f"{track.class_}" + (f" p={p:.2f}" if p is not None else ""), track.status]
        if track.identity:
            parts.append(", ".join(f"{k} {v}" for k, v in sorted(track.identity.items())))
        if alert is not None:
            parts.append(_alert_text(alert))
        ET.SubElement(detail, "remarks").text = "; ".join(parts)
        return _xml(ev)

    def alert_event(self, alert: AlertLine, track: TrackLine | None) -> bytes:
        """An alert as a geofence-breach alarm (``b-a-g``) at the predicted entry point.

        Placed at the entry point when known, else at the track. A cleared alert
        is sent already stale, which removes it from TAK maps.
        """
        if alert.entry_lat is not None and alert.entry_lon is not None:
            lat, lon, hae = alert.entry_lat, alert.entry_lon, UNKNOWN_ERROR_M
        elif track is not None:
            lat, lon, hae = track.lat, track.lon, track.alt_m
        else:
            lat, lon, hae = 0.0, 0.0, UNKNOWN_ERROR_M
        stale = alert.t if alert.state == "cleared" else alert.t + self.cfg.alert_stale_s
        ev = _event(
            uid=self.uid("alert", alert.id), type_="b-a-g", how="m-g", t_s=alert.t, stale_s=stale
        )
        _point(ev, lat, lon, hae, ce=UNKNOWN_ERROR_M, le=UNKNOWN_ERROR_M)
        detail = ET.SubElement(ev, "detail")
        what = alert.track if alert.kind != "sensor" else f"sensor {alert.sensor}"
        ET.SubElement(detail, "contact", callsign=f"ALERT {alert.level} {what}")
        if alert.track is not None:
            ET.SubElement(
                detail, "link", uid=self.uid("track", alert.track), relation="p-p", type="a-u-A"
            )
        ET.SubElement(detail, "remarks").text = _alert_text(alert)
        return _xml(ev)

    def zone_event(self, zone: Zone, t_s: float, stale_after_s: float) -> bytes:
        """A protected zone as a drawn closed polygon (``u-d-f``)."""
        ring = list(zone.polygon)
        if ring and ring[0] != ring[-1]:
            ring.append(ring[0])
        n = max(len(ring) - 1, 1)
        lat_c = sum(p[1] for p in ring[:n]) / n
        lon_c = sum(p[0] for p in ring[:n]) / n
        ev = _event(
            uid=self.uid("zone", zone.id),
            type_="u-d-f",
            how="h-e",
            t_s=t_s,
            stale_s=t_s + stale_after_s,
        )
        _point(ev, lat_c, lon_c, zone.floor_m, ce=UNKNOWN_ERROR_M, le=UNKNOWN_ERROR_M)
        detail = ET.SubElement(ev, "detail")
        for lon, lat in ring:
            ET.SubElement(detail, "link", point=f"{lat:.7f},{lon:.7f}")
        ET.SubElement(detail, "contact", callsign=zone.name or zone.id)
        ET.SubElement(detail, "strokeColor", value="-65536")  # opaque red, ARGB as signed int
        ET.SubElement(detail, "strokeWeight", value="3.0")
        ET.SubElement(detail, "fillColor", value="855572480")  # red at 20 % alpha
        ET.SubElement(detail, "labels_on", value="true")
        ET.SubElement(
            detail, "remarks"
        ).text = f"protected zone {zone.id}: {zone.floor_m:.0f} m to {zone.ceiling_m:.0f} m above the ellipsoid"
        return _xml(ev)


def _xml(ev: ET.Element) -> bytes:
    return ET.tostring(ev, encoding="utf-8", xml_declaration=True)


def _event(*, uid: str, type_: str, how: str, t_s: float, stale_s: float) -> ET.Element:
    t = cot_time(t_s)
    return ET.Element(
        "event",
        version="2.0",
        uid=uid,
        type=type_,
        how=how,
        time=t,
        start=t,
        stale=cot_time(stale_s),
    )


def _point(ev: ET.Element, lat: float, lon: float, hae: float, *, ce: float, le: float) -> None:
    ET.SubElement(
        ev,
        "point",
        lat=f"{lat:.7f}",
        lon=f"{lon:.7f}",
        hae=f"{hae:.1f}",
        ce=f"{ce:.1f}",
        le=f"{le:.1f}",
    )


def _alert_text(a: AlertLine) -> str:
    if a.kind == "sensor":
        return f"ALERT {a.level} {a.state}: sensor {a.sensor}" + (
            f" ({a.reason})" if a.reason else ""
        )
    tta = "inside" if a.tta_s == 0 else (f"tta {a.tta_s:.0f} s" if a.tta_s is not None else "tta ?")
    text = f"ALERT {a.level} {a.state}: {a.track} ({a.class_ or '?'}) zone {a.zone} {tta}"
    return text + (f" ({a.reason})" if a.reason else "")


class CotSink(QueueWorker):
    """Sends each scan's tracks and alerts, and the zones, to one TAK endpoint.

    Connection loss is not fatal: the sink reconnects with exponential backoff
    and meanwhile drops track events (a newer picture supersedes them) while
    counting them in ``dropped_events``; alert events wait in the alert lane and
    go out first once connected (see :mod:`.base`).
    """

    carries_alerts = True

    def __init__(
        self,
        config: TakConfig,
        *,
        zones: Iterable[Zone] = (),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(maxsize=config.queue_size)
        self.cfg = config
        self.name = f"tak:{config.url}"
        self.builder = CotEventBuilder(config)
        self.zones: list[Zone] = list(zones)
        self.clock, self.wall_clock = clock, wall_clock
        self.bucket = TokenBucket(config.link_rate_eps, config.link_burst, clock)
        self._tracks: dict[str, _TrackState] = {}
        self._open_alerts: dict[str, AlertLine] = {}  # by track id, the highest level
        self._alerts_by_id: dict[str, AlertLine] = {}
        # The alert's track as of its latest event: where its CoT alert is drawn.
        self._alert_track: dict[str, TrackLine] = {}
        self._reader: Any = None
        self._writer: Any = None
        self._drain_task: asyncio.Task | None = None
        self._next_connect_s = -math.inf
        self._backoff_s = 1.0
        self._zones_due_s = -math.inf
        self.sent_events = 0
        self.dropped_events = 0
        self.rate_limited = 0
        url = urlparse(config.url)
        self._udp = url.scheme.startswith("udp")
        self._proto_kind = "MESH" if self._udp else "STREAM"

    def set_zones(self, zones: Iterable[Zone]) -> None:
        """Replace the zones drawn on TAK maps; they are resent at the next scan."""
        self.zones = list(zones)
        self._zones_due_s = -math.inf

    def on_site_event(self, event: SiteEvent) -> None:
        """The site's zones were replaced: draw the new ones."""
        if isinstance(event, ZonesReplaced):
            self.set_zones(event.zones)

    # --- what to send -------------------------------------------------------------

    def _update_alerts(self, alerts: Iterable[AlertLine]) -> None:
        for a in alerts:
            if a.state == "cleared":
                self._alerts_by_id.pop(a.id, None)
            else:
                self._alerts_by_id[a.id] = a
        self._open_alerts = {}
        for a in self._alerts_by_id.values():
            if a.track is None:
                continue
            cur = self._open_alerts.get(a.track)
            if cur is None or Level.of(a.level) > Level.of(cur.level):
                self._open_alerts[a.track] = a

    def note_scan(self, item: ScanOutput) -> None:
        """Track which tracks carry which alerts, and where each alert's track is."""
        self._update_alerts(item.alerts)
        by_id = {t.id: t for t in item.tracks}
        for a in item.alerts:
            tr = by_id.get(a.track or "")
            if tr is not None:
                self._alert_track[a.id] = tr

    def alert_events(self, alerts: Iterable[AlertLine]) -> list[bytes]:
        """The CoT events (XML) of alert events; they spend link tokens but are never limited."""
        out = [self.builder.alert_event(a, self._alert_track.get(a.id)) for a in alerts]
        self.bucket.take(len(out))
        return out

    def events_for(self, item: ScanOutput) -> list[bytes]:
        """The CoT events (XML) to send for one scan, after rate limiting, alerts first."""
        self.note_scan(item)
        return self.alert_events(item.alerts) + self.track_events(item)

    def track_events(self, item: ScanOutput) -> list[bytes]:
        """The CoT events of one scan's tracks, rate limited, threats and drones first."""
        out: list[bytes] = []
        due: list[tuple[tuple[int, int, float], TrackLine, _TrackState]] = []
        for tr in item.tracks:
            st = self._tracks.get(tr.id)
            if st is None:
                st = self._tracks[tr.id] = _TrackState()
            if st.last_t_s is not None and tr.t > st.last_t_s:
                dt_s = tr.t - st.last_t_s
                # Smoothed update period: one late scan should not halve the stale time.
                st.period_s = dt_s if st.period_s is None else 0.7 * st.period_s + 0.3 * dt_s
            st.last_t_s = tr.t
            deleted = tr.status == "deleted"
            if deleted:
                del self._tracks[tr.id]
            elif tr.t - st.last_sent_t_s < self.cfg.min_interval_s:
                continue
            threat = 0 if tr.id in self._open_alerts else 1
            key = (0 if deleted else threat, 0 if tr.class_ == "drone" else 1, st.last_sent_t_s)
            due.append((key, tr, st))
        if len(self._tracks) > 2 * len(item.tracks) + 100:
            # Tracks that vanished without a "deleted" line (a restart upstream).
            old = [k for k, st in self._tracks.items() if (st.last_t_s or 0.0) < item.t_s - 300.0]
            for k in old:
                del self._tracks[k]
        due.sort(key=lambda x: x[0])
        budget = math.floor(self.bucket.refill())
        for i, (_, tr, st) in enumerate(due):
            if i >= budget:
                self.rate_limited += len(due) - i
                break
            out.append(
                self.builder.track_event(
                    tr, period_s=st.period_s, alert=self._open_alerts.get(tr.id)
                )
            )
            st.last_sent_t_s = tr.t
            self.bucket.take()
        return out

    def zone_events(self, t_s: float) -> list[bytes]:
        """All zones as drawn shapes, stale after three resend periods."""
        return [self.builder.zone_event(z, t_s, 3 * self.cfg.zones_period_s) for z in self.zones]

    # --- transport -------------------------------------------------------------------

    def _pytak_config(self) -> configparser.SectionProxy:
        url = self.cfg.url
        scheme = urlparse(url).scheme
        if scheme == "udp":
            # Write-only: we never listen for CoT, and a reader would bind the port.
            url = "udp+wo" + url[3:]
        cp = configparser.ConfigParser(interpolation=None)
        cp["sink"] = {"COT_URL": url}
        sec = cp["sink"]
        opt = {
            "PYTAK_TLS_CLIENT_CERT": self.cfg.tls_client_cert,
            "PYTAK_TLS_CLIENT_KEY": self.cfg.tls_client_key,
            "PYTAK_TLS_CLIENT_CAFILE": self.cfg.tls_ca_file,
            "PYTAK_TLS_CLIENT_PASSWORD": secret_from(None, self.cfg.tls_client_password_env),
            "PYTAK_TLS_DONT_CHECK_HOSTNAME": "1" if self.cfg.tls_dont_check_hostname else None,
        }
        for k, v in opt.items():
            if v:
                sec[k] = v
        return sec

    async def _connect(self) -> bool:
        if self._writer is not None:
            return True
        now = self.clock()
        if now < self._next_connect_s:
            return False
        with warnings.catch_warnings():
            # pytak warns at import that aiohttp (for its certificate enrolment) is absent.
            warnings.simplefilter("ignore", UserWarning)
            import pytak  # heavy import, only when a TAK sink is configured

        try:
            self._reader, self._writer = await asyncio.wait_for(
                pytak.protocol_factory(self._pytak_config()), self.cfg.connect_timeout_s
            )
        except (OSError, TimeoutError, SyntaxError, ValueError) as e:
            self.failing, self.last_error = True, f"connect failed: {e}"
            self._next_connect_s = now + self._backoff_s
            log.warning("%s: connect failed (%s); retry in %.0f s", self.name, e, self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2, self.cfg.backoff_max_s)
            return False
        log.info("%s: connected", self.name)
        self._backoff_s = 1.0
        self._zones_due_s = -math.inf
        if isinstance(self._reader, asyncio.StreamReader):
            self._drain_task = asyncio.create_task(self._discard_incoming(self._reader))
        return True

    async def _discard_incoming(self, reader: asyncio.StreamReader) -> None:
        # A TAK server sends pings and other clients' events; we read them so the
        # connection does not back up, and ignore them: we take no input over CoT.
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass

    def _frame(self, xml: bytes) -> bytes:
        if self.cfg.protocol == "xml":
            return xml
        import takproto

        return bytes(takproto.xml2proto(xml, takproto.TAKProtoVer[self._proto_kind]))

    async def _send(self, events: list[bytes]) -> bool:
        """Write events; False (and disconnected) when the link failed."""
        w = self._writer
        try:
            for ev in events:
                data = self._frame(ev)
                if hasattr(w, "send"):  # pytak's datagram client
                    await w.send(data)
                else:
                    w.write(data)
            if hasattr(w, "drain"):
                await w.drain()
            self.sent_events += len(events)
            self.failing, self.last_error = False, None
            return True
        except (OSError, ConnectionError) as e:
            self.failing, self.last_error = True, f"send failed: {e}"
            log.warning("%s: send failed (%s); reconnecting", self.name, e)
            await self._disconnect()
            return False

    async def _disconnect(self) -> None:
        w, self._writer, self._reader = self._writer, None, None
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None
        if w is None:
            return
        with contextlib.suppress(OSError, AttributeError):
            w.close()
        with contextlib.suppress(OSError, AttributeError, TypeError, ConnectionError):
            r = w.wait_closed() if hasattr(w, "wait_closed") else None
            if asyncio.iscoroutine(r):
                await r

    def offer(self, item: ScanOutput) -> None:
        self.note_scan(item)
        super().offer(item)

    async def send_alerts(self, alerts: list[AlertLine]) -> bool:
        if not await self._connect():
            return False
        if not await self._send(self.alert_events(alerts)):
            return False
        for a in alerts:
            if a.state == "cleared":
                self._alert_track.pop(a.id, None)
        return True

    async def handle(self, item: ScanOutput) -> None:
        if item.alerts:  # called directly, not through the worker: alerts take the lane too
            self.note_scan(item)
            self.alerts.add(item.alerts)
        await self.flush_alerts()
        events = self.track_events(item)
        if not await self._connect():
            self.dropped_events += len(events)
            return
        now = self.clock()
        if now >= self._zones_due_s and self.zones:
            events = self.zone_events(self.wall_clock()) + events
            self._zones_due_s = now + self.cfg.zones_period_s
        if events and not await self._send(events):
            self.dropped_events += len(events)

    async def aclose(self) -> None:
        await self._disconnect()
