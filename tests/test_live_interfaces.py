"""The standard interfaces used live by the service: ASTERIX CAT048, Remote ID and ADS-B."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import numpy as np
import pytest

from skywarden.config import SiteConfig, SourcesConfig, StoreConfig
from skywarden.geodesy import LocalFrame, SensorGeometry
from skywarden.service import Service
from skywarden.sources.asterix48 import Plot, encode_plots
from skywarden.sources.live import AdsbInput, AsterixInput, RemoteIdInput
from skywarden.sources.remoteid import BasicId, Location
from skywarden.sources.remoteid_encode import encode_pack
from skywarden.types import Detection, Sensor, Site

from .service_helpers import scrape_metrics

DATA = Path(__file__).parent / "data"
SITE = Site(name="live", lat=51.0, lon=1.0, alt_m=20.0)
FRAME = LocalFrame.from_site(SITE)


def _cfg(tmp_path, sensors, site=SITE, **sources) -> SiteConfig:
    return SiteConfig(
        site=site,
        sensors=sensors,
        sources=SourcesConfig(**{"jsonl_tcp_port": None, "jsonl_udp_port": None, **sources}),
        store=StoreConfig(path=str(tmp_path / "site.db")),
    )


async def _collect(service: Service, n: int, timeout_s: float = 20.0) -> list[Detection]:
    """Detections the service's sources hand over, until ``n`` have come."""
    got: list[Detection] = []
    done = asyncio.Event()
    inner = service._on_record

    def tap(rec):
        if isinstance(rec, Detection):
            got.append(rec)
            if len(got) >= n:
                done.set()
        inner(rec)

    service._on_record = tap  # the sources are built in start(), after this
    await service.start()
    try:
        async with asyncio.timeout(timeout_s):
            await done.wait()
    finally:
        await service.stop()
    return got


def test_asterix_cat048_over_udp_becomes_radar_detections_and_tracks(tmp_path):
    radar = Sensor(id="psr", kind="radar", lat=51.0, lon=1.0, alt_m=30.0, update_s=0.25)
    geom = SensorGeometry.from_sensor(FRAME, radar)
    cfg = _cfg(tmp_path, [radar], asterix48=[AsterixInput(sensor="psr", port=0)])

    async def main():
        service = Service(cfg)
        task = asyncio.create_task(_collect(service, 20))
        while "asterix48:psr" not in service.ports:
            await asyncio.sleep(0)  # let start() bind the port
        loop = asyncio.get_running_loop()
        tr, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", service.ports["asterix48:psr"])
        )
        # Plots as the radar measures them, four a second (the engine's clock runs on
        # meanwhile, as live: a burst of old plots would find the tracks coasted past).
        for k in range(20):
            t = time.time()
            p = np.array([-6000.0 + 12.5 * k, 3000.0, 1500.0])
            r, az, _ = geom.to_aer(p)
            fl = (p[2] + SITE.alt_m) / 0.3048 / 100.0
            plot = Plot(
                sac=1, sic=2, tod_s=t % 86400.0, rho_m=float(r),
                theta_deg=math.degrees(float(az)), fl=fl, fl_ok=True, mode3a="7000", mode3a_ok=True,
            )  # fmt: skip
            tr.sendto(encode_plots([plot]))
            await asyncio.sleep(0.25)
        dets = await task
        tr.close()
        return service, dets

    service, dets = asyncio.run(main())
    assert len(dets) == 20 and all(d.sensor == "psr" and d.el_deg is not None for d in dets)
    # The engine runs in a process of its own: its tracks are those it sent back.
    assert any(t.status in ("confirmed", "coasting") for t in service.live.tracks.values())


def test_remoteid_hex_lines_over_udp_become_cooperative_detections(tmp_path):
    rid = Sensor(id="rid", kind="remoteid", lat=51.0, lon=1.0, alt_m=20.0)
    cfg = _cfg(tmp_path, [rid], remoteid=[RemoteIdInput(sensor="rid", port=0)])
    t0 = time.time()

    def pack(k: int) -> bytes:
        basic = BasicId(version=2, id_type=1, ua_type=2, uas_id="1596F4A1B2C3D4E5F6")
        loc = Location(
            version=2, status=2, height_type=0, track_deg=90.0, speed_mps=10.0, vrate_mps=0.0,
            lat=51.001 + 1e-5 * k, lon=1.002, alt_pressure_m=None, alt_m=120.0, height_m=100.0,
            h_acc=10, v_acc=4, baro_acc=0, speed_acc=3, t_hour_s=(t0 + k) % 3600.0, t_acc_s=0.1,
        )  # fmt: skip
        return encode_pack([basic, loc])

    async def main():
        service = Service(cfg)
        task = asyncio.create_task(_collect(service, 5))
        while "remoteid:rid" not in service.ports:
            await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        tr, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", service.ports["remoteid:rid"])
        )
        tr.sendto(b"zz not hex\n")
        for k in range(5):
            tr.sendto(pack(k).hex().encode() + b"\n")
        dets = await task
        tr.close()
        return service, dets

    service, dets = asyncio.run(main())
    assert {d.uas_id for d in dets} == {"1596F4A1B2C3D4E5F6"}
    assert dets[0].lat == pytest.approx(51.001, abs=1e-6) and dets[0].alt_m == pytest.approx(120.0)
    assert service.rejections.total == 1


def test_adsb_feed_from_a_receiver_over_tcp(tmp_path):
    pytest.importorskip("pyModeS")
    # The receiver of the fixture's worked examples (tests/data/adsb/README.md).
    site = Site(name="ehrd", lat=52.258, lon=3.918, alt_m=10.0)
    rx = Sensor(id="adsb", kind="adsb", lat=52.258, lon=3.918, alt_m=10.0)
    lines = [ln for ln in (DATA / "adsb" / "book.avr").read_text().splitlines() if ln[:1].isdigit()]

    async def main():
        async def feed(reader, writer):
            for ln in lines:
                writer.write(ln.split()[1].encode() + b"\n")  # as dump1090 serves AVR
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(feed, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cfg = _cfg(
            tmp_path, [rx], site=site,
            adsb=[AdsbInput(sensor="adsb", port=port, format="avr", reconnect_s=60.0)],
        )  # fmt: skip
        service = Service(cfg)
        dets = await _collect(service, 1)
        server.close()
        return service, dets

    service, dets = asyncio.run(main())
    assert dets[0].icao24 == "40621d"
    assert dets[0].lat == pytest.approx(52.2658, abs=1e-3)
    assert service.rejections.total >= 1  # the fixture's frame with a CRC error


def test_metrics_count_cat034_set_aside_and_anonymous_remote_id(tmp_path):
    """A CAT034 service message is counted as set aside (not rejected) and a Remote ID
    Location with no Basic ID as anonymous, both on /metrics with their source."""
    radar = Sensor(id="psr", kind="radar", lat=51.0, lon=1.0, alt_m=20.0)
    rid = Sensor(id="rid", kind="remoteid", lat=51.0, lon=1.0, alt_m=20.0)
    cfg = _cfg(
        tmp_path,
        [radar, rid],
        asterix48=[AsterixInput(sensor="psr", port=0)],
        remoteid=[RemoteIdInput(sensor="rid", port=0)],
    )

    async def main():
        service = Service(cfg)
        await service.start()
        try:
            loop = asyncio.get_running_loop()
            tr, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=("127.0.0.1", service.ports["asterix48:psr"])
            )
            tr.sendto(bytes([34, 0, 3]))  # a CAT034 block with no records
            tr.close()
            # What the Remote ID endpoint's assembler counts for a Location it had to
            # report without a Basic ID (the decoder's own path is tested in tests/sources).
            service.anonymous_rid["remoteid:rid"]["udp:127.0.0.1:9"] += 2
            text = await scrape_metrics(service, 'reason="CAT034 service message"')
            return text, service.rejections.total
        finally:
            await service.stop()

    text, rejected = asyncio.run(main())
    assert (
        'skywarden_ignored_messages_total{reason="CAT034 service message",source="asterix48:psr"} 1.0'
        in text
    )
    assert 'skywarden_remoteid_anonymous_total{source="remoteid:rid"} 2.0' in text
    assert rejected == 0
