"""The region against a real nats-server: restart, overlap, handover, malformed input.

Sites are played by publishing their encoded messages straight to JetStream.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import nats
import numpy as np
import pytest

from skywarden.geodesy import LocalFrame
from skywarden.region.schema import AlertsMsg, SiteMsg, TracksMsg, encode, subject
from skywarden.region.server import NatsServer
from skywarden.region.service import RegionService
from skywarden.types import TrackLine

from .conftest import alert, pump, region_config, track

#: Two sites 7 km apart; the protected zone "Z1" between them is declared by both.
ORIGINS = {"A": (51.0, -1.05), "B": (51.0, -0.95)}


async def send(url: str, msgs: list[SiteMsg]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for m in msgs:
        kind = m.__struct_config__.tag
        await js.publish(subject(m.site, str(kind)), encode(m))
    await nc.close()


def scan(site: str, t: float, tracks: list[TrackLine]) -> TracksMsg:
    lat, lon = ORIGINS[site]
    return TracksMsg(site=site, t=t, lat=lat, lon=lon, alt_m=0.0, vel_std_mps=2.0, tracks=tracks)


def drone(t: float, site: str, tid: str, *, east_mps: float = 20.0, t0: float = 1000.0,
          status: str = "confirmed") -> TrackLine:  # fmt: skip
    """A drone flying east along 51 N from -1.02 at ``east_mps``, as ``site`` reports it
    (its velocity along that site's axes, which are turned by the meridians' convergence)."""
    frame = LocalFrame(51.0, -1.0, 0.0)
    start = frame.to_enu(51.0, -1.02, 120.0)
    lat, lon, alt = frame.to_geodetic(start + np.array([east_mps * (t - t0), 0.0, 0.0]))
    rot = LocalFrame(*ORIGINS[site], 0.0).rotation_from(51.0, -1.0)
    v = tuple(float(c) for c in rot @ [east_mps, 0.0, 0.0])
    return track(tid, t, float(lat), float(lon), alt=float(alt), vel=tuple(v), status=status)  # type: ignore[arg-type]


def test_two_overlapping_sites_one_drone_one_track_one_alert(
    nats_server: NatsServer, make_region
) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        region: RegionService = make_region(nats_server.url, ["A", "B"])
        await region.connect()
        msgs: list[SiteMsg] = []
        for i in range(5):
            t = 1000.0 + i
            msgs += [
                scan("A", t, [drone(t, "A", "T7")]),
                scan("B", t + 0.3, [drone(t + 0.3, "B", "T3")]),
            ]
        msgs += [AlertsMsg(site="A", t=1004.0, alerts=[alert("A-1", 1004.0, "T7", "Z1")]),
                 AlertsMsg(site="B", t=1004.3, alerts=[alert("B-9", 1004.3, "T3", "Z1", level="critical")])]  # fmt: skip
        # A second drone far away (5 km north) stays a track of its own.
        msgs.append(
            scan("B", 1004.5, [drone(1004.5, "B", "T3"), track("T5", 1004.5, 51.045, -1.0)])
        )
        await send(nats_server.url, msgs)
        await pump(
            region, lambda: region.sites["B"].messages == 7 and region.sites["A"].messages == 6
        )
        rows = sorted(region.track_rows(), key=lambda r: r["lat"])
        assert len(rows) == 2
        assert rows[0]["sites"] == ["A", "B"]
        assert sorted(rows[0]["members"]) == ["A/T7", "B/T3"]
        assert rows[1]["members"] == ["B/T5"]
        events = region.store.events()
        # One regional alert for the drone and the zone, raised once and raised to critical.
        assert [(e.state, e.level) for e in events] == [
            ("raised", "warning"),
            ("updated", "critical"),
        ]
        assert events[0].id == events[1].id and events[0].track == rows[0]["id"]
        assert region.track_rows(site="A") == [rows[0]]
        await region.stop()

    asyncio.run(main())


@pytest.mark.parametrize("gap_s", [-3.0, 2.0], ids=["overlap", "gap"])
def test_handover_keeps_one_regional_id(nats_server: NatsServer, make_region, gap_s: float) -> None:  # type: ignore[no-untyped-def]
    """A drone flies east out of A's coverage into B's: A's track ends at t=1020, B's
    starts at 1020 + gap (overlapping for a negative gap). One regional id throughout,
    one alert for the zone although both sites alert."""

    async def main() -> None:
        region: RegionService = make_region(nats_server.url, ["A", "B"])
        await region.connect()
        ids: set[str] = set()
        t_b = 1020.0 + gap_s
        for i in range(41):
            t = 1000.0 + i
            msgs: list[SiteMsg] = []
            if t < 1020.0:
                msgs.append(scan("A", t, [drone(t, "A", "A12")]))
            elif t == 1020.0:
                msgs.append(scan("A", t, [drone(t, "A", "A12", status="deleted")]))
            if t >= t_b:
                msgs.append(scan("B", t, [drone(t, "B", "B4")]))
            if t == 1010.0:
                msgs.append(AlertsMsg(site="A", t=t, alerts=[alert("a1", t, "A12", "Z1")]))
            if t == 1020.0:
                msgs.append(
                    AlertsMsg(site="A", t=t, alerts=[alert("a1", t, "A12", "Z1", "cleared")])
                )
            if t == t_b + 1:
                msgs.append(AlertsMsg(site="B", t=t, alerts=[alert("b1", t, "B4", "Z1")]))
            await send(nats_server.url, msgs)
            n = sum(st.messages for st in region.sites.values()) + len(msgs)
            await pump(region, lambda n=n: sum(st.messages for st in region.sites.values()) == n)  # type: ignore[misc]
            ids |= {r["id"] for r in region.track_rows()}
        assert len(ids) == 1
        events = region.store.events()
        if gap_s < 0:
            # B alerted while A's alert was open: still one regional alert, never cleared.
            assert [e.state for e in events] == ["raised"]
        else:
            # A's alert cleared before B alerted: the regional alert closed, then a new one
            # for the same regional track (what a single site does when a drone re-enters).
            assert [e.state for e in events] == ["raised", "cleared", "raised"]
        assert {e.track for e in events} == ids
        await region.stop()

    asyncio.run(main())


def test_restart_resumes_without_repeating_or_losing_alerts(
    nats_server: NatsServer, make_region
) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        region: RegionService = make_region(nats_server.url, ["A"])
        await region.connect()
        first = [scan("A", 1000.0, [drone(1000.0, "A", "T1")]),
                 AlertsMsg(site="A", t=1000.0, alerts=[alert("x1", 1000.0, "T1", "Z1")])]  # fmt: skip
        await send(nats_server.url, first)
        # Crash between the commit and the acknowledgement: the batch is in the region's
        # store but JetStream will deliver it again.
        msgs = await region._subs["A"].fetch(10, timeout=2)
        region.store.begin()
        for m in msgs:
            region.process("A", m.subject, m.data)
        region.commit()
        assert [e.state for e in region.store.events()] == ["raised"]
        await region._nc.close()
        region.store.close()
        await send(nats_server.url, [
            scan("A", 1001.0, [drone(1001.0, "A", "T1")]),
            AlertsMsg(site="A", t=1001.0, alerts=[alert("x1", 1001.0, "T1", "Z1", "updated")]),
            AlertsMsg(site="A", t=1001.0, alerts=[alert("x2", 1001.0, "T1", "Z2")]),
        ])  # fmt: skip
        again: RegionService = make_region(nats_server.url, ["A"])
        await again.connect()
        # The unacknowledged first batch comes back after ack_wait (1 s), then the rest.
        await pump(again, lambda: again.sites["A"].messages == 5)
        events = again.store.events()
        assert [(e.state, e.zone) for e in events] == [("raised", "Z1"), ("raised", "Z2")]
        assert again.book.duplicates == 1
        # Nothing is pending any more: a third start gets nothing.
        await again.stop()
        third: RegionService = make_region(nats_server.url, ["A"])
        await third.connect()
        assert await third.poll("A", timeout_s=1.5) == 0
        assert len(third.store.events()) == 2
        # The regional track id of T1 survived the restarts.
        await send(nats_server.url, [scan("A", 1002.0, [drone(1002.0, "A", "T1")])])
        await pump(third, lambda: bool(third.track_rows()))
        assert third.track_rows()[0]["id"] == events[0].track
        await third.stop()

    asyncio.run(main())


def test_restart_after_pruning_the_history_neither_repeats_nor_loses_alerts(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """The regional history is pruned between a commit and its lost acknowledgement: the
    replayed batch repeats no alert, though the closed alert's events and row are gone."""
    now = [time.time()]
    cfg = region_config(nats_server.url, tmp_path, ["A"], event_retention_s=600.0)

    async def main() -> None:
        region = RegionService(cfg, clock=lambda: now[0])
        await region.connect()
        await send(nats_server.url, [
            scan("A", 1000.0, [drone(1000.0, "A", "T1")]),
            AlertsMsg(site="A", t=1000.0, alerts=[
                alert("x1", 1000.0, "T1", "Z1"), alert("x2", 1000.0, "T1", "Z2"),
                alert("x2", 1000.0, "T1", "Z2", "cleared"),
            ]),
        ])  # fmt: skip
        msgs = await region._subs["A"].fetch(10, timeout=2)
        region.store.begin()
        for m in msgs:
            region.process("A", m.subject, m.data)
        region.commit()
        assert [(e.id, e.state) for e in region.store.events()] == [
            ("R-1", "raised"), ("R-2", "raised"), ("R-2", "cleared"),
        ]  # fmt: skip
        now[0] += 601.0
        assert region.prune()[2] == 2
        await region._nc.close()
        region.store.close()
        region.map.store.close()
        await send(nats_server.url, [
            scan("A", 1001.0, [drone(1001.0, "A", "T1")]),
            AlertsMsg(site="A", t=1001.0, alerts=[
                alert("x1", 1001.0, "T1", "Z1", "cleared"), alert("x3", 1001.0, "T1", "Z3"),
            ]),
        ])  # fmt: skip
        again = RegionService(cfg, clock=lambda: now[0])
        await again.connect()
        # The unacknowledged first batch comes back after ack_wait (1 s), then the rest.
        await pump(again, lambda: again.sites["A"].messages == 4)
        assert again.book.duplicates == 3
        events = again.store.events()
        assert [(e.id, e.state) for e in events] == [
            ("R-1", "raised"), ("R-1", "cleared"), ("R-3", "raised"),
        ]  # fmt: skip
        assert set(again.book.open.values()) == {"R-3"}
        assert len({e.track for e in events}) == 1
        await again.stop()

    asyncio.run(main())


def test_malformed_messages_are_counted_and_dropped(nats_server: NatsServer, make_region) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        region: RegionService = make_region(nats_server.url, ["A", "B"])
        await region.connect()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        good = scan("A", 1000.0, [drone(1000.0, "A", "T1")])
        bad = [
            ("skywarden.A.tracks", b"\xc1 not msgpack"),
            ("skywarden.A.tracks", encode(scan("B", 1000.0, []))),  # another site's message
            ("skywarden.A.alerts", encode(good)),  # a tracks message on the alerts subject
            ("skywarden.A.tracks", encode(scan("A", math.inf, []))[:-3]),  # truncated
            ("skywarden.A.other", encode(good)),  # unknown kind
            ("skywarden.A.tracks", b'{"kind":"tracks","site":"A","t":-5}'),
        ]
        for subj, data in bad:
            await js.publish(subj, data)
        await js.publish("skywarden.A.tracks", encode(good))
        await nc.close()
        await pump(region, lambda: region.sites["A"].messages == len(bad) + 1)
        assert region.sites["A"].malformed == len(bad) == region.malformed
        assert [r["members"] for r in region.track_rows()] == [["A/T1"]]
        await region.stop()

    asyncio.run(main())
