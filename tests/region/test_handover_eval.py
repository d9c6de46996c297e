"""The handover scenario scored with ``skywarden eval`` on the regional output.

One raid is simulated once (``demo --sites 2``'s: two radars 10 km apart, three drones
from the west into a zone at the eastern site); each site tracks its own radar's
detections with the site engine, publishes through its real region sink and outbox to a
real nats-server, and the region writes its output file as it fuses. That file is
scored against the scenario's truth, and so is what the two sites report side by side
(each site's own track ids), which is what a handover costs without the region.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from skywarden.eval import evaluate_files
from skywarden.region.config import RegionLinkConfig
from skywarden.region.demo import raid_spec
from skywarden.region.publish import RegionPublisher
from skywarden.region.server import NatsServer
from skywarden.region.service import RegionService
from skywarden.runner import run_file
from skywarden.scenario import ScenarioWriter
from skywarden.sim import generate
from skywarden.sim.spec import spec_from_dict
from skywarden.types import Detection, ScanOutput, Sensor, Site, Zone

from .conftest import pump, region_config

SEED = 3
DURATION_S = 420.0
#: Scenario seconds of site output sent before the region catches up and writes its scan.
STEP_S = 2.0


def simulate(tmp: Path) -> tuple[Path, list[Sensor], list[Zone], dict[str, list[ScanOutput]]]:
    """The scenario file (with truth) and each site's engine output on its own radar."""
    recs = list(
        generate(spec_from_dict(raid_spec(2), "handover"), seed=SEED, duration_s=DURATION_S)
    )
    scenario = tmp / "scenario.jsonl"
    with ScenarioWriter(scenario) as w:
        w.write_all(recs)
    radars = [r for r in recs if isinstance(r, Sensor)]
    zones = [r for r in recs if isinstance(r, Zone)]
    outputs: dict[str, list[ScanOutput]] = {}
    for sid, radar in zip("AB", radars, strict=True):
        path = tmp / f"site-{sid}.jsonl"
        with ScenarioWriter(path) as w:
            w.write(Site(name=f"site {sid}", lat=radar.lat, lon=radar.lon, alt_m=radar.alt_m))
            w.write(radar)
            w.write_all(zones)
            w.write_all(r for r in recs if isinstance(r, Detection) and r.sensor == radar.id)
        outputs[sid] = []
        run_file(path, None, on_output=outputs[sid].append)
    return scenario, radars, zones, outputs


async def until(cond: Callable[[], bool], timeout_s: float = 15.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("not there in time")
        await asyncio.sleep(0.005)


async def run_region(
    url: str, tmp: Path, radars: list[Sensor], zones: list[Zone],
    outputs: dict[str, list[ScanOutput]], out: Path,
) -> None:  # fmt: skip
    """Sites -> outbox -> nats-server -> region, in scenario time order, ``STEP_S`` at a time."""
    region = RegionService(region_config(url, tmp, ["A", "B"]), out=out)
    await region.connect()
    pubs = {
        sid: RegionPublisher(
            # One heartbeat, at connection: the region's message count is then exact.
            RegionLinkConfig(
                url=url, site=sid, outbox=str(tmp / f"outbox-{sid}.db"), heartbeat_s=1e6
            ),
            Site(name=f"site {sid}", lat=radar.lat, lon=radar.lon, alt_m=radar.alt_m),
            sensors=[radar],
            zones=zones,
            clock=time.time,
        )
        for sid, radar in zip("AB", radars, strict=True)
    }
    tasks = [asyncio.create_task(p.run()) for p in pubs.values()]
    scans = sorted(
        ((s.t_s, sid, s) for sid, ss in outputs.items() for s in ss), key=lambda x: x[:2]
    )
    i = 0
    t_end = scans[0][0]
    while i < len(scans):
        t_end += STEP_S
        while i < len(scans) and scans[i][0] < t_end:
            pubs[scans[i][1]].offer(scans[i][2])
            i += 1
        await until(lambda: all(len(p.outbox) == 0 for p in pubs.values()))
        await pump(
            region,
            lambda: all(region.sites[s].messages == p.published + 1 for s, p in pubs.items()),
        )
        region.publish()
    assert region.malformed == 0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for p in pubs.values():
        await p.aclose()
    await region.stop()


def write_outputs(outputs: dict[str, list[ScanOutput]], path: Path) -> None:
    """Sites' own outputs in one file, in time order, track and alert ids qualified by site."""
    scans = sorted(
        ((s.t_s, sid, s) for sid, ss in outputs.items() for s in ss), key=lambda x: x[:2]
    )
    with ScenarioWriter(path) as w:
        for _, sid, s in scans:
            w.write_all(msgspec.structs.replace(tl, id=f"{sid}/{tl.id}") for tl in s.tracks)
            w.write_all(
                msgspec.structs.replace(a, id=f"{sid}/{a.id}", track=f"{sid}/{a.track}")
                for a in s.alerts
                if a.kind == "threat"
            )


def score(scenario: Path, out: Path) -> dict[str, Any]:
    d: dict[str, Any] = evaluate_files(scenario, out).to_dict()
    return d


def test_handover_scored_by_eval(nats_server: NatsServer, tmp_path: Path) -> None:
    scenario, radars, zones, outputs = simulate(tmp_path)
    out = tmp_path / "region-out.jsonl"
    asyncio.run(run_region(nats_server.url, tmp_path, radars, zones, outputs, out))
    region = score(scenario, out)
    sites = {}
    for name, which in (("A", ["A"]), ("B", ["B"]), ("A+B", ["A", "B"])):
        path = tmp_path / f"sites-{name}.jsonl"
        write_outputs({s: outputs[s] for s in which}, path)
        sites[name] = score(scenario, path)
    n_drones = region["warning"]["n_hostile"]
    assert n_drones == 3 and region["tracking"]["n_objects_counted"] == 3
    # The fused picture: finite GOSPA, below the two sites' side by side (where the
    # overlap shows every drone twice).
    g = region["gospa"]["mean_m"]
    assert g is not None and math.isfinite(g)
    assert g < sites["A+B"]["gospa"]["mean_m"]
    # Identity: each drone crosses from A into B once; the region adds at most one
    # switch per crossing to those the sites' own trackers make.
    site_switches = sum(sites[s]["tracking"]["identity_switches"] for s in "AB")
    assert region["tracking"]["identity_switches"] <= site_switches + n_drones
    assert region["tracking"]["fragmentations"] <= sum(
        sites[s]["tracking"]["fragmentations"] for s in "AB"
    )
    # Alerts: every drone warned, one regional alert per (drone, zone), none false, and
    # each raised once and cleared once (continuity across the handover).
    w = region["warning"]
    assert w["n_entered"] == n_drones and w["missed_warnings"] == 0
    assert w["n_raised_alerts"] == n_drones and w["max_raises_per_object_zone_per_hour"] == 1
    assert w["false_alerts"] == 0 and w["wrong_zone_alerts"] == 0
    assert len({d["alert_id"] for d in w["drones"]}) == n_drones
    states: dict[str, list[str]] = {}
    with open(out, "rb") as f:
        for line in f:
            rec = msgspec.json.decode(line)
            if rec["type"] == "alert":
                states.setdefault(rec["id"], []).append(rec["state"])
    assert len(states) == n_drones
    for seq in states.values():
        assert seq[0] == "raised" and seq[-1] == "cleared"
        assert set(seq[1:-1]) <= {"updated"}
    # The figures for docs/region.md (pytest -s).
    figures = {
        name: (d["gospa"]["mean_m"], d["tracking"]["identity_switches"],
               d["warning"]["n_raised_alerts"])
        for name, d in (("region", region), *sites.items())
    }  # fmt: skip
    print("gospa mean m, identity switches, alerts raised:", figures)
