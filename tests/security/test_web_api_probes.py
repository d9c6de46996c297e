"""Bad-input probes of the HTTP API: unknown paths, malformed and hostile bodies, bad
query values and headers. None gets a 5xx; each is refused with a reason; a refused
write changes nothing; unknown paths are 404 for a signed-in caller and 401 for
anyone else (no route's existence leaks without a token)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.web.webhelpers import bearer, web_site

GOOD = {
    "type": "Feature",
    "id": "ZP",
    "properties": {"name": "probe", "floor_m": 0, "ceiling_m": 100},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-0.125, 51.498], [-0.115, 51.498], [-0.115, 51.502], [-0.125, 51.498]]],
    },
}


def feature(**changes) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def props(**p) -> bytes:
    return feature(properties={"name": "probe", "floor_m": 0, "ceiling_m": 100, **p})


def ring(*pts) -> bytes:
    return feature(geometry={"type": "Polygon", "coordinates": [[list(p) for p in pts]]})


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    w = web_site(tmp_path_factory.mktemp("api") / "site.db")
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def client(site):
    return TestClient(site.app, raise_server_exceptions=False)


UNKNOWN_PATHS = [
    "/api/nope", "/api/", "/api", "/api/tracks/1/extra", "/api/zones/ZA/x", "/api/alerts/A/ack/x",
    "/api/../etc/passwd", "/api/%2e%2e/%2e%2e/etc/passwd", "/api/admin", "/api/me/../tokens",
    "/nope", "/metrics/x", "/api/export/x", "/api/" + "a" * 5000,
]  # fmt: skip


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_paths_are_404_when_signed_in_and_401_otherwise(client, site, path, method):
    anon = client.request(method, path)
    assert anon.status_code == 401, (method, path, anon.status_code)
    for role in ("viewer", "operator"):
        r = client.request(method, path, headers=bearer(site.tokens[role]))
        assert r.status_code in (404, 405), (method, path, role, r.status_code, r.text)
        assert r.json()["detail"]


BAD_BODIES = {
    "empty": b"",
    "truncated": b'{"type":"Feature",',
    "not json": b"hello",
    "a JSON array": b"[]",
    "a JSON string": b'"Feature"',
    "a JSON number": b"1",
    "null": b"null",
    "6 KB of nesting": b'{"a":' * 1200 + b"1" + b"}" * 1200,
    "100k open brackets": b"[" * 100_000 + b"]" * 100_000,
    "NaN literal": b'{"type":"Feature","properties":{"floor_m":NaN,"ceiling_m":1}}',
    "a 5000-digit id": b'{"type":"Feature","id":' + b"9" * 5000 + b"}",
    "non-UTF-8": b'{"type":"\xff\xfe"}',
    "BOM then {}": b"\xef\xbb\xbf{}",
    "not a Feature": feature(type="FeatureCollection"),
    "geometry a string": feature(geometry="x"),
    "geometry missing": feature(geometry=None),
    "coordinates a string": feature(geometry={"type": "Polygon", "coordinates": "abc"}),
    "coordinates of strings": feature(geometry={"type": "Polygon", "coordinates": [[["a", "b"]]]}),
    "a Point": feature(geometry={"type": "Point", "coordinates": [0, 51]}),
    "an empty MultiPolygon": feature(geometry={"type": "MultiPolygon", "coordinates": []}),
    "a polygon with a hole": feature(
        geometry={"type": "Polygon", "coordinates": GOOD["geometry"]["coordinates"] * 2}
    ),
    "two points": ring((-0.125, 51.498), (-0.115, 51.498)),
    "a bow-tie": ring((1, 51), (1.01, 51.01), (1.01, 51), (1, 51.01)),
    "zero area": ring((1, 51), (1.01, 51), (1.02, 51)),
    "latitude 95": ring((1, 95), (1.01, 95), (1.01, 95.01)),
    "across the antimeridian": ring((179.99, 51), (-179.99, 51), (-179.99, 51.01)),
    "properties a list": feature(properties=[]),
    "floor a string": props(floor_m="0"),
    "ceiling below floor": props(floor_m=100, ceiling_m=50),
    "ceiling 1e400": props(ceiling_m=1e400).replace(b"Infinity", b"1e400"),
    "floor -1e9": props(floor_m=-1e9),
    "priority a float": props(priority=1.5),
    "priority negative": props(priority=-3),
    "over the body limit": b'{"type":"Feature","pad":"' + b"x" * 1_100_000 + b'"}',
}


#: Only a POST takes the zone id from the Feature (a PUT takes it from the path).
BAD_IDS = {
    "an object as id": feature(id={"a": 1}),
    "a list as id": feature(id=[1]),
    "true as id": feature(id=True),
    "an id of 100k characters": feature(id="x" * 100_000),
    "an empty id": feature(id=""),
    "an id too long in the properties": props(id="x" * 200),
}
PROBES = [("POST", "/api/zones", n) for n in [*BAD_BODIES, *BAD_IDS]] + [
    ("PUT", "/api/zones/ZQ", n) for n in BAD_BODIES
]


@pytest.mark.parametrize(("method", "path", "name"), PROBES)
def test_bad_zone_bodies_are_refused_with_a_reason_and_change_nothing(
    client, site, name, method, path
):
    before = client.get("/api/zones", headers=bearer(site.tokens["viewer"])).json()
    stored = site.store.load_zones([])
    r = client.request(
        method,
        path,
        headers={**bearer(site.tokens["operator"]), "Content-Type": "application/json"},
        content={**BAD_BODIES, **BAD_IDS}[name],
    )
    assert r.status_code in (400, 409, 413, 422), (name, r.status_code, r.text[:300])
    assert r.json()["detail"], name
    assert client.get("/api/zones", headers=bearer(site.tokens["viewer"])).json() == before
    assert site.store.load_zones([]) == stored


BAD_QUERIES = [
    "/api/replay", "/api/replay?t0=1", "/api/replay?t0=nan&t1=1", "/api/replay?t0=0&t1=inf",
    "/api/replay?t0=1e309&t1=1e309", "/api/replay?t0=2&t1=1", "/api/replay?t0=x&t1=y",
    "/api/replay?t0=0&t1=1e12", "/api/replay?t0=-inf&t1=0", "/api/export?t0=0&t1=1&format=exe",
    "/api/export?t0=nan&t1=nan", "/api/export?t0=0&t1=1e12&format=kml", "/api/export",
    "/api/alerts?open=maybe", "/api/tracks/x?t0=nan", "/api/tracks/x?t0=abc",
    "/api/tracks/" + "%ff" * 100, "/api/tracks/%00", "/api/replay?t0=0&t0=1&t1=" + "9" * 400,
]  # fmt: skip


@pytest.mark.parametrize("url", BAD_QUERIES)
def test_bad_query_values_are_4xx_with_a_reason(client, site, url):
    r = client.get(url, headers=bearer(site.tokens["viewer"]))
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:300])
    assert r.json()["detail"], url


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/zones", {"Content-Length": "abc"}),
        ("POST", "/api/zones", {"Content-Length": "-1"}),
        ("POST", "/api/zones", {"Content-Length": "99999999999999999999999"}),
        ("POST", "/api/zones", {"Content-Type": "text/plain"}),
        ("POST", "/api/alerts/no-such-alert/ack", {}),
        ("POST", "/api/alerts/" + "A" * 3000 + "/ack", {}),
        ("DELETE", "/api/zones/no-such-zone", {}),
        ("PATCH", "/api/zones/ZA", {}),
        ("DELETE", "/api/tracks", {}),
    ],
)
def test_bad_headers_methods_and_ids_are_4xx(client, site, method, path, headers):
    r = client.request(
        method, path, headers={**bearer(site.tokens["operator"]), **headers}, content=b"{}"
    )
    assert 400 <= r.status_code < 500, (method, path, headers, r.status_code, r.text[:300])


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer swk_" + "x" * 10_000,
        "Bearer \u00e9\u00e9", "bearer%00", "Bearer swk_' OR 1=1 --", "Bearer %%%%%%%%",
    ],
)  # fmt: skip
def test_malformed_tokens_are_401(client, auth):
    r = client.get("/api/tracks", headers={"Authorization": auth.encode()})
    assert r.status_code == 401, (auth[:40], r.status_code)
