"""ASTERIX CAT048 in and CAT062 out agree with asterix-decoder (Croatia Control's C++ decoder).

asterix-decoder (GPL, PyPI, in the ``dev`` extra) has its own XML category
definitions (CAT048 1.21, CAT062 1.18) and shares no code with skywarden's
CAT048 parser or with libasterix, which encodes skywarden's CAT062.

Packaging note: asterix-decoder and libasterix both install a top-level
``asterix`` package, and whichever installs last owns ``asterix/__init__.py``.
The tests therefore use asterix-decoder's C extension ``_asterix`` directly and
load its category files from its own distribution record, which works in either
install order (libasterix only ever imports ``asterix.generated``).

- CAT048 in: the sample capture asterix-decoder ships (``cat_034_048.pcap``,
  Croatia Control, GPL; read from the installed package, not copied here) and
  our own fixture ``tests/data/asterix/plots.ast``: every CAT048 record must
  give the same SAC/SIC, time of day, TYP/SIM/RAB, rho, theta, Mode 3/A with its
  validity, flight level with its validity and Mode S address.
- CAT062 out: the records ``sinks/asterix62.py`` encodes for every scan of a
  simulated scenario run through the tracker, decoded by asterix-decoder and
  compared with the tracks within each item's resolution.
"""

from __future__ import annotations

import importlib.metadata as md
from collections import Counter
from pathlib import Path

import dpkt
import pytest

_asterix = pytest.importorskip("_asterix")

from skywarden.geodesy import LocalFrame  # noqa: E402
from skywarden.runner import run_file  # noqa: E402
from skywarden.scenario import ScenarioReader  # noqa: E402
from skywarden.sim import load_spec, simulate_to_file  # noqa: E402
from skywarden.sinks.asterix62 import Cat062Encoder, track_number  # noqa: E402
from skywarden.sinks.config import Asterix62Config  # noqa: E402
from skywarden.sources import asterix48  # noqa: E402
from skywarden.types import Detection, ScanOutput, Sensor  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "data" / "asterix" / "plots.ast"
FT = 0.3048


def _dist_file(name: str) -> Path:
    for f in md.files("asterix-decoder") or ():
        if str(f).endswith(name):
            return Path(f.locate())
    raise FileNotFoundError(name)


@pytest.fixture(scope="module", autouse=True)
def _categories() -> None:
    for f in md.files("asterix-decoder") or ():
        s = str(f)
        if s.startswith("asterix/config/asterix_") and s.endswith(".xml"):
            _asterix.init(str(f.locate()))


def _val(rec: dict, item: str, field: str):
    return rec[item][field]["val"]


def _compare_cat048(payload: bytes) -> int:
    """Records compared (asserting every field agrees)."""
    ref = [r for r in _asterix.parse(payload, False) if r["category"] == 48]
    ours = [p for p in asterix48.decode_plots(payload, Counter()) if isinstance(p, asterix48.Plot)]
    assert len(ours) == len(ref)
    for p, r in zip(ours, ref, strict=True):
        assert (p.sac, p.sic) == (_val(r, "I010", "SAC"), _val(r, "I010", "SIC"))
        assert p.tod_s == _val(r, "I140", "ToD")
        assert p.typ == _val(r, "I020", "TYP")
        assert p.sim == bool(_val(r, "I020", "SIM"))
        assert p.rab == bool(_val(r, "I020", "RAB"))
        if "I040" in r:
            assert p.rho_m == pytest.approx(_val(r, "I040", "RHO") * 1852.0, abs=1e-9)
            assert p.theta_deg == pytest.approx(_val(r, "I040", "THETA"), abs=1e-12)
        else:
            assert p.rho_m is None and p.theta_deg is None
        if "I070" in r:
            assert p.mode3a == _val(r, "I070", "Mode3A")
            assert p.mode3a_ok == (_val(r, "I070", "V") == 0)
        else:
            assert p.mode3a is None
        if "I090" in r:
            assert p.fl == _val(r, "I090", "FL")
            assert p.fl_ok == (_val(r, "I090", "V") == 0)
        else:
            assert p.fl is None
        if "I220" in r:
            assert p.icao24 == _val(r, "I220", "ACAddr").lower()
        else:
            assert p.icao24 is None
    return len(ref)


def test_cat048_sample_capture_agrees_record_by_record():
    cap = _dist_file("sample_data/cat_034_048.pcap")
    n = 0
    with cap.open("rb") as fh:
        for _t, buf in dpkt.pcap.Reader(fh):
            n += _compare_cat048(bytes(dpkt.ethernet.Ethernet(buf).data.data.data))
    assert n == 128  # every CAT048 record of the capture


def test_cat048_import_of_the_sample_capture_uses_the_same_values():
    cap = _dist_file("sample_data/cat_034_048.pcap")
    radar = Sensor(id="r", kind="radar", lat=45.0, lon=16.0, alt_m=100.0)
    ignored: Counter[str] = Counter()
    out = list(asterix48.read_file(cap, sensor=radar, ref_day_start_s=None, ignored=ignored))
    dets = [d for d in out if isinstance(d, Detection)]
    ref = []
    with cap.open("rb") as fh:
        for t, buf in dpkt.pcap.Reader(fh):
            payload = bytes(dpkt.ethernet.Ethernet(buf).data.data.data)
            ref += [(t, r) for r in _asterix.parse(payload, False) if r["category"] == 48]
    # Plots without a validated Mode C (or simulated/test ones) are rejected with a reason.
    usable = [
        (t, r)
        for t, r in ref
        if "I090" in r and _val(r, "I090", "V") == 0 and not _val(r, "I020", "SIM")
    ]
    assert len(dets) == len(usable) == 126
    assert ignored["CAT034 service message"] == 34
    for d, (t, r) in zip(dets, usable, strict=True):
        day = t - t % 86_400.0
        assert d.t == pytest.approx(day + _val(r, "I140", "ToD"), abs=1e-6)
        assert d.range_m == pytest.approx(_val(r, "I040", "RHO") * 1852.0, abs=1e-9)
        assert d.az_deg == pytest.approx(_val(r, "I040", "THETA"), abs=1e-12)


def test_cat048_own_fixture_agrees():
    assert _compare_cat048(FIXTURE.read_bytes()) == 5


def _scan_outputs(tmp_path: Path) -> tuple[list[ScanOutput], LocalFrame]:
    scen = tmp_path / "s.jsonl"
    simulate_to_file(load_spec("single-drone"), scen, seed=4, duration_s=90)
    site = ScenarioReader(scen).header.site
    outputs: list[ScanOutput] = []
    run_file(scen, None, on_output=outputs.append)
    return outputs, LocalFrame(site.lat, site.lon, site.alt_m)


def test_cat062_output_decodes_to_the_track_values(tmp_path: Path):
    outputs, fr = _scan_outputs(tmp_path)
    cfg = Asterix62Config(
        host="127.0.0.1", port=9, sac=25, sic=7, service_id=3, flight_level_from_alt=True
    )
    enc = Cat062Encoder(cfg, fr)
    seen: set[str] = set()
    n = 0
    for o in outputs:
        if not o.tracks:
            continue
        recs = [r for g in enc.datagrams(o.tracks) for r in _asterix.parse(g, False)]
        assert len(recs) == len(o.tracks)
        for tr, r in zip(o.tracks, recs, strict=True):
            assert r["category"] == 62
            assert (_val(r, "I010", "SAC"), _val(r, "I010", "SIC")) == (25, 7)
            assert _val(r, "I015", "SID") == 3
            assert _val(r, "I040", "TrkN") == track_number(tr.id)
            assert _val(r, "I070", "ToT") == pytest.approx(tr.t % 86_400.0, abs=1 / 128)
            assert _val(r, "I105", "Lat") == pytest.approx(tr.lat, abs=180.0 / 2**25)
            assert _val(r, "I105", "Lon") == pytest.approx(tr.lon, abs=180.0 / 2**25)
            e, nn, _ = fr.to_enu(tr.lat, tr.lon, tr.alt_m)
            assert _val(r, "I100", "X") == pytest.approx(e, abs=0.5)
            assert _val(r, "I100", "Y") == pytest.approx(nn, abs=0.5)
            assert _val(r, "I185", "Vx") == pytest.approx(tr.vel_enu_mps[0], abs=0.25)
            assert _val(r, "I185", "Vy") == pytest.approx(tr.vel_enu_mps[1], abs=0.25)
            # asterix-decoder gives I062/130 and I062/136 in feet.
            assert _val(r, "I130", "Alt") == pytest.approx(tr.alt_m / FT, abs=6.25)
            assert _val(r, "I136", "MFL") == pytest.approx(tr.alt_m / FT, abs=25.0)
            assert _val(r, "I080", "CNF") == (tr.status == "tentative")
            assert _val(r, "I080", "CST") == (tr.status == "coasting")
            assert _val(r, "I080", "TSE") == (tr.status == "deleted")
            assert _val(r, "I080", "TSB") == (tr.id not in seen)
            assert _val(r, "I080", "SRC") == (1 if tr.identity else 2)
            assert _val(r, "I080", "MRH") == 1
            seen.add(tr.id)
            if tr.status == "deleted":
                seen.discard(tr.id)
            n += 1
    statuses = Counter(tr.status for o in outputs for tr in o.tracks)
    # Tentative tracks are not output; every status that is, is covered.
    assert n > 1000 and min(statuses[s] for s in ("confirmed", "coasting", "deleted")) > 0
