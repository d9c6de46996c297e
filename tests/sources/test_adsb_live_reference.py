"""Live ADS-B decodes single CPR frames against the declared receiver, not the site.

Regression (main at 06ae315): the live feed took the site's position as the CPR
reference, so a receiver standing away from the site origin decoded a first,
unpaired frame into the wrong latitude zone.
"""

from __future__ import annotations

import asyncio

import pytest

from skywarden.service import Service
from skywarden.sources.live import AdsbInput
from skywarden.types import Sensor, Site

from ..test_live_interfaces import DATA, _cfg, _collect


def test_live_adsb_local_cpr_uses_the_receiver_position(tmp_path) -> None:
    pytest.importorskip("pyModeS")
    # The site 700 km south of the receiver of the book's worked examples
    # (tests/data/adsb/README.md); its aircraft is 1 km from the receiver.
    site = Site(name="south", lat=46.0, lon=3.918, alt_m=10.0)
    rx = Sensor(id="adsb", kind="adsb", lat=52.258, lon=3.918, alt_m=10.0, max_range_m=2.0e6)
    lines = [ln for ln in (DATA / "adsb" / "book.avr").read_text().splitlines() if ln[:1].isdigit()]

    async def main():
        async def feed(reader, writer):
            for ln in lines:
                writer.write(ln.split()[1].encode() + b"\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(feed, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cfg = _cfg(
            tmp_path, [rx], site=site,
            adsb=[AdsbInput(sensor="adsb", port=port, format="avr", reconnect_s=60.0)],
        )  # fmt: skip
        dets = await _collect(Service(cfg), 1)
        server.close()
        return dets

    dets = asyncio.run(main())
    # The odd frame alone, decoded locally: the book's 52.2658 N, not a latitude near the site.
    assert dets[0].icao24 == "40621d"
    assert dets[0].lat == pytest.approx(52.2658, abs=1e-3)
    assert dets[0].lon == pytest.approx(3.9389, abs=1e-3)
