"""Headers on every response, and the request body: the token check comes before any
of it is read, and it is bounded (the 104 MB anonymous POST that stalled 06ae315)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from urllib.parse import urlparse

import pytest
from starlette.testclient import TestClient

from skywarden.store import zone_to_feature
from skywarden.web import WebConfig, create_app
from tests.web.webhelpers import bearer, serving, web_site, zone_a


@pytest.fixture
def site(tmp_path):
    w = web_site(tmp_path / "site.db")
    yield w
    w.store.close()


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _assert_secured(r) -> None:
    for k, v in SECURITY_HEADERS.items():
        assert r.headers.get(k) == v, (r.request.url, k, r.headers.get(k))
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_every_kind_of_response_carries_the_security_headers(site):
    c, tokens = TestClient(site.app), site.tokens
    big = b"x" * (WebConfig().max_body_bytes + 1)
    responses = [
        c.get("/"),
        c.get("/static/main.js"),
        c.get("/static/vendor/leaflet/leaflet.css"),
        c.get("/openapi.json"),
        c.get("/docs"),
        c.get("/api/tracks"),  # 401
        c.get("/api/tracks", headers=bearer(tokens["viewer"])),
        c.post("/api/alerts/A1/ack", headers=bearer(tokens["viewer"])),  # 403
        c.get("/api/tracks/nope", headers=bearer(tokens["viewer"])),  # 404
        c.post("/api/zones", headers=bearer(tokens["operator"]), content=big),  # 413
        c.get("/metrics", headers=bearer(tokens["viewer"])),
    ]
    assert [r.status_code for r in responses] == [
        200, 200, 200, 200, 200, 401, 200, 403, 404, 413, 200,
    ]  # fmt: skip
    for r in responses:
        _assert_secured(r)
    page_csp = responses[0].headers["content-security-policy"]
    assert "default-src 'self'" in page_csp and "script-src 'self';" in page_csp


def test_the_page_has_no_inline_script_or_style():
    from skywarden.web.app import STATIC_DIR

    page = (STATIC_DIR / "index.html").read_text()
    assert "<script>" not in page and "<style" not in page and "style=" not in page
    assert " on" not in page.replace("<option", "")  # no inline event handler attributes


def test_docs_page_allows_only_its_own_inline_script_by_hash(site):
    r = TestClient(site.app).get("/docs")
    csp = r.headers["content-security-policy"]
    assert "'sha256-" in csp and "unsafe-inline" not in csp
    assert int(r.headers["content-length"]) == len(r.content)


def test_user_tile_origin_is_allowed_for_images_only_when_configured(site):
    app = create_app(
        site.live,
        site.store,
        WebConfig(tiles_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"),
    )
    csp = TestClient(app).get("/").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.org;" in csp


class _Receive:
    """An ASGI receive that notes every call: the body the client would be sending."""

    def __init__(self, body: bytes) -> None:
        self.calls = 0
        self.body = body

    async def __call__(self):
        self.calls += 1
        return {"type": "http.request", "body": self.body, "more_body": False}


def _call(app, method: str, path: str, headers: dict[str, str], receive: _Receive):
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_no_token_gets_401_before_a_byte_of_the_body_is_read(site):
    payload = b"A" * 1024
    for headers in ({}, bearer("swk_not-a-token"), {"Cookie": "skywarden_session=swk_forged"}):
        rx = _Receive(payload)
        h = {"Content-Type": "application/json", "Content-Length": "104857600", **headers}
        status, _ = _call(site.app, "POST", "/api/zones", h, rx)
        assert status == 401 and rx.calls == 0, headers


def test_a_declared_oversized_body_gets_413_unread(site):
    rx = _Receive(b"{}")
    h = {"Content-Length": "104857600", **bearer(site.tokens["operator"])}
    status, body = _call(site.app, "POST", "/api/zones", h, rx)
    assert status == 413 and rx.calls == 0
    assert b"request body over" in body


def test_a_streamed_oversized_body_gets_413(site):
    limit = WebConfig().max_body_bytes

    def chunks():
        for _ in range(limit // 65536 + 4):
            yield b"x" * 65536

    c = TestClient(site.app)
    r = c.post("/api/zones", headers=bearer(site.tokens["operator"]), content=chunks())
    assert r.status_code == 413


def test_a_body_within_the_limit_still_works(site):
    c = TestClient(site.app)
    f = zone_to_feature(zone_a())
    f["id"] = "ZB"
    r = c.post("/api/zones", headers=bearer(site.tokens["operator"]), json=f)
    assert r.status_code == 201, r.text


@pytest.fixture
def served(site):
    with serving(site.app) as url:
        yield urlparse(url).port


def _raw_post(port: int, headers: str, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST /api/zones HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        n = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
        while len(body) < n:
            body += s.recv(65536)
        return head + b"\r\n\r\n" + body


def test_over_a_real_socket_the_401_comes_without_waiting_for_104_mb(served, site):
    # The client announces 104 MB and sends 1 KiB: the answer must not wait for the rest
    # (before the fix the server read the body first and this recv timed out).
    head = _raw_post(
        served, "Content-Type: application/json\r\nContent-Length: 104857600\r\n", b"{" * 1024
    )
    assert head.startswith(b"HTTP/1.1 401")
    head = _raw_post(
        served,
        f"Authorization: Bearer {site.tokens['operator']}\r\nContent-Length: 104857600\r\n",
        b"{" * 1024,
    )
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(head.split(b"\r\n\r\n", 1)[1])["detail"].startswith("request body over")
