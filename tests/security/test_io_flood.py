"""A garbage flood on the JSON Lines ports of a real ``skywarden serve`` (bench/flood.py for 10 s).

Memory stays bounded, every bad line is counted, nothing prints a traceback,
and the HTTP API answers throughout.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "flood.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("skywarden_bench_flood", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_flood_of_garbage_keeps_memory_bounded_and_the_api_answering(tmp_path):
    flood = load_bench()
    site = flood.Site(tmp_path)
    try:
        res = asyncio.run(flood.flood(site, seconds=10.0, connections=4))
    finally:
        err = site.stop()
    rss = res["rss_mb"]
    assert max(rss) - rss[0] < 50.0, rss
    assert res["api"] and all(status == 200 for _, status in res["api"]), res["api"]
    assert res["tcp_bytes"] > 1_000_000 and res["udp_datagrams"] > 100
    assert res["rejected"] > 1_000
    assert "Traceback" not in err
    # Rejections are logged at a bounded rate, not once per line.
    assert len(err.splitlines()) < 200, err[-2000:]
