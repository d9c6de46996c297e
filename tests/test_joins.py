"""The joins between stages: one site registry, identities across restarts, metrics."""

from __future__ import annotations

import asyncio
import logging
import math
import time

import numpy as np

from skywarden.geodesy import LocalFrame
from skywarden.pipeline import SiteRegistry, build_engine
from skywarden.service import Service
from skywarden.store import Store
from skywarden.types import (
    AlertLine,
    Association,
    Detection,
    Identity,
    RejectCode,
    Rejected,
    Sensor,
    Site,
    TrackLine,
    TrackTable,
    track_number,
)

from .service_helpers import scrape_metrics
from .test_service import RADAR, _config, _radar_dets

SITE = Site(name="s", lat=52.0, lon=5.0, alt_m=10.0)
FRAME = LocalFrame.from_site(SITE)
SPOOF_RADAR = Sensor(
    id="r", kind="radar", lat=52.0, lon=5.0, alt_m=10.0, sigma_range_m=10.0, sigma_az_deg=0.5
)
RID = Sensor(id="rid", kind="remoteid", lat=52.0, lon=5.0, alt_m=10.0)


def _rid_and_radar(engine, k: int, offset_m: float) -> bool:
    """One scan of a drone 1.5 km east seen by the radar and by its own Remote ID,
    whose reported position is ``offset_m`` north of where the radar sees it.
    Returns the classifier's spoof flag."""
    t = 2000.0 + k
    p = np.array([1500.0, 12.0 * k, 90.0])
    d = p - FRAME.to_enu(SPOOF_RADAR.lat, SPOOF_RADAR.lon, SPOOF_RADAR.alt_m).reshape(3)
    rng_m = float(np.linalg.norm(d))
    az = math.degrees(math.atan2(d[0], d[1])) % 360
    el = math.degrees(math.asin(d[2] / rng_m))
    lat, lon, alt = FRAME.to_geodetic(p + np.array([0.0, offset_m, 0.0]))
    dets = (
        Detection(t=t, sensor="r", range_m=rng_m, az_deg=az, el_deg=el),
        Detection(t=t + 0.1, sensor="rid", uas_id="SN1", lat=float(lat), lon=float(lon),
                  alt_m=float(alt), speed_mps=12.0),
    )  # fmt: skip
    assoc = Association(track_id=np.array([1, 1]), detections=dets, kinds=("radar", "remoteid"))
    x = np.array([[*p, 0.0, 12.0, 0.0]])
    table = TrackTable(
        t_s=t, id=np.array([1]), status=np.array([1], np.int8), x=x,
        P=np.eye(6)[None] * 25.0, identity=np.array([Identity("remoteid", "SN1")], dtype=object),
        n_updates=np.array([10]), t_first_s=np.array([2000.0]),
        t_last_update_s=np.array([t]), mode_p=np.array([[0.95, 0.05]]),
    )  # fmt: skip
    return bool(engine.classifier.update(table, assoc).spoof[0])


def test_radar_registered_live_is_known_to_the_remote_id_spoof_check():
    reg = SiteRegistry(SITE, [RID])
    engine = build_engine(reg)
    reg.declare_sensor(SPOOF_RADAR)  # a radar that appeared while running
    flags = [_rid_and_radar(engine, k, offset_m=400.0) for k in range(10)]
    assert flags[-1] and sum(flags) >= 7
    # Every stage reads the same table: the tracker takes the radar's plots too.
    engine.push(Detection(t=3000.0, sensor="r", range_m=900.0, az_deg=10.0, el_deg=3.0))
    assert engine.stats.unknown_sensor == 0 and engine.tracker.sensors is reg.sensors


def test_honest_remote_id_is_not_flagged_against_a_live_radar():
    reg = SiteRegistry(SITE, [RID])
    engine = build_engine(reg)
    reg.declare_sensor(SPOOF_RADAR)
    assert not any(_rid_and_radar(engine, k, offset_m=0.0) for k in range(10))


def test_restart_gives_new_objects_new_ids_and_clears_old_alerts_with_their_acks(tmp_path):
    cfg = _config(tmp_path, [RADAR])
    # The previous run: drone T1 raised A7, an operator acknowledged it, then a crash.
    store = Store(cfg.store.path)
    t_prev = time.time() - 600.0
    store.write_tracks(
        [
            TrackLine(
                t=t_prev, id="T1", lat=51.0, lon=1.0, alt_m=300.0, vel_enu_mps=(1.0, 0.0, 0.0),
                status="confirmed", class_="drone", class_p={"drone": 1.0},
            )
        ]
    )  # fmt: skip
    a7 = AlertLine(
        t=t_prev, id="A7", level="critical", state="raised", kind="threat", track="T1",
        zone="Z", tta_s=60.0, class_="drone",
    )  # fmt: skip
    store.write_alerts([a7])
    store.acknowledge("A7", "operator-1")
    store.close()

    service = Service(cfg)
    try:
        events = service.store.alert_events("A7")
        assert [e.state for e in events] == ["raised", "cleared"]
        assert events[-1].reason == "restart: object not reacquired"
        assert "A7" not in service.live.alerts and service.live.ack_of("A7") is None
        # A new drone after the restart: its track numbers continue after the record's.
        outs = []
        for d in _radar_dets(time.time() - 30.0, 30):
            outs += service.engine.push(d)
        outs += service.engine.flush()
        ids = {t.id for o in outs for t in o.tracks}
        assert ids and all((track_number(i) or 0) > 1 for i in ids)
        assert not any(a.id == "A7" for o in outs for a in o.alerts)
        # Alert numbers continue too: the assessor knows A7 was used.
        assert service.engine.assessor is not None
        assert service.engine.assessor._next == 8
    finally:
        service.store.close()


def test_metrics_have_real_labels_and_scrape_without_warnings(tmp_path, caplog):
    cfg = _config(tmp_path, [RADAR])

    async def main():
        service = Service(cfg)
        await service.start()
        try:
            # What a decoder hands over for a bad message (the sources' own path).
            service.rejections.add(
                "asterix48:r1", Rejected(code=RejectCode.SYNTAX, reason="bad length: 3 bytes")
            )
            return await scrape_metrics(service, "skywarden_rejected_messages_total{")
        finally:
            await service.stop()

    with caplog.at_level(logging.WARNING):
        caplog.clear()
        text = asyncio.run(main())
    assert 'skywarden_sink_dropped_total{sink="store"} 0.0' in text
    assert 'skywarden_sink_queue_depth{sink="store"}' in text
    assert 'skywarden_sink_ok{sink="store"} 1.0' in text
    assert 'skywarden_sink_alerts_pending{sink="store"} 0.0' in text
    assert 'skywarden_rejected_messages_total{reason="syntax",source="asterix48:r1"} 1.0' in text
    assert "skywarden_detections_received_total" in text
    assert not [r for r in caplog.records if "metrics" in r.getMessage()]
