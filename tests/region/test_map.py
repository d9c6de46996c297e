"""The region serves a site's web map and API: tokens on every route, regional tracks
that name their sites, zones and sensors qualified by site, alerts on the map."""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import pytest
import yaml
from fastapi.testclient import TestClient

from skywarden.region.config import load_region_config
from skywarden.region.schema import AlertsMsg, SensorsMsg, SensorStatus, SiteMsg, ZonesMsg
from skywarden.region.server import NatsServer
from skywarden.region.service import RegionService
from skywarden.sinks.config import SinksConfig, WebhookConfig
from skywarden.store import zone_to_feature
from skywarden.types import Sensor, Zone
from tests.sinks.test_webhook import SECRET, Receiver
from tests.web.test_api import PUBLIC, _concrete, _http_routes

from .conftest import alert, pump, track
from .test_region import drone, scan, send

ZONE = Zone(
    id="Z1", name="Port", floor_m=0.0, ceiling_m=500.0,
    polygon=[(-1.01, 50.99), (-0.99, 50.99), (-0.99, 51.01), (-1.01, 51.01), (-1.01, 50.99)],
)  # fmt: skip


def radar(site: str) -> Sensor:
    return Sensor(id="radar-1", kind="radar", lat=51.0, lon=-1.05 if site == "A" else -0.95,
                  alt_m=20.0, max_range_m=8000.0)  # fmt: skip


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def two_sites_one_drone() -> list[SiteMsg]:
    """Sites A and B see one drone (A's T7, B's T3); B alone sees T5 far north."""
    msgs: list[SiteMsg] = [
        ZonesMsg(site="A", t=999.0, zones=[ZONE]),
        ZonesMsg(site="B", t=999.0, zones=[ZONE]),
        SensorsMsg(site="A", t=999.0, sensors=[SensorStatus(sensor=radar("A"), state="ok")]),
        SensorsMsg(site="B", t=999.0, sensors=[SensorStatus(sensor=radar("B"), state="silent")]),
    ]
    for i in range(5):
        t = 1000.0 + i
        msgs += [scan("A", t, [drone(t, "A", "T7")]),
                 scan("B", t + 0.3, [drone(t + 0.3, "B", "T3"), track("T5", t, 51.045, -1.0)])]  # fmt: skip
    msgs.append(AlertsMsg(site="A", t=1004.0, alerts=[alert("A-1", 1004.0, "T7", "Z1")]))
    return msgs


async def fed_region(url: str, make_region, **kw: object) -> RegionService:  # type: ignore[no-untyped-def]
    region: RegionService = make_region(url, ["A", "B"], **kw)
    await region.connect()
    await send(url, two_sites_one_drone())
    await pump(region, lambda: region.sites["A"].messages == 8 and region.sites["B"].messages == 7)
    region.publish()
    return region


def test_every_route_of_the_region_needs_a_token(nats_server: NatsServer, make_region) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        # Served in this thread (not TestClient's): the region's store belongs to it.
        region: RegionService = make_region(nats_server.url, ["A"])
        viewer = region.map.store.create_token("viewer", "v")
        routes = [
            (m, p) for m, p in _http_routes(region.app) if p not in PUBLIC and p != "/healthz"
        ]
        assert {"/api/sites", "/api/tracks", "/api/region/alerts"} <= {p for _, p in routes}
        assert len(routes) >= 14

        def client() -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=region.app)
            return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")

        async with client() as c:
            for method, path in routes:
                for headers in ({}, bearer("swk_not-a-token")):
                    r = await c.request(method, _concrete(path), headers=headers, json={})
                    assert r.status_code == 401, (method, path, headers, r.status_code)
            assert (await c.get("/healthz")).json() == {"ok": True, "malformed": 0}
            page = (await c.get("/")).text
            assert '<meta name="skywarden-regional" content="1">' in page
        async with client() as c:
            for method, path in routes:
                r = await c.request(method, _concrete(path), headers=bearer(viewer), json={})
                if method == "GET" or path == "/api/session":
                    assert r.status_code not in (401, 403), (method, path, r.status_code)
                else:
                    assert r.status_code == 403, (method, path, r.status_code)
        region.store.close()
        region.map.store.close()

    asyncio.run(main())


def test_tracks_carry_their_sites_and_the_map_shows_qualified_zones_and_sensors(
    nats_server: NatsServer, make_region
) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        region = await fed_region(nats_server.url, make_region)
        token = region.map.store.create_token("operator", "o")
        with TestClient(region.app) as c:
            h = bearer(token)
            tracks = sorted(
                c.get("/api/tracks", headers=h).json()["tracks"], key=lambda d: d["lat"]
            )
            assert [(d["sites"], sorted(d["members"])) for d in tracks] == [
                (["A", "B"], ["A/T7", "B/T3"]),
                (["B"], ["B/T5"]),
            ]
            assert all(d["id"].startswith("R") and d["trail"] for d in tracks)
            only_a = c.get("/api/tracks?site=A", headers=h).json()["tracks"]
            assert [d["id"] for d in only_a] == [tracks[0]["id"]]
            sites = c.get("/api/sites", headers=h).json()
            assert [s["site"] for s in sites] == ["A", "B"]

            zones = c.get("/api/zones", headers=h).json()["features"]
            assert [(f["id"], f["properties"]["name"]) for f in zones] == [
                ("A/Z1", "Port (A)"), ("B/Z1", "Port (B)"),
            ]  # fmt: skip
            sensors = c.get("/api/sensors", headers=h).json()["sensors"]
            assert [(s["id"], s["status"]) for s in sensors] == [
                ("A/radar-1", "ok"), ("B/radar-1", "silent"),
            ]  # fmt: skip
            # Zones are edited at each site, never on the regional map.
            edit = zone_to_feature(msgspec.structs.replace(ZONE, id="Z9"))
            r = c.put("/api/zones/Z9", headers={**h, "X-Skywarden-Request": "1"}, json=edit)
            assert r.status_code == 422 and "site" in r.json()["detail"]

            # The regional alert is on the map, naming the zone as the map draws it.
            [a] = c.get("/api/alerts?open=true", headers=h).json()["alerts"]
            assert (a["track"], a["zone"], a["state"]) == (tracks[0]["id"], "A/Z1", "raised")
            # The WebSocket snapshot carries the same tracks, sites and all.
            with c.websocket_connect("/ws", subprotocols=["bearer", token]) as ws:
                snap = ws.receive_json()
            assert snap["type"] == "snapshot"
            assert sorted(map(tuple, (d["sites"] for d in snap["tracks"]))) == [("A", "B"), ("B",)]
        await region.stop()
        # The map's store recorded the regional track lines and the alert.
        again: RegionService = make_region(nats_server.url, ["A", "B"])
        lines = again.map.store.track_history(tracks[0]["id"], None, None)
        assert lines and lines[-1].sites == ("A", "B")
        assert [x.id for x in again.map.live.alerts.values()] == [a["id"]]
        again.store.close()
        again.map.store.close()

    asyncio.run(main())


def test_a_regional_alert_the_map_store_missed_is_mended_at_start(
    nats_server: NatsServer, make_region
) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        region = await fed_region(nats_server.url, make_region)
        # As if killed after its own commit and before the map store's write.
        region._events.clear()
        region.store.close()
        region.map.store.close()
        again: RegionService = make_region(nats_server.url, ["A", "B"])
        [a] = again.map.store.alerts()
        assert (a.state, a.zone) == ("raised", "Z1")
        assert list(again.map.live.alerts) == [a.id]
        again.store.close()
        again.map.store.close()

    asyncio.run(main())


def test_a_webhook_of_the_region_gets_the_regional_alerts(
    nats_server: NatsServer, make_region
) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as rec:

        async def main() -> None:
            hook = WebhookConfig(url=rec.url, secret=SECRET, backoff_initial_s=0.1)
            region = await fed_region(
                nats_server.url, make_region, sinks=SinksConfig(webhooks=[hook])
            )
            tasks = [asyncio.create_task(s.run()) for s in region.map.sinks]
            loop = asyncio.get_running_loop()
            end = loop.time() + 10
            while not rec.requests:
                assert loop.time() < end, "the webhook heard nothing"
                await asyncio.sleep(0.05)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await region.stop()

        asyncio.run(main())
    [doc] = rec.requests
    assert doc["site"] == "R"
    a = doc["alert"]
    assert (a["id"], a["state"], a["track"], a["zone"]) == ("R-1", "raised", "R1", "A/Z1")
    assert a["reason"] == "sites: A"


def test_region_config_takes_web_and_sinks_as_a_site_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = {"lat": 51.0, "lon": -1.0, "sites": ["A"], "nats": {"url": "nats://127.0.0.1:1"},
            "store": str(tmp_path / "r.db")}  # fmt: skip
    path = tmp_path / "region.yaml"
    path.write_text(yaml.safe_dump({
        **base, "web": {"language": "ko"},
        "sinks": {"webhooks": [{"url": "http://127.0.0.1:9/hook"}]},
    }))  # fmt: skip
    cfg = load_region_config(str(path))
    assert cfg.web.language == "ko" and cfg.sinks.webhooks[0].url == "http://127.0.0.1:9/hook"
    assert cfg.map_store_path() == str(tmp_path / "r-map.db")
    path.write_text(
        yaml.safe_dump({**base, "sinks": {"escalation": {"after_s": {"critical": 60}}}})
    )
    with pytest.raises(ValueError, match="escalation"):
        load_region_config(str(path))
    path.write_text(yaml.safe_dump({**base, "web": {"language": "xx"}}))
    with pytest.raises(ValueError, match="language"):
        load_region_config(str(path))
    path.write_text(yaml.safe_dump({**base, "map_store": base["store"]}))
    with pytest.raises(ValueError, match="map_store"):
        load_region_config(str(path))
