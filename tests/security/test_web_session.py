"""The page's session: the token lives in an HttpOnly SameSite=Strict cookie that no
script can read (06ae315 kept it in sessionStorage, in reach of injected script);
cookie-authenticated writes need the page's header and origin; the WebSocket
signs in by cookie from this origin only and is cut off (1008) once revoked."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from skywarden.web import WebConfig
from tests.web.webhelpers import bearer, web_site

PAGE = {"X-Skywarden-Request": "1"}


@pytest.fixture
def site(tmp_path):
    w = web_site(tmp_path / "site.db", WebConfig(token_recheck_s=0.05))
    yield w
    w.store.close()


def _signed_in(site, role: str = "operator") -> TestClient:
    c = TestClient(site.app, base_url="http://testserver")
    r = c.post("/api/session", headers={**PAGE, **bearer(site.tokens[role])})
    assert r.status_code == 200 and r.json()["role"] == role
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("skywarden_session=swk_")
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    return c


def test_sign_in_needs_a_valid_token_and_sets_no_cookie_otherwise(site):
    c = TestClient(site.app)
    for headers in ({}, bearer("swk_forged"), bearer("%%%%%%%%")):
        r = c.post("/api/session", headers={**PAGE, **headers})
        assert r.status_code == 401 and "skywarden_session=swk" not in r.headers.get(
            "set-cookie", ""
        )


def test_the_cookie_authenticates_reads_and_page_writes(site):
    c = _signed_in(site)
    assert c.get("/api/me").json() == {"name": "otto", "role": "operator"}
    r = c.delete("/api/zones/ZA", headers={**PAGE, "Origin": "http://testserver"})
    assert r.status_code == 204


def test_a_cookie_write_without_the_page_header_or_from_another_origin_is_refused(site):
    c = _signed_in(site)
    for headers in (
        {},  # a cross-site HTML form cannot set a custom header
        {"X-Skywarden-Request": "0"},
        {**PAGE, "Origin": "https://evil.example"},
        {**PAGE, "Origin": "http://testserver.evil.example"},
    ):
        r = c.delete("/api/zones/ZA", headers=headers)
        assert r.status_code == 403, headers
    assert "ZA" in site.live.zones
    # Bearer clients are not cookie-authenticated and need no header.
    r = TestClient(site.app).post("/api/alerts/nope/ack", headers=bearer(site.tokens["operator"]))
    assert r.status_code == 404


def test_sign_out_and_revocation_end_the_cookie(site):
    c = _signed_in(site, "viewer")
    r = c.delete("/api/session", headers=PAGE)
    assert r.status_code == 204 and 'skywarden_session=""' in r.headers["set-cookie"]
    assert c.get("/api/me").status_code == 401
    c = _signed_in(site, "viewer")
    site.store.revoke_token(site.store.tokens()[0][0].hash_prefix)
    r = c.get("/api/me")
    assert r.status_code == 401
    assert 'skywarden_session=""' in r.headers["set-cookie"]  # the stale cookie is dropped


def test_websocket_by_cookie_from_this_origin_only_and_cut_off_when_revoked(site):
    c = _signed_in(site, "viewer")
    with c.websocket_connect("/ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "snapshot"
    for origin in ({"Origin": "https://evil.example"}, {}):
        with (
            pytest.raises(WebSocketDisconnect) as e,
            c.websocket_connect("/ws", headers=origin) as ws,
        ):
            ws.receive_json()
        assert e.value.code == 1008
    with (
        pytest.raises(WebSocketDisconnect) as e,
        c.websocket_connect("/ws", headers={"Origin": "http://testserver"}) as ws,
    ):
        ws.receive_json()
        site.store.revoke_token(site.store.tokens()[0][0].hash_prefix)
        for _ in range(200):
            ws.receive_json()
    assert e.value.code == 1008


def test_bearer_websocket_clients_still_work(site):
    c = TestClient(site.app)
    with c.websocket_connect("/ws", subprotocols=["bearer", site.tokens["viewer"]]) as ws:
        assert ws.receive_json()["type"] == "snapshot"
    with c.websocket_connect(f"/ws?token={site.tokens['viewer']}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
