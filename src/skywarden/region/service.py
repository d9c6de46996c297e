"""``skywarden region``: every site's stream through a durable JetStream consumer, one picture.

One durable pull consumer per site (``region-<site>``, filter ``skywarden.<site>.>``):
the region acknowledges a batch only after its effects are committed to its SQLite
store, so a region killed at any point resumes where it was, and what it sees again
is applied once (see :mod:`.alerts`). A message that cannot be decoded, or that
names another site or kind than its subject, is counted and dropped (acknowledged).

The region serves a site's web map and API (see :mod:`.webmap`), behind the same
tokens (kept in the map's own store), plus ``/api/sites`` (each site's heartbeat
age, consumer lag and health) and ``/api/region/alerts`` (the regional alerts as
the region's store records them); it listens on loopback by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from fastapi import Depends, FastAPI
from fastapi.responses import Response
from nats.js.api import ConsumerConfig

from ..geodesy import LocalFrame
from ..scenario import ScenarioWriter
from ..types import AlertLine, TrackLine, Zone
from ..web.auth import require_viewer
from .aio import raise_if_cancelling
from .alerts import EVENTS_SHOWN, AlertBook, RegionStore
from .config import RegionConfig
from .picture import Picture, RegionalTrack
from .publish import connect_options
from .schema import (
    AlertsMsg,
    HeartbeatMsg,
    SensorsMsg,
    SensorStatus,
    TracksMsg,
    ZonesMsg,
    decode,
)
from .webmap import RegionMap, track_line

__all__ = ["RegionService", "SiteState"]

log = logging.getLogger(__name__)

FETCH_BATCH = 256


@dataclass
class SiteState:
    site: str
    name: str | None = None
    heartbeat_t: float | None = None
    tracks: int = 0
    outbox: int = 0
    lag: int | None = None
    messages: int = 0
    malformed: int = 0
    zones: list[Zone] = field(default_factory=list)
    sensors: list[SensorStatus] = field(default_factory=list)


class RegionService:
    """The consumers of every site, the regional picture and its map.

    ``local_session``: the map's page signs itself in as a viewer (a demo only).
    ``out``: a file that gets the regional output as ``skywarden track`` writes a
    site's (track and alert lines, docs/format.md), for ``skywarden eval``; zone ids
    as the sites declare them, not qualified by site.
    """

    def __init__(
        self, config: RegionConfig, *, clock: Callable[[], float] = time.time,
        local_session: bool = False, out: str | Path | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self._out = None if out is None else ScenarioWriter(out)
        self.clock = clock
        self.frame = LocalFrame(config.lat, config.lon, config.alt_m)
        self.store = RegionStore(config.store)
        tm = self.store.track_map()
        self.picture = Picture(
            self.frame, gate_chi2=config.gate_chi2, coast_s=config.coast_s,
            stale_s=config.stale_s, next_rid=self.store.max_rid() + 1, track_map=tm,
        )  # fmt: skip
        # A mapping read from the store is as old as this start, for pruning.
        self.picture.last_report = dict.fromkeys(tm, clock())
        self.book = AlertBook(self.store, region=config.name)
        self.sites = {s: SiteState(site=s) for s in config.sites}
        self.malformed = 0
        self.regional: list[RegionalTrack] = []
        self._dirty = False
        #: Whether the map has not had the latest fusion pass yet.
        self._fresh = False
        #: Regional alert events committed and not yet given to the map.
        self._events: list[AlertLine] = []
        self.map = RegionMap(
            config, self.frame, self.store, self.book.open.values(), local_session=local_session
        )
        self._nc: Any = None
        self._subs: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self.app = self._make_app()

    # --- messages -----------------------------------------------------------------

    def process(self, site: str, subj: str, data: bytes) -> list[AlertLine]:
        """Apply one message (inside the caller's transaction); the regional alert events."""
        st = self.sites[site]
        st.messages += 1
        try:
            msg = decode(subj, data)
            if msg.site != site:
                raise ValueError(f"message of site {msg.site!r} on the consumer of {site!r}")
        except ValueError as e:
            st.malformed += 1
            self.malformed += 1
            if st.malformed == 1 or st.malformed % 1000 == 0:
                log.warning("site %s: dropped malformed message (%d so far): %s", site,
                            st.malformed, e)  # fmt: skip
            return []
        if isinstance(msg, TracksMsg):
            self.picture.add_tracks(msg)
            self._dirty = True
        elif isinstance(msg, AlertsMsg):
            self.fuse()
            out: list[AlertLine] = []
            for a in msg.alerts:
                rid = self.picture.rid_of(site, a.track) if a.track else None
                out += self.book.apply(site, a, rid, self.clock())
            return out
        elif isinstance(msg, HeartbeatMsg):
            st.heartbeat_t = msg.t
            st.name, st.tracks, st.outbox = msg.name, msg.tracks, msg.outbox
        elif isinstance(msg, ZonesMsg):
            st.zones = list(msg.zones)
            self.map.set_zones(site, st.zones)
        elif isinstance(msg, SensorsMsg):
            st.sensors = list(msg.sensors)
            self.map.set_sensors(site, st.sensors, msg.t)
        return []

    def fuse(self) -> list[RegionalTrack]:
        if self._dirty:
            self.regional = self.picture.fuse()
            self._dirty = False
            self._fresh = True
        return self.regional

    def track_lines(self) -> tuple[TrackLine, ...]:
        """The regional picture as map track lines (``sites`` and ``members`` set)."""
        return tuple(track_line(self.config.name, self.frame, rt) for rt in self.fuse())

    def publish(self) -> None:
        """Give the map, its store and the sinks the latest fusion pass and the regional
        alert events committed since the last (nothing when neither is new)."""
        self.fuse()
        if not self._fresh and not self._events:
            return
        tracks = self.track_lines()
        events, self._events = self._events, []
        self._fresh = False
        t = max([self.picture.t, *(e.t for e in events)])
        if self._out is not None:
            self._out.write_all(tracks)
            self._out.write_all(events)
        self.map.push(t, tracks, events)

    def commit(self) -> None:
        if self.picture.new_mappings:
            self.store.save_mappings(self.picture.new_mappings)
            self.picture.new_mappings = []
        self.store.commit()

    def prune(self) -> tuple[int, int, int]:
        """Bound the store by age: site events applied longer ago than the stream keeps
        messages (none of them can be delivered again), the regional ids of site tracks
        not reported for ``track_map_keep_s``, and the regional events older than
        ``event_retention_s`` but those of open alerts; (site events, mappings, regional
        events) forgotten."""
        now = self.clock()
        keep = {rid for rid, _ in self.book.open}
        keys = self.picture.prune_map(now - self.config.track_map_keep_s, keep)
        self.store.begin()
        try:
            n, gone = self.store.prune(
                now - self.config.nats.max_age_s, keys, now - self.config.event_retention_s
            )
        except BaseException:
            self.store.db.execute("ROLLBACK")
            raise
        self.commit()
        if n or keys or gone:
            log.info("pruned %d site events, %d track mappings and %d regional events",
                     n, len(keys), gone)  # fmt: skip
        return n, len(keys), gone

    # --- JetStream ------------------------------------------------------------------

    async def connect(self) -> None:
        n = self.config.nats
        self._nc = await nats.connect(
            servers=[n.url], name=f"skywarden-region-{self.config.name}", connect_timeout=2,
            allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            **connect_options(n.credentials, n.user, n.password_env, n.nkey_seed),
        )  # fmt: skip
        js = self._nc.jetstream()
        if n.create_stream:
            await ensure_stream(js, n.stream, n.max_age_s)
        for site in self.config.sites:
            self._subs[site] = await js.pull_subscribe(
                f"skywarden.{site}.>",
                durable=f"region-{site}",
                stream=n.stream,
                config=ConsumerConfig(ack_wait=self.config.ack_wait_s),
            )

    async def poll(self, site: str, timeout_s: float = 0.5) -> int:
        """Fetch, apply and acknowledge one batch of ``site``; how many messages."""
        try:
            msgs = await self._subs[site].fetch(FETCH_BATCH, timeout=timeout_s)
        except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either
            return 0
        self.store.begin()
        events: list[AlertLine] = []
        try:
            for m in msgs:
                events += self.process(site, m.subject, m.data)
        except BaseException:
            self.store.db.execute("ROLLBACK")
            raise
        self.commit()
        self._events += events
        for m in msgs:
            await m.ack()
        return len(msgs)

    async def _consume(self, site: str) -> None:
        while True:
            raise_if_cancelling()
            try:
                await self.poll(site)
            except (nats.errors.Error, OSError) as e:
                log.warning("site %s: consumer: %s", site, e)
                await asyncio.sleep(0.5)

    async def _fuser(self) -> None:
        while True:
            await asyncio.sleep(self.config.fuse_period_s)
            self.publish()

    async def _pruner(self) -> None:
        while True:
            await asyncio.sleep(self.config.prune_period_s)
            self.prune()

    async def _lag(self) -> None:
        while True:
            raise_if_cancelling()
            for site, sub in self._subs.items():
                with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                    self.sites[site].lag = int((await sub.consumer_info()).num_pending)
            await asyncio.sleep(2.0)

    async def start(self) -> None:
        await self.connect()
        for sink in self.map.sinks:
            self._tasks.append(asyncio.create_task(sink.run(), name=f"region-sink-{sink.name}"))
        for site in self.config.sites:
            self._tasks.append(asyncio.create_task(self._consume(site), name=f"region-{site}"))
        self._tasks.append(asyncio.create_task(self._fuser(), name="region-fuser"))
        self._tasks.append(asyncio.create_task(self._lag(), name="region-lag"))
        self._tasks.append(asyncio.create_task(self._pruner(), name="region-pruner"))

    async def serve(
        self, host: str | None = None, port: int | None = None,
        *, on_ready: Callable[[int], None] | None = None,
    ) -> None:  # fmt: skip
        """Consume every site and serve the API until cancelled; ``on_ready`` gets the port."""
        from ..service import bind_tcp
        from ..web import serve_app

        host = host or self.config.server.host
        port = self.config.server.port if port is None else port
        sock = None
        try:
            await self.start()
            sock = await asyncio.to_thread(bind_tcp, host, port)
            if on_ready is not None:
                on_ready(int(sock.getsockname()[1]))
            await serve_app(self.app, sock=sock)
        finally:
            if sock is not None:
                sock.close()
            await asyncio.shield(self.stop())

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._nc is not None:
            with contextlib.suppress(nats.errors.Error, OSError):
                await self._nc.close()
            self._nc = None
        # What was committed reaches the map store before it closes.
        self.publish()
        if self._out is not None:
            self._out.close()
        await self.map.aclose()
        self.store.close()

    # --- API --------------------------------------------------------------------------

    def site_rows(self) -> list[dict[str, Any]]:
        now = self.clock()
        rows = []
        for st in self.sites.values():
            age = None if st.heartbeat_t is None else max(0.0, now - st.heartbeat_t)
            healthy = age is not None and age <= self.config.heartbeat_timeout_s
            rows.append({
                "site": st.site, "name": st.name,
                "heartbeat_age_s": None if age is None else round(age, 3),
                "consumer_lag": st.lag, "health": "ok" if healthy else ("stale" if age is not None else "unknown"),
                "tracks": st.tracks, "outbox": st.outbox, "messages": st.messages,
                "malformed": st.malformed, "zones": len(st.zones),
                "sensors_silent": sum(s.state != "ok" for s in st.sensors),
                "sensors": len(st.sensors),
            })  # fmt: skip
        return rows

    def track_rows(self, site: str | None = None) -> list[dict[str, Any]]:
        """The regional tracks as the map's ``/api/tracks`` gives them (without trails);
        those ``site`` sees only, when given."""
        rows = []
        for tl in self.track_lines():
            if site is not None and site not in (tl.sites or ()):
                continue
            # Through JSON, so that the rows hold what a client reads (lists, not tuples).
            d = msgspec.json.decode(msgspec.json.encode(tl))
            d.pop("type", None)
            rows.append(d)
        return rows

    def _make_app(self) -> FastAPI:
        app = self.map.app
        enc = msgspec.json.Encoder()
        viewer = [Depends(require_viewer)]

        def js(obj: object) -> Response:
            return Response(enc.encode(obj), media_type="application/json")

        # Coroutines, not plain functions: they read the region's store, whose
        # connection belongs to the event loop's thread.

        @app.get(
            "/api/sites",
            summary="Each site: heartbeat age, consumer lag, health (the region only)",
            dependencies=viewer,
        )
        async def sites() -> Response:
            return js(self.site_rows())

        @app.get(
            "/api/region/alerts",
            summary=f"Open regional alert ids and the last {EVENTS_SHOWN} events, from the"
            " region's store",
            dependencies=viewer,
        )
        async def region_alerts() -> Response:
            return js(
                {"open": sorted(self.book.open.values()), "events": self.store.events(EVENTS_SHOWN)}
            )

        # A liveness probe without a token, as before the region served the map.
        app.state.auth.public_prefixes = (*app.state.auth.public_prefixes, "/healthz")

        @app.get("/healthz", summary="The region runs (no token needed)")
        async def healthz() -> Response:
            return js({"ok": True, "malformed": self.malformed})

        return app


async def ensure_stream(js: Any, name: str, max_age_s: float) -> None:
    """The stream of every site subject, made or brought to these settings."""
    from nats.js.api import StreamConfig

    cfg = StreamConfig(
        name=name, subjects=["skywarden.>"], max_age=max_age_s, duplicate_window=120.0
    )
    try:
        await js.add_stream(cfg)
    except nats.js.errors.BadRequestError:
        await js.update_stream(cfg)
