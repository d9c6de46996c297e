"""Writes plots.ast with skywarden's libasterix-based encoder (run from the repo root).

.venv/bin/python tests/data/asterix/make_fixture.py
"""

from __future__ import annotations

from pathlib import Path

import asterix.generated as gen

from skywarden.sources.asterix48 import NM_TO_M, Plot, encode_plots

PLOTS = [
    Plot(
        sac=1,
        sic=2,
        tod_s=43200.0,
        typ=5,
        rho_m=10 * NM_TO_M,
        theta_deg=45.0,
        mode3a="7000",
        mode3a_ok=True,
        fl=35.25,
        fl_ok=True,
        icao24="4840d6",
    ),
    Plot(
        sac=1,
        sic=2,
        tod_s=43200.5,
        typ=3,
        rho_m=20.5 * NM_TO_M,
        theta_deg=90.0,
        mode3a="1234",
        mode3a_ok=True,
        fl=100.0,
        fl_ok=True,
    ),
    Plot(sac=1, sic=2, tod_s=43201.0, typ=1, rho_m=3 * NM_TO_M, theta_deg=270.0),
    Plot(
        sac=1,
        sic=2,
        tod_s=43201.5,
        typ=2,
        sim=True,
        rho_m=5 * NM_TO_M,
        theta_deg=10.0,
        fl=50.0,
        fl_ok=True,
    ),
    Plot(
        sac=1,
        sic=2,
        tod_s=43202.0,
        typ=5,
        rho_m=1 * NM_TO_M,
        theta_deg=65535 * 360 / 65536,
        fl=5.0,
        fl_ok=True,
        icao24="abcdef",
    ),
]


def north_marker() -> bytes:
    cat = gen.Cat_034_1_29
    rec = cat.cv_record.create({"000": 1, "010": (("SAC", 1), ("SIC", 2))})
    return cat.create([rec]).unparse().to_bytes()


if __name__ == "__main__":
    data = encode_plots(PLOTS[:2]) + north_marker() + encode_plots(PLOTS[2:])
    Path(__file__).with_name("plots.ast").write_bytes(data)
