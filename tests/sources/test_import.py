"""``skywarden import``: every fixture becomes a scenario file that reads back cleanly."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from skywarden.cli.importer import import_
from skywarden.scenario import ScenarioReader
from skywarden.types import Detection

DATA = Path(__file__).parent.parent / "data"
RADAR = "3f1c2d4e-0001-4a00-8000-000000000001"
CAMERA = "3f1c2d4e-0002-4a00-8000-000000000002"
T0 = 1714564800.0

app = typer.Typer()
app.command()(import_)
runner = CliRunner()


def run(tmp_path: Path, *args: str) -> tuple[dict, ScenarioReader, list[Detection]]:
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = orjson.loads(res.stdout)
    reader = ScenarioReader(out, quiet=True)
    dets = [r for r in reader if isinstance(r, Detection)]
    assert reader.stats.n_rejected == 0 and reader.stats.out_of_order == 0
    assert reader.stats.warnings == []
    assert summary["decoded"] == len(dets)
    return summary, reader, dets


def test_import_sapient(tmp_path: Path) -> None:
    summary, reader, dets = run(tmp_path, "sapient", str(DATA / "sapient" / "session.bin"))
    h = reader.header
    assert set(h.sensors) == {RADAR, f"{RADAR}/pos", CAMERA}
    assert (h.sensors[RADAR].kind, h.sensors[CAMERA].kind) == ("radar", "camera")
    assert (h.site.lat, h.site.lon, h.site.alt_m) == (46.0, 14.5, 300.0)
    assert [(d.t - T0, d.range_m, d.az_deg, d.el_deg) for d in dets if d.sensor == RADAR] == [
        (1.0, 1500.0, 30.0, 5.0),
        (2.0, 1480.0, 30.5, 5.25),
        (3.0, 1500.0, math.degrees(0.5), math.degrees(0.125)),
    ]
    (pos,) = [d for d in dets if d.sensor == f"{RADAR}/pos"]
    assert (pos.lat, pos.lon, pos.alt_m) == (46.01, 14.51, 420.0)
    (cam,) = [d for d in dets if d.sensor == CAMERA]
    assert (cam.az_deg, cam.el_deg) == (120.0, 10.0)
    assert summary["n_rejected"] == 3


def test_import_asterix(tmp_path: Path) -> None:
    args = ["asterix48", str(DATA / "asterix" / "plots.ast"), "--lat", "46.0", "--lon", "14.5"]
    args += ["--alt-m", "300", "--date", "2024-05-01"]
    summary, reader, dets = run(tmp_path, *args)
    assert reader.header.sensors["asterix48"].kind == "radar"
    assert [(d.t, d.range_m, d.az_deg) for d in dets] == [
        (1714564800.0, 18520.0, 45.0),
        (1714564800.5, 37966.0, 90.0),
        (1714564802.0, 1852.0, 359.9945068359375),
    ]
    assert summary["n_rejected"] == 2  # the CAT034 north marker is ignored, not rejected
    assert summary["ignored"] == {"CAT034 service message": 1}
    _, _, dets2 = run(tmp_path, *args, "--default-alt-m", "450")
    assert [d.az_deg for d in dets2] == [45.0, 90.0, 270.0, 359.9945068359375]


@pytest.mark.parametrize(
    ("kind", "name", "extra", "times"),
    [
        ("adsb-avr", "book.avr", [], [1457996400.0, 1457996402.0]),
        ("adsb-beast", "book.beast", ["--date", "2016-03-14"], [1457913601.0, 1457913603.0]),
        # The book's own time of the odd frame (book.avr), given as the first frame's time:
        # Beast ticks then count from it, not from midnight of --date.
        (
            "adsb-beast",
            "book.beast",
            ["--start", "2016-03-14T23:00:00Z"],
            [1457996400.0 + 1.0, 1457996400.0 + 3.0],
        ),
        ("adsb-beast", "book.beast", ["--start", "1457996400"], [1457996401.0, 1457996403.0]),
    ],
)
def test_import_adsb(
    tmp_path: Path, kind: str, name: str, extra: list[str], times: list[float]
) -> None:
    pytest.importorskip("pyModeS")
    args = [kind, str(DATA / "adsb" / name), "--lat", "52.258", "--lon", "3.918", *extra]
    summary, reader, dets = run(tmp_path, *args)
    assert reader.header.sensors["adsb"].kind == "adsb"
    assert [d.t for d in dets] == times
    assert [(d.icao24, d.lat, d.lon, d.alt_m) for d in dets] == [
        ("40621d", 52.26578017412606, 3.9389125279017776, 38000 * 0.3048),
        ("40621d", 52.2572021484375, 3.91937255859375, 38000 * 0.3048),
    ]
    assert summary["rejected"] == {"adsb-crc: parity check failed": 1}


def test_import_asterix_capture_without_date(tmp_path: Path) -> None:
    from .test_asterix48 import DAY, _blocks, _udp_capture

    cap = tmp_path / "feed.pcap"
    _udp_capture(cap, [(DAY + 43210.0 + 0.1 * k, b) for k, b in enumerate(_blocks())], ng=False)
    args = ["asterix48", str(cap), "--lat", "46.0", "--lon", "14.5", "--alt-m", "300"]
    summary, _, dets = run(tmp_path, *args)
    assert [d.t for d in dets] == [1714564800.0, 1714564800.5, 1714564802.0]
    assert summary["ignored"] == {"CAT034 service message": 1}


def test_import_remoteid(tmp_path: Path) -> None:
    cap = DATA / "remoteid" / "odid_wifi_bcn_sample.pcap"
    if not cap.is_file():
        pytest.skip("Remote ID fixture not present")
    _, reader, dets = run(tmp_path, "remoteid", str(cap), "--lat", "45.55", "--lon", "-122.97")
    assert reader.header.sensors["remoteid"].kind == "remoteid"
    assert dets and {d.uas_id for d in dets} == {"MFG1A0123456789"}


def test_import_remoteid_without_basic_id_gives_anonymous_detections(tmp_path: Path) -> None:
    """The public NAN capture has no Basic ID: its Locations import as anonymous detections."""
    cap = DATA / "remoteid" / "odid_wifi_sample.pcap"
    summary, _, dets = run(tmp_path, "remoteid", str(cap), "--lat", "45.55", "--lon", "-122.97")
    assert dets and all(d.uas_id is None for d in dets)
    assert {d.id for d in dets} == {"rid-anon:84:cc:a8:60:43:24"}
    # The missing Basic ID is flagged: a non-compliant broadcast is a warning sign.
    assert summary["notes"] == [
        f"{len(dets)} Location(s) from 84:cc:a8:60:43:24 without any Basic ID (not compliant"
        " with ASTM F3411 / EN 4709-002): imported as anonymous rid-anon:84:cc:a8:60:43:24"
    ]


def test_unusable_input_exits_non_zero(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 10)
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["sapient", str(junk), "--out", str(out)])
    assert res.exit_code != 0
    res = runner.invoke(app, ["asterix48", str(DATA / "asterix" / "plots.ast"), "--out", str(out)])
    assert res.exit_code == 2  # the radar's position is required
    res = runner.invoke(app, ["adsb-avr", str(tmp_path / "missing.avr"), "--out", str(out)])
    assert res.exit_code != 0
