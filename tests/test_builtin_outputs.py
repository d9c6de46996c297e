"""The built-ins' track and alert output, pinned: a restructuring or a speed-up must not
change what the engine says.

Each built-in is simulated for its first 300 s (seed 1) and run through the whole
engine; its alert events are compared one by one, and its track lines through a digest
of their rounded contents (0.1 m, 1e-4 class probability). After a deliberate change of
behaviour (a classifier or threat rule), regenerate with
``SKYWARDEN_UPDATE_GOLDEN=1 pytest tests/test_builtin_outputs.py`` and say why in the
commit.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson
import pytest

from skywarden.runner import run_file
from skywarden.sim import load_spec, simulate_to_file
from skywarden.types import AlertLine, ScanOutput, TrackLine

GOLDEN = Path(__file__).parent / "golden" / "builtin_outputs"
BUILTINS = ("single-drone", "swarm", "birds", "airport", "coastal", "mass-raid")


def _track_key(t: TrackLine) -> bytes:
    return orjson.dumps(
        [
            t.t, t.id, t.status, t.class_, round(t.lat, 6), round(t.lon, 6), round(t.alt_m, 1),
            [round(v, 1) for v in t.vel_enu_mps],
            {k: round(v, 4) for k, v in sorted(t.class_p.items())},
        ]
    )  # fmt: skip


def _alert_row(a: AlertLine) -> list:
    return [a.t, a.id, a.state, a.level, a.kind, a.track, a.zone, a.class_]


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_output_is_unchanged(name: str, tmp_path: Path) -> None:
    scen = tmp_path / "s.jsonl"
    simulate_to_file(load_spec(name), scen, seed=1, duration_s=300.0)
    digest = hashlib.sha256()
    n_tracks = 0
    alerts: list[list] = []

    def take(o: ScanOutput) -> None:
        nonlocal n_tracks
        for t in o.tracks:
            digest.update(_track_key(t))
            n_tracks += 1
        alerts.extend(_alert_row(a) for a in o.alerts)

    run_file(scen, None, on_output=take)
    got = {"track_lines": n_tracks, "track_digest": digest.hexdigest(), "alerts": alerts}
    path = GOLDEN / f"{name}.json"
    if os.environ.get("SKYWARDEN_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(got, option=orjson.OPT_INDENT_2))
    assert path.exists(), f"{path} missing: run with SKYWARDEN_UPDATE_GOLDEN=1"
    want = orjson.loads(path.read_bytes())
    assert got["alerts"] == want["alerts"]
    assert (got["track_lines"], got["track_digest"]) == (
        want["track_lines"], want["track_digest"]
    )  # fmt: skip
