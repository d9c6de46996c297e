"""The regional map: a site's own web app (``web.app``) fed the regional picture.

The region gives a :class:`~skywarden.web.state.LiveState` one
:class:`~skywarden.types.ScanOutput` per fusion pass: the regional tracks as
``TrackLine`` s that name the sites seeing them (``sites``, ``members``) and the
regional alert events since the last pass. The same scans go to the map's own
:class:`~skywarden.store.Store` (API tokens, acknowledgements, the map's history)
and to the regional sinks (TAK, webhooks, ... built as at a site). The region's
own store stays the record of what the region decided; at start the map's open
alerts are taken from it.

Zones and sensors of many sites share one map, so their ids are qualified by site
(``A/Z1``, ``A/radar-1``); ids are unique only within a site. A regional alert names
the zone as the first site (in the region's ``sites`` order) that declares it.
Zones are edited at each site: the map refuses an edit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec

from ..geodesy import LocalFrame
from ..sinks.base import QueueWorker
from ..sinks.config import build_sinks
from ..store import Store, StoreWriter
from ..types import AlertLine, ScanOutput, TrackLine, Zone
from ..web import create_app
from ..web.state import LiveState
from .alerts import RegionStore
from .config import RegionConfig
from .picture import RegionalTrack
from .schema import SensorStatus

__all__ = ["RegionMap", "track_line"]

log = logging.getLogger(__name__)


def track_line(name: str, frame: LocalFrame, rt: RegionalTrack) -> TrackLine:
    """A regional track as a map track line, its id the region's name and number (``R7``)."""
    lat, lon, alt = frame.to_geodetic(rt.x[:3])
    return TrackLine(
        t=rt.t, id=f"{name}{rt.rid}", lat=float(lat), lon=float(lon), alt_m=float(alt),
        vel_enu_mps=(float(rt.x[3]), float(rt.x[4]), float(rt.x[5])),
        status="confirmed" if rt.members else "coasting",
        class_=rt.class_, class_p=dict(rt.class_p) or {rt.class_: 1.0}, identity=rt.identity,
        pos_std_m=float((rt.P[0, 0] + rt.P[1, 1] + rt.P[2, 2]) / 3) ** 0.5,
        sites=tuple(rt.sites), members=tuple(f"{s}/{t}" for s, t in rt.members),
    )  # fmt: skip


class RegionMap:
    """The regional web app and what feeds it: live state, map store and sinks.

    Call :meth:`push` from the event loop; run every worker in ``sinks`` (the map
    store's writer first) and :meth:`aclose` them when done.
    """

    def __init__(
        self, config: RegionConfig, frame: LocalFrame, region_store: RegionStore,
        open_ids: Iterable[str], *, local_session: bool = False,
    ) -> None:  # fmt: skip
        self.config = config
        self.store = Store(config.map_store_path(), retention_s=config.map_retention_s)
        self.live = LiveState([], [])
        self._reconcile(region_store, set(open_ids))
        self.live.on_zones_changed = self._refuse_zone_edit
        self.writer = StoreWriter(self.store)
        self.sinks: list[QueueWorker] = [
            self.writer,
            *build_sinks(config.sinks, frame, site_name=config.name),
        ]
        web = config.web
        if local_session and not web.local_session:
            web = msgspec.structs.replace(web, local_session=True)
        self.app = create_app(self.live, self.store, web, regional=True)
        if config.sinks.cap is not None:
            from ..sinks.cap import add_cap_routes

            add_cap_routes(self.app, self.sinks)
        #: Each site's zones as it declares them, and all of them as the map shows them.
        self._zones: dict[str, list[Zone]] = {}
        self._site_zones: list[Zone] = []
        self._sensors: dict[str, SensorStatus] = {}

    def _reconcile(self, region_store: RegionStore, open_ids: set[str]) -> None:
        """The map's alerts as the region's store has them: a region killed between its
        own commit and the map store's write would otherwise show an alert wrongly."""
        last = {e.id: e for e in region_store.latest_events()}
        mine = {a.id: a for a in self.store.alerts()}
        # The map's lines name qualified zones: the rest says whether it is the same event.
        stale = [
            e for aid, e in last.items()
            if aid not in mine or (mine[aid].state, mine[aid].t, mine[aid].level)
            != (e.state, e.t, e.level)
        ]  # fmt: skip
        if stale:
            log.warning("the map store lacked %d regional alert events: written now", len(stale))
            self.store.write_alerts(stale)
        now = {**mine, **{e.id: e for e in stale}}
        self.live.restore([now[a] for a in sorted(open_ids) if a in now], self.store.acks())

    def _refuse_zone_edit(self, zones: list[Zone]) -> None:
        if zones != self._site_zones:
            raise ValueError("the regional map shows each site's zones: edit them at the site")

    # --- from the sites ---

    def set_zones(self, site: str, zones: list[Zone]) -> None:
        """A site's zones, shown as ``site/id`` with the site in the name."""
        self._zones[site] = list(zones)
        self._site_zones = [
            msgspec.structs.replace(z, id=f"{s}/{z.id}", name=f"{z.name} ({s})")
            for s in self.config.sites
            for z in self._zones.get(s, [])
        ]
        self.live.set_zones(self._site_zones)

    def set_sensors(self, site: str, sensors: list[SensorStatus], t: float) -> None:
        """A site's sensors and their states, shown as ``site/id``; only changes are published."""
        for st in sensors:
            qid = f"{site}/{st.sensor.id}"
            old = self._sensors.get(qid)
            if old is None or old.sensor != st.sensor:
                self.live.add_sensor(msgspec.structs.replace(st.sensor, id=qid))
            if old is None or old.state != st.state:
                self.live.set_sensor_status(qid, st.state, t)
            self._sensors[qid] = st

    def _zone_id(self, zone: str) -> str:
        for s in self.config.sites:
            if any(z.id == zone for z in self._zones.get(s, ())):
                return f"{s}/{zone}"
        return zone

    # --- the regional picture ---

    def push(self, t_s: float, tracks: tuple[TrackLine, ...], alerts: Iterable[AlertLine]) -> None:
        """One fusion pass to the map, its store and the sinks."""
        events = tuple(
            a if a.zone is None else msgspec.structs.replace(a, zone=self._zone_id(a.zone))
            for a in alerts
        )
        scan = ScanOutput(t_s=t_s, tracks=tracks, alerts=events)
        self.live.apply(scan)
        for s in self.sinks:
            s.offer(scan)

    async def aclose(self) -> None:
        """Close every sink (the writer commits what it holds), then the map store."""
        for s in self.sinks:
            try:
                await s.aclose()
            except (OSError, RuntimeError, ValueError) as e:
                log.warning("%s: failed to close: %s", s.name, e)
        self.store.close()
