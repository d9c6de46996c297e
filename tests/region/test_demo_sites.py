"""``skywarden demo --sites 3`` as a user starts it: three healthy sites, tracks seen by several."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.service_helpers import start_on_free_port, terminate

SKYWARDEN = str(Path(sys.executable).parent / "skywarden")


@pytest.mark.slow
def test_demo_sites_serves_three_healthy_sites_and_shared_tracks(tmp_path: Path) -> None:
    proc, _port, facts = start_on_free_port(
        lambda port: [SKYWARDEN, "demo", "--sites", "3", "--port", str(port), "--speed", "20",
                      "--json"],
        "the demo", tmp_path / "demo.log",
    )  # fmt: skip
    try:
        assert sorted(facts["sites"]) == ["A", "B", "C"]
        auth = {"Authorization": f"Bearer {facts['viewer_token']}"}
        # The regional map's API asks for a token like a site's.
        assert httpx.get(facts["url"]).status_code == 401
        deadline = time.monotonic() + 90
        shared: list[dict] = []
        while not shared:
            assert time.monotonic() < deadline, "no regional track seen by two sites"
            time.sleep(1.0)
            tracks = httpx.get(facts["tracks"], headers=auth).json()["tracks"]
            shared = [t for t in tracks if len(t["sites"]) >= 2]
        sites = httpx.get(facts["url"], headers=auth).json()
        assert [(s["site"], s["health"]) for s in sites] == [("A", "ok"), ("B", "ok"), ("C", "ok")]
        assert all(set(t["sites"]) <= {"A", "B", "C"} for t in shared)
        assert all(len(t["members"]) == len(t["sites"]) for t in shared)
        # The regional map's page is served, signed in by its session cookie.
        page = httpx.get(facts["map"])
        assert page.status_code == 200 and 'name="skywarden-regional" content="1"' in page.text
        assert "skywarden_session" in page.headers.get("set-cookie", "")
        # Each site's own map is served too.
        for url in facts["sites"].values():
            assert httpx.get(url).status_code == 200
    finally:
        terminate(proc)
    assert proc.returncode == 0
