"""REST API, auth on every route, WebSocket updates, zones, export and metrics."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from skywarden.store import StoreWriter, zone_to_feature
from skywarden.types import ScanOutput
from skywarden.web import WebConfig, create_app

from .webhelpers import T0, alert, bearer, moving_scans, zone_a

# What may load without a token: the page, its static files and catalogues, and the API's own docs.
PUBLIC = {"/", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/static", "/i18n/{lang}.json"}
# Any valid token may sign a page in or out.
SESSION = {("POST", "/api/session"), ("DELETE", "/api/session")}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _http_routes(app):
    for r in app.routes:
        if isinstance(r, APIRoute | Route):
            for m in sorted(r.methods - {"HEAD"}):
                yield m, r.path
        else:
            assert isinstance(r, APIWebSocketRoute | Mount), f"unexpected route type {r!r}"


def test_route_list_is_flat_and_known(app):
    # If FastAPI ever nests routes, the enumeration below would miss them: fail loudly.
    paths = {getattr(r, "path", None) for r in app.routes}
    assert {"/api/tracks", "/api/alerts/{alert_id}/ack", "/metrics", "/ws"} <= paths


def test_every_route_refuses_without_valid_token(app, tokens):
    c = TestClient(app)
    checked = 0
    for method, path in _http_routes(app):
        if path in PUBLIC:
            continue
        url = _concrete(path)
        for headers in ({}, bearer("swk_not-a-token"), {"Authorization": "Basic dTpw"}):
            r = c.request(method, url, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.headers.get("www-authenticate") == "Bearer"
        checked += 1
    assert checked >= 12


def test_viewer_reads_but_cannot_write(app, tokens):
    c = TestClient(app)
    for method, path in _http_routes(app):
        if path in PUBLIC:
            continue
        r = c.request(method, _concrete(path), headers=bearer(tokens["viewer"]), json={})
        if method == "GET" or (method, path) in SESSION:
            assert r.status_code not in (401, 403), (method, path, r.status_code)
        else:
            assert r.status_code == 403, (method, path, r.status_code)


def test_public_routes_hold_no_data(app):
    c = TestClient(app)
    assert c.get("/").status_code == 200
    page = c.get("/")
    assert 'name="skywarden-token"' not in page.text
    assert not re.search(r"swk_[A-Za-z0-9_-]{16}", page.text)
    assert "set-cookie" not in page.headers
    assert c.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert c.get("/openapi.json").status_code == 200


def test_websocket_refuses_without_token(app, tokens):
    c = TestClient(app)
    for kwargs in ({}, {"subprotocols": ["bearer", "swk_wrong"]}):
        with pytest.raises(WebSocketDisconnect) as e, c.websocket_connect("/ws", **kwargs) as ws:
            ws.receive_json()
        assert e.value.code == 1008
    with pytest.raises(WebSocketDisconnect) as e, c.websocket_connect("/ws?token=nope") as ws:
        ws.receive_json()
    assert e.value.code == 1008


def test_local_session_signs_the_page_in_by_cookie_only(live, store):
    app = create_app(live, store, WebConfig(local_session=True))
    c = TestClient(app)
    page = c.get("/")
    # The token is in an HttpOnly, SameSite=Strict cookie, never in the page itself.
    cookie = page.headers["set-cookie"]
    assert "skywarden_session=swk_" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert not re.search(r"swk_[A-Za-z0-9_-]{16}", page.text)
    assert c.get("/api/me").json() == {"name": "local-session", "role": "viewer"}
    assert c.post("/api/alerts/A1/ack", headers={"X-Skywarden-Request": "1"}).status_code == 403
    assert TestClient(app).get("/api/tracks").status_code == 401


def _receive_until(ws, pred, limit=20):
    for _ in range(limit):
        msg = ws.receive_json()
        if pred(msg):
            return msg
    raise AssertionError(f"expected message did not arrive; last: {msg}")


def test_websocket_gets_tracks_and_alerts(app, live, tokens):
    viewer = ["bearer", tokens["viewer"]]
    with TestClient(app) as c, c.websocket_connect("/ws", subprotocols=viewer) as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot"
        assert snap["tracks"] == [] and snap["zones"]["features"][0]["id"] == "ZA"
        scans = moving_scans(3)
        for s in scans:
            c.portal.call(live.apply, s)
        # A delta, or the whole picture if the sender woke only after all three scans.
        last = scans[-1].t_s
        msg = _receive_until(ws, lambda m: m["type"] in ("delta", "tracks") and m["t"] == last)
        by_id = {t["id"]: t for t in msg["tracks"]}
        assert set(by_id) == {"T1", "T2"}
        assert by_id["T1"]["lat"] == pytest.approx(scans[-1].tracks[0].lat)
        assert by_id["T2"]["class"] == "bird"
        c.portal.call(live.apply, ScanOutput(t_s=T0 + 3, tracks=(), alerts=(alert("A1", T0 + 3),)))
        # The alert event and the scan's removals, in either order (the sender may wake on
        # the scan first), past any keepalive (an empty delta); the whole picture instead
        # of the delta if the sender fell behind.
        seen: dict[str, dict] = {}

        def take(m: dict) -> bool:
            if m["type"] == "alert":
                seen["alert"] = m
            elif m["type"] == "tracks" or (m["type"] == "delta" and m["removed"]):
                seen["tracks"] = m
            return len(seen) == 2

        _receive_until(ws, take)
        a, gone = seen["alert"], seen["tracks"]
        assert a["alert"]["id"] == "A1" and a["alert"]["level"] == "critical"
        assert gone["tracks"] == [] and sorted(gone.get("removed", ["T1", "T2"])) == ["T1", "T2"]


def test_websocket_from_another_thread(app, live, tokens):
    # A feeder outside the event loop (a replay thread) publishes safely too.
    with TestClient(app) as c, c.websocket_connect(f"/ws?token={tokens['viewer']}") as ws:
        ws.receive_json()
        live.apply(moving_scans(1)[0])
        msg = _receive_until(ws, lambda m: m["type"] == "delta" and m["tracks"])
        assert {t["id"] for t in msg["tracks"]} == {"T1", "T2"}


def test_tracks_alerts_and_ack(app, live, store, tokens):
    c = TestClient(app)
    scans = moving_scans(5)
    scans[-1] = ScanOutput(
        t_s=scans[-1].t_s, tracks=scans[-1].tracks, alerts=(alert("A1", T0 + 4),)
    )
    for s in scans:
        live.apply(s)
        store.write_scan(s)
    v, o = bearer(tokens["viewer"]), bearer(tokens["operator"])
    cur = c.get("/api/tracks", headers=v).json()
    t1 = next(t for t in cur["tracks"] if t["id"] == "T1")
    assert len(t1["trail"]) == 5 and t1["trail"][-1][3] == T0 + 4
    # A site's own tracks name no sites (only a region's do), so a site filter leaves none.
    assert not any("sites" in t or "members" in t for t in cur["tracks"])
    assert c.get("/api/tracks?site=A", headers=v).json()["tracks"] == []
    page = c.get("/").text
    assert '<meta name="skywarden-regional" content="">' in page
    hist = c.get("/api/tracks/T1", params={"t0": T0 + 1, "t1": T0 + 3}, headers=v).json()
    assert [ln["t"] for ln in hist["lines"]] == [T0 + 1, T0 + 2, T0 + 3]
    assert c.get("/api/tracks/T99", headers=v).status_code == 404
    assert [a["id"] for a in c.get("/api/alerts?open=true", headers=v).json()["alerts"]] == ["A1"]
    assert c.post("/api/alerts/A1/ack", headers=v).status_code == 403
    assert c.post("/api/alerts/NOPE/ack", headers=o).status_code == 404
    r = c.post("/api/alerts/A1/ack", headers=o)
    assert r.status_code == 200 and r.json()["by"] == "otto"
    assert store.acknowledged_ids() == {"A1"}
    assert c.get("/api/alerts?open=true", headers=v).json()["alerts"][0]["ack"]["by"] == "otto"
    assert c.get("/api/alerts", headers=v).json()["alerts"][0]["ack"]["by"] == "otto"
    sensors = c.get("/api/sensors", headers=v).json()["sensors"]
    assert sensors[0]["id"] == "radar1" and sensors[0]["status"] == "unknown"
    live.set_sensor_status("radar1", "silent", T0 + 4)
    assert c.get("/api/sensors", headers=v).json()["sensors"][0]["status"] == "silent"


def test_an_alert_acknowledged_before_the_store_has_it_is_stored_with_the_ack(
    app, live, store, tokens
):
    # The live map has the alert; the store's writer has not committed it yet.
    live.apply_alerts([alert("A5", T0 + 4)])
    r = TestClient(app).post("/api/alerts/A5/ack", headers=bearer(tokens["operator"]))
    assert r.status_code == 200
    assert [a.id for a in store.open_alerts()] == ["A5"] and store.acknowledged_ids() == {"A5"}


def test_zone_crud_round_trip(app, live, store, tokens):
    seen: list[list[str]] = []
    live.on_zones_changed = lambda zones: seen.append(sorted(z.id for z in zones))
    c = TestClient(app)
    o, v = bearer(tokens["operator"]), bearer(tokens["viewer"])
    new = zone_to_feature(zone_a())
    new["id"] = "ZB"
    new["properties"]["name"] = "Zone B"
    assert c.post("/api/zones", json=new, headers=v).status_code == 403
    r = c.post("/api/zones", json=new, headers=o)
    assert r.status_code == 201 and r.json()["id"] == "ZB"
    assert c.post("/api/zones", json=new, headers=o).status_code == 409
    fc = c.get("/api/zones", headers=v).json()
    assert {f["id"] for f in fc["features"]} == {"ZA", "ZB"}
    new["properties"]["ceiling_m"] = 900.0
    r = c.put("/api/zones/ZB", json=new, headers=o)
    assert r.status_code == 200 and r.json()["properties"]["ceiling_m"] == 900.0
    assert {z.id: z.ceiling_m for z in store.zones()}["ZB"] == 900.0
    bad = {**new, "properties": {**new["properties"], "floor_m": 1000.0}}
    assert c.put("/api/zones/ZB", json=bad, headers=o).status_code == 422
    assert c.delete("/api/zones/ZB", headers=o).status_code == 204
    assert c.delete("/api/zones/ZB", headers=o).status_code == 404
    assert [f["id"] for f in c.get("/api/zones", headers=v).json()["features"]] == ["ZA"]
    assert seen == [["ZA", "ZB"], ["ZA", "ZB"], ["ZA"]]
    # The pipeline may refuse an edit (e.g. its threat stage cannot use the zone).

    def refuse(zones):
        raise ValueError("threat stage refused the zone")

    live.on_zones_changed = refuse
    new["id"] = "ZC"
    r = c.post("/api/zones", json=new, headers=o)
    assert r.status_code == 422 and "refused" in r.text
    assert "ZC" not in {z.id for z in store.zones()}


def _fill(store):
    scans = moving_scans(10)
    scans[5] = ScanOutput(t_s=scans[5].t_s, tracks=scans[5].tracks, alerts=(alert("A1", T0 + 5),))
    for s in scans:
        store.write_scan(s)
    return scans


def test_replay_range(app, store, tokens):
    _fill(store)
    c = TestClient(app)
    r = c.get("/api/replay", params={"t0": T0 + 2, "t1": T0 + 6}, headers=bearer(tokens["viewer"]))
    body = r.json()
    assert len(body["tracks"]) == 10 and body["alerts"][0]["id"] == "A1"
    assert all(T0 + 2 <= t["t"] <= T0 + 6 for t in body["tracks"])
    bad = c.get("/api/replay", params={"t0": T0 + 6, "t1": T0}, headers=bearer(tokens["viewer"]))
    assert bad.status_code == 422
    assert c.get("/api/span", headers=bearer(tokens["viewer"])).json() == {
        "t0": T0,
        "t1": T0 + 9,
    }


def test_export_formats_parse(app, store, tokens):
    scans = _fill(store)
    c = TestClient(app)
    q = {"t0": T0, "t1": T0 + 9}
    h = bearer(tokens["viewer"])

    r = c.get("/api/export", params={**q, "format": "csv"}, headers=h)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    tracks = [row for row in rows if row["type"] == "track"]
    assert len(tracks) == 20 and [row["id"] for row in rows if row["type"] == "alert"] == ["A1"]
    first_t1 = next(row for row in tracks if row["id"] == "T1")
    assert float(first_t1["lat"]) == pytest.approx(scans[0].tracks[0].lat, abs=1e-6)

    r = c.get("/api/export", params={**q, "format": "geojson"}, headers=h)
    fc = json.loads(r.content)
    lines = {f["id"]: f for f in fc["features"] if f["properties"]["kind"] == "track"}
    assert lines["T1"]["geometry"]["type"] == "LineString"
    assert len(lines["T1"]["geometry"]["coordinates"]) == 10
    lon, lat, _ = lines["T1"]["geometry"]["coordinates"][-1]
    assert (lat, lon) == pytest.approx((scans[-1].tracks[0].lat, scans[-1].tracks[0].lon))
    pts = [f for f in fc["features"] if f["properties"]["kind"] == "alert"]
    assert pts[0]["geometry"]["coordinates"] == [-0.125, 51.5]

    r = c.get("/api/export", params={**q, "format": "kml"}, headers=h)
    root = ET.fromstring(r.content)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    names = [e.text for e in root.iterfind(".//k:Folder/k:name", ns)]
    assert names == ["Tracks", "Alerts"]
    coords = root.find(".//k:Placemark/k:LineString/k:coordinates", ns).text.split()
    assert len(coords) == 10
    assert c.get("/api/export", params={**q, "format": "shp"}, headers=h).status_code == 422


def test_metrics_text_format(app, live, tokens):
    live.metrics_provider = lambda: {"skywarden_detections_total": 42, "skywarden_lag_s": 0.25}
    live.apply(moving_scans(1)[0])
    c = TestClient(app)
    assert c.get("/metrics").status_code == 401
    text = c.get("/metrics", headers=bearer(tokens["viewer"])).text
    assert "skywarden_tracks 2.0" in text
    assert "skywarden_detections_total 42.0" in text
    assert "skywarden_lag_s 0.25" in text
    assert 'skywarden_sensor_ok{sensor="radar1"} 0.0' in text


def test_store_writer_feeds_replay(live, store, tokens):
    # The pipeline's path: StoreWriter.handle writes; the API reads it back.
    import asyncio

    async def run():
        w = StoreWriter(store)
        for s in moving_scans(4):
            await w.handle(s)

    asyncio.run(run())
    c = TestClient(create_app(live, store))
    r = c.get("/api/replay", params={"t0": T0, "t1": T0 + 3}, headers=bearer(tokens["viewer"]))
    assert len(r.json()["tracks"]) == 8


def test_websocket_of_a_revoked_token_is_cut_off(live, store, tokens):
    from skywarden.store import hash_token

    app = create_app(live, store, WebConfig(token_recheck_s=0.2))
    with TestClient(app) as c, c.websocket_connect(f"/ws?token={tokens['viewer']}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        assert store.revoke_token(hash_token(tokens["viewer"])[:12]) == 1
        with pytest.raises(WebSocketDisconnect) as e:
            for _ in range(50):  # track refreshes until the next token check closes it
                ws.receive_json()
        assert e.value.code == 1008
