"""The built-in scenarios, written as plain data and validated like a user's spec file.

Sites are fictional facilities in plausible places; altitudes are above the
WGS-84 ellipsoid (ground height plus the local geoid undulation, roughly).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .spec import ScenarioSpec, SpecError, spec_from_dict


def _circle_zone(
    zid: str, name: str, e: float, n: float, r: float, floor: float, height: float, prio: int
) -> dict[str, Any]:
    return {
        "id": zid,
        "name": name,
        "circle": {"east_m": e, "north_m": n, "radius_m": r},
        "floor_m": floor,
        "ceiling_m": floor + height,
        "priority": prio,
    }


def _radar(sid: str, at: list[float], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": sid,
        "kind": "radar",
        "pos_enu_m": at,
        "pd": 0.9,
        "update_s": 1.0,
        "max_range_m": 30_000.0,
        "ref_range_m": 12_000.0,
        "pfa": 1e-6,
        # Below 0 degrees the radar's beam is masked by terrain and buildings.
        "fov": {"el_min_deg": 0.0, "el_max_deg": 70.0},
        "sigma_range_m": 15.0,
        "sigma_az_deg": 0.4,
        "sigma_el_deg": 0.7,
        "sigma_range_rate_mps": 0.5,
        "clutter_per_scan": 2.0,
    }
    base.update(kw)
    return base


def _rf(sid: str, at: list[float], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": sid,
        "kind": "rf",
        "pos_enu_m": at,
        "pd": 0.8,
        "update_s": 1.0,
        "max_range_m": 20_000.0,
        "sigma_az_deg": 2.0,
    }
    base.update(kw)
    return base


def _camera(sid: str, at: list[float], az: tuple[float, float], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": sid,
        "kind": "camera",
        "pos_enu_m": at,
        "pd": 0.85,
        "update_s": 0.5,
        "max_range_m": 5_000.0,
        "fov": {"az_min_deg": az[0], "az_max_deg": az[1], "el_min_deg": -5.0, "el_max_deg": 25.0},
        "sigma_az_deg": 0.05,
        "sigma_el_deg": 0.05,
    }
    base.update(kw)
    return base


def _birds(
    area_r: float, singles: int, flocks: int, e: float = 0.0, n: float = 0.0
) -> list[dict[str, Any]]:
    area = {"east_m": e, "north_m": n, "radius_m": area_r}
    out: list[dict[str, Any]] = []
    if singles:
        out.append({"kind": "bird", "count": singles, "area": area})
    if flocks:
        out.append({"kind": "bird", "count": flocks, "area": area, "flock_size": [5, 15]})
    return out


def _single_drone() -> dict[str, Any]:
    ground = 45.0
    return {
        "name": "single-drone",
        "description": "One fixed-wing attack drone from the east into a power station; birds.",
        "duration_s": 900.0,
        "site": {"name": "Example power station", "lat": 51.95, "lon": 4.95, "alt_m": ground},
        "zones": [_circle_zone("Z1", "Power station", 0.0, 0.0, 400.0, ground, 500.0, 1)],
        "sensors": [
            _radar("radar-1", [0.0, 0.0, 25.0]),
            _rf("rf-1", [50.0, 0.0, 15.0]),
            _camera("cam-1", [0.0, 50.0, 20.0], (45.0, 135.0)),
        ],
        "objects": [
            # This one keeps a radio link, so the direction finder has something to hear.
            {
                "kind": "hostile_drone",
                "count": 1,
                "zone": "Z1",
                "bearing_deg": [70, 110],
                "radio_fraction": 1.0,
            },
            *_birds(5_000.0, 20, 3),
        ],
    }


def _swarm() -> dict[str, Any]:
    ground = 520.0
    waves = [((75, 105), "Z1", 5), ((165, 200), "Z2", 4), ((255, 290), "Z1", 4)]
    return {
        "name": "swarm",
        "description": "Thirteen attack drones from three directions at once; birds.",
        "duration_s": 900.0,
        "site": {"name": "Example depot", "lat": 48.35, "lon": 10.9, "alt_m": ground},
        "zones": [
            _circle_zone("Z1", "Fuel depot", 1_500.0, 800.0, 300.0, ground, 400.0, 1),
            _circle_zone("Z2", "Headquarters", 0.0, 0.0, 200.0, ground, 300.0, 2),
        ],
        "sensors": [
            _radar("radar-1", [0.0, 0.0, 25.0]),
            _rf("rf-1", [0.0, 100.0, 15.0]),
            _camera("cam-1", [1_500.0, 500.0, 20.0], (60.0, 120.0)),
        ],
        "objects": [
            *(
                {
                    "kind": "hostile_drone",
                    "count": c,
                    "zone": z,
                    "bearing_deg": list(b),
                    "launch_s": [0, 30],
                }
                for b, z, c in waves
            ),
            *_birds(6_000.0, 25, 3),
        ],
    }


def _birds_scenario() -> dict[str, Any]:
    ground = 42.0
    return {
        "name": "birds",
        "description": "Birds, flocks and gliders near a protected site; no hostile drone.",
        "duration_s": 600.0,
        "site": {"name": "Example wind farm", "lat": 53.3, "lon": 7.2, "alt_m": ground},
        "zones": [_circle_zone("Z1", "Substation", 0.0, 0.0, 500.0, ground, 400.0, 1)],
        "sensors": [
            _radar("radar-1", [0.0, 0.0, 25.0], clutter_per_scan=3.0),
            _camera("cam-1", [0.0, 0.0, 20.0], (300.0, 60.0)),
        ],
        "objects": [
            *_birds(6_000.0, 30, 6),
            {"kind": "glider", "count": 4, "area": {"radius_m": 8_000.0}},
        ],
    }


def _airport() -> dict[str, Any]:
    ground = 160.0
    return {
        "name": "airport",
        "description": "Busy airspace: airliners, light aircraft, helicopters, friendly "
        "Remote ID drones and one hostile drone.",
        "duration_s": 900.0,
        "site": {"name": "Example regional airport", "lat": 50.03, "lon": 8.56, "alt_m": ground},
        "zones": [
            _circle_zone("Z1", "Terminal", 800.0, -400.0, 300.0, ground, 300.0, 1),
            _circle_zone("Z2", "Runway and apron", 0.0, 0.0, 1_500.0, ground, 600.0, 2),
        ],
        "sensors": [
            _radar("radar-1", [0.0, 0.0, 30.0], max_range_m=40_000.0, ref_range_m=15_000.0),
            {
                "id": "adsb-1",
                "kind": "adsb",
                "pos_enu_m": [200.0, 0.0, 10.0],
                "pd": 0.9,
                "update_s": 1.0,
                "max_range_m": 150_000.0,
                "sigma_pos_m": 15.0,
            },
            {
                "id": "rid-1",
                "kind": "remoteid",
                "pos_enu_m": [0.0, 0.0, 10.0],
                "pd": 0.85,
                "update_s": 1.0,
                "max_range_m": 6_000.0,
                "sigma_pos_m": 3.0,
            },
            _rf("rf-1", [100.0, 100.0, 15.0]),
        ],
        "objects": [
            {
                "kind": "airliner",
                "count": 12,
                "runway": {"heading_deg": 250.0},
                "area": {"radius_m": 40_000.0},
            },
            {"kind": "airliner", "count": 6, "area": {"radius_m": 40_000.0}},
            {"kind": "light_aircraft", "count": 6},
            {"kind": "helicopter", "count": 4, "adsb_fraction": 0.5},
            {
                "kind": "quadcopter",
                "count": 5,
                "remote_id": True,
                "area": {"east_m": 3_000.0, "north_m": 2_000.0, "radius_m": 1_500.0},
            },
            {"kind": "hostile_drone", "count": 1, "zone": "Z1", "bearing_deg": [300, 340]},
            *_birds(5_000.0, 10, 0),
        ],
    }


def _coastal() -> dict[str, Any]:
    ground = 35.0
    return {
        "name": "coastal",
        "description": "A port approached low over the sea from the north by a drone at 50-100 m.",
        "duration_s": 900.0,
        "site": {"name": "Example port", "lat": 54.4, "lon": 18.67, "alt_m": ground},
        "zones": [
            _circle_zone("Z1", "Container terminal", 0.0, 500.0, 600.0, ground, 400.0, 1),
            _circle_zone("Z2", "Tanker berth", 1_500.0, 1_200.0, 300.0, ground, 400.0, 1),
        ],
        "sensors": [
            # A coastal radar on a mast looks slightly down at the sea.
            _radar(
                "radar-1",
                [0.0, 0.0, 30.0],
                max_range_m=25_000.0,
                fov={"el_min_deg": -0.5, "el_max_deg": 60.0},
                clutter_per_scan=4.0,
            ),
            _camera("cam-1", [0.0, 200.0, 25.0], (315.0, 45.0)),
            {
                "id": "vts-feed",
                "kind": "position",
                "pos_enu_m": [-2_000.0, 0.0, 40.0],
                "pd": 0.7,
                "update_s": 2.0,
                "max_range_m": 20_000.0,
                "sigma_pos_m": 25.0,
                "clutter_per_scan": 0.2,
            },
        ],
        "objects": [
            {
                "kind": "hostile_drone",
                "count": 1,
                "zone": "Z1",
                "bearing_deg": [330, 390],
                "cruise_agl_m": [50, 100],
                "start_range_m": [16_000, 20_000],
            },
            {"kind": "helicopter", "count": 1, "adsb_fraction": 0.0},
            *_birds(6_000.0, 15, 3, n=3_000.0),
        ],
    }


def _mass_raid(targets: int | None = None) -> dict[str, Any]:
    ground = 160.0
    sensors = [
        _radar("radar-1", [0.0, 0.0, 25.0], update_s=2.0, clutter_per_scan=20.0),
        _radar(
            "radar-2",
            [8_000.0, 5_000.0, 25.0],
            update_s=2.0,
            phase_s=0.5,
            clutter_per_scan=20.0,
        ),
        _radar(
            "radar-3",
            [-6_000.0, -7_000.0, 25.0],
            update_s=2.0,
            phase_s=1.0,
            clutter_per_scan=20.0,
        ),
        _rf("rf-1", [0.0, 200.0, 15.0]),
        _camera("cam-1", [0.0, 0.0, 30.0], (0.0, 90.0)),
    ]
    zones = [
        _circle_zone("Z1", "Refinery", 0.0, 0.0, 600.0, ground, 500.0, 1),
        _circle_zone("Z2", "Power plant", 3_000.0, 1_500.0, 400.0, ground, 500.0, 1),
        _circle_zone("Z3", "Rail yard", -2_000.0, -2_500.0, 500.0, ground, 400.0, 2),
    ]
    site = {"name": "Example industrial area", "lat": 49.0, "lon": 8.4, "alt_m": ground}
    if targets is not None:
        return {
            "name": "mass-raid",
            "description": _raid_description(targets),
            "duration_s": 3_600.0,
            "site": site,
            "zones": zones,
            "sensors": sensors,
            "objects": _raid_objects(targets),
        }
    waves = [
        ((0, 40), "Z1", 15, (0, 600)),
        ((80, 130), "Z2", 15, (300, 1200)),
        ((170, 220), "Z3", 15, (900, 1800)),
        ((250, 300), "Z1", 15, (1500, 2700)),
    ]
    return {
        "name": "mass-raid",
        "description": "Sixty attack drones in four waves among birds and air traffic; "
        "three radars in heavy clutter.",
        "duration_s": 3_600.0,
        "site": site,
        "zones": zones,
        "sensors": sensors,
        "objects": [
            *(
                {
                    "kind": "hostile_drone",
                    "count": c,
                    "zone": z,
                    "bearing_deg": list(b),
                    "launch_s": list(launch),
                }
                for b, z, c, launch in waves
            ),
            {"kind": "quadcopter", "count": 5, "area": {"radius_m": 4_000.0}},
            *_birds(10_000.0, 100, 10),
            {"kind": "airliner", "count": 10, "area": {"radius_m": 40_000.0}},
            {"kind": "light_aircraft", "count": 6},
            {"kind": "helicopter", "count": 4},
        ],
    }


#: ``mass-raid --targets N``: shares of the N objects (the rest are birds) ...
_RAID_HOSTILE = 0.25
_RAID_AIRCRAFT = 0.05
#: ... and of the hostile ones: attack drones, decoys (the rest loiter near zones).
_RAID_ATTACK = 0.7
_RAID_DECOY = 0.2
#: Flocks of this many birds hold one bird in ten.
_RAID_FLOCK = 10


def _raid_counts(n: int) -> dict[str, int]:
    """How the ``n`` objects of a scaled mass raid divide; the counts add up to ``n``."""
    hostile = round(_RAID_HOSTILE * n)
    attack = round(_RAID_ATTACK * hostile)
    decoy = round(_RAID_DECOY * hostile)
    aircraft = round(_RAID_AIRCRAFT * n)
    birds = n - hostile - aircraft
    flocks = birds // (_RAID_FLOCK * _RAID_FLOCK)
    return {
        "attack": attack,
        "decoy": decoy,
        "loiter": hostile - attack - decoy,
        "airliner": aircraft // 2,
        "light_aircraft": (aircraft - aircraft // 2) // 2,
        "helicopter": aircraft - aircraft // 2 - (aircraft - aircraft // 2) // 2,
        "flocks": flocks,
        "single_birds": birds - _RAID_FLOCK * flocks,
    }


def _raid_description(n: int) -> str:
    c = _raid_counts(n)
    return (
        f"{n} objects: {c['attack']} attack drones in four waves a minute apart from four "
        f"directions, {c['decoy']} decoys, {c['loiter']} hostile multirotors loitering near "
        "the zones, birds and air traffic; three radars in heavy clutter."
    )


def _split(n: int, parts: int) -> list[int]:
    """``n`` split into ``parts`` counts as even as can be."""
    return [n // parts + (k < n % parts) for k in range(parts)]


def _raid_objects(n: int) -> list[dict[str, Any]]:
    """The object groups of ``mass-raid --targets n``: a quarter hostile, launched
    within five minutes so that the raid is in the air at once."""
    c = _raid_counts(n)
    waves = [((0, 40), "Z1"), ((80, 130), "Z2"), ((170, 220), "Z3"), ((250, 300), "Z1")]
    attack = [
        {
            "kind": "hostile_drone",
            "count": k,
            "zone": z,
            "bearing_deg": list(b),
            "launch_s": [60.0 * w, 60.0 * w + 120.0],
        }
        for w, ((b, z), k) in enumerate(zip(waves, _split(c["attack"], 4), strict=True))
    ]
    # Decoys fly the attack routes, smaller, silent and lower, to draw the warnings off.
    decoys = [
        {
            "kind": "hostile_drone",
            "count": k,
            "zone": z,
            "bearing_deg": list(b),
            "launch_s": [0.0, 240.0],
            "rcs_dbsm": [-15.0, -5.0],
            "radio_fraction": 0.0,
            "cruise_agl_m": [50.0, 600.0],
            "doglegs": 3,
        }
        for ((b, z), k) in zip(
            [((40, 80), "Z2"), ((200, 250), "Z3")], _split(c["decoy"], 2), strict=True
        )
    ]
    loiter = [
        {"kind": "quadcopter", "count": k, "hostile": True, "loiter": True, "area": area}
        for area, k in zip(
            [
                {"east_m": 0.0, "north_m": 0.0, "radius_m": 2_500.0},
                {"east_m": 3_000.0, "north_m": 1_500.0, "radius_m": 2_000.0},
            ],
            _split(c["loiter"], 2),
            strict=True,
        )
    ]
    flocks = {
        "kind": "bird",
        "count": c["flocks"],
        "area": {"radius_m": 10_000.0},
        "flock_size": [_RAID_FLOCK, _RAID_FLOCK],
    }
    return [
        *attack,
        *decoys,
        *loiter,
        {"kind": "bird", "count": c["single_birds"], "area": {"radius_m": 10_000.0}},
        flocks,
        {"kind": "airliner", "count": c["airliner"], "area": {"radius_m": 40_000.0}},
        {"kind": "light_aircraft", "count": c["light_aircraft"]},
        {"kind": "helicopter", "count": c["helicopter"]},
    ]


def _bench() -> dict[str, Any]:
    ground = 500.0
    return {
        "name": "bench",
        "description": "N nearly-constant-velocity targets, one position sensor with clutter.",
        "duration_s": 60.0,
        "site": {"name": "Benchmark area", "lat": 47.0, "lon": 8.0, "alt_m": ground},
        "zones": [_circle_zone("Z1", "Centre", 0.0, 0.0, 1_000.0, ground, 1_000.0, 1)],
        "sensors": [
            {
                "id": "pos-1",
                "kind": "position",
                "pos_enu_m": [0.0, 0.0, 0.0],
                "pd": 0.9,
                "update_s": 1.0,
                "max_range_m": 50_000.0,
                "sigma_pos_m": 10.0,
                "clutter_per_scan": 10.0,
            }
        ],
        "objects": [
            {
                "kind": "target",
                "count": 100,
                "area": {"radius_m": 20_000.0},
                "accel_sigma_mps2": 0.05,
            }
        ],
    }


_BUILDERS = {
    "single-drone": _single_drone,
    "swarm": _swarm,
    "birds": _birds_scenario,
    "airport": _airport,
    "coastal": _coastal,
    "mass-raid": _mass_raid,
    "bench": _bench,
}


#: Built-ins whose size ``--targets`` sets (others scale their ``target`` groups only).
_SCALED: dict[str, Callable[[int], dict[str, Any]]] = {"mass-raid": _mass_raid}


def scales(name: str) -> bool:
    """Whether built-in ``name`` is sized by ``--targets`` as a whole."""
    return name in _SCALED


def builtin_spec(name: str, targets: int | None = None) -> ScenarioSpec:
    """A built-in scenario by name; ``targets`` sizes a scalable one (``mass-raid``)."""
    return spec_from_dict(builtin_data(name, targets), f"built-in '{name}'")


def builtin_data(name: str, targets: int | None = None) -> dict[str, Any]:
    """A built-in scenario as plain data (what its spec file would hold); ``targets``
    sizes a scalable one (:data:`_SCALED`), ValueError for another."""
    if name not in _BUILDERS:
        raise SpecError(f"no built-in scenario '{name}' (have: {', '.join(_BUILDERS)})")
    if targets is None:
        return _BUILDERS[name]()
    if name not in _SCALED:
        raise ValueError(f"built-in '{name}' does not scale with --targets")
    if not 0 <= targets <= 100_000:
        raise ValueError("--targets must be within 0..100000")
    return _SCALED[name](targets)
