"""What the truth alone says about a hostile drone's target zone, on hand-built flights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from skywarden.eval.ambiguity import analyse
from skywarden.geodesy import LocalFrame
from skywarden.types import Site

SITE = Site(name="ambiguity", lat=51.0, lon=1.0, alt_m=0.0)
FRAME = LocalFrame.from_site(SITE)
T0 = 1_767_225_600.0


def _square(e: float, n: float, half: float) -> list[list[float]]:
    corners = np.array([[e - half, n - half, 0], [e + half, n - half, 0],
                        [e + half, n + half, 0], [e - half, n + half, 0]], float)  # fmt: skip
    lat, lon, _ = FRAME.to_geodetic(corners)
    return [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]


def _scenario(path: Path, legs: list[tuple[float, float]], speed: float = 40.0) -> Path:
    """A hostile drone at 100 m flying through the waypoints ``legs`` (east, north) at
    ``speed``, sampled each second; zone A around (0, 0), zone B around (0, 6000)."""
    lines = [
        {"type": "site", "name": SITE.name, "lat": SITE.lat, "lon": SITE.lon, "alt_m": 0.0},
        {"type": "zone", "id": "A", "name": "A", "polygon": _square(0.0, 0.0, 300.0),
         "floor_m": 0.0, "ceiling_m": 300.0},
        {"type": "zone", "id": "B", "name": "B", "polygon": _square(0.0, 6000.0, 300.0),
         "floor_m": 0.0, "ceiling_m": 300.0},
    ]  # fmt: skip
    pts = np.array(legs, float)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(seg)])
    for k in range(int(at[-1] / speed) + 1):
        s = k * speed
        e, n = np.interp(s, at, pts[:, 0]), np.interp(s, at, pts[:, 1])
        lat, lon, alt = FRAME.to_geodetic(np.array([[e, n, 100.0]]))
        lines.append({"type": "truth", "t": T0 + k, "id": "drone-001", "class": "drone",
                      "lat": float(lat[0]), "lon": float(lon[0]), "alt_m": float(alt[0]),
                      "hostile": True, "vel_enu_mps": [0.0, 0.0, 0.0]})  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


def test_a_drone_flying_straight_at_its_zone_is_pointed_at_it_all_along(tmp_path):
    """Straight from 12 km south of A: the 300 s ray (12 km at 40 m/s) reaches A from
    the start; B, 6 km north of A, lies on the same line beyond A but is never the
    nearer: no wrong zone."""
    rep = analyse(_scenario(tmp_path / "s.jsonl", [(0.0, -12_000.0), (0.0, 0.0)]))
    (e,) = rep["entries"]
    assert e["zone"] == "A"
    # Entry at the zone's edge (300 m out): 11,700 m at 40 m/s.
    assert e["straight_lead_s"] == pytest.approx(11_700 / 40.0, abs=2.0)
    assert e["best_lead_s"] == pytest.approx(e["straight_lead_s"], abs=2.0)
    assert e["wrong_zones"] == [] and rep["wrong_share"] == 0.0


def test_a_dogleg_pointed_at_the_neighbouring_zone_is_a_wrong_zone_until_the_turn(tmp_path):
    """Aimed at B's centre (its path passing 560 m beside A), turning 1.6 km south of A
    for A: pointed at A only after the turn (48 s at 40 m/s), and B was the best-aimed
    zone for minutes before: the ideal one-zone rule warns B, the wrong zone, once for
    one right alert."""
    turn = (2_000.0 * (1.0 - 6_400.0 / 14_000.0), -1_600.0)  # on the line to B's centre
    legs = [(2_000.0, -8_000.0), turn, (0.0, 0.0)]
    rep = analyse(_scenario(tmp_path / "s.jsonl", legs))
    (e,) = rep["entries"]
    assert e["zone"] == "A"
    final_run = np.hypot(*turn)
    assert e["straight_lead_s"] < final_run / 40.0
    assert e["straight_lead_s"] > final_run / 40.0 - 15.0
    assert e["wrong_zones"] == ["B"] and rep["wrong_share"] == pytest.approx(0.5)
