#!/usr/bin/env python3
"""Rebuild the real-flight corpus (data/flights/) from its original source files.

Nothing is downloaded. The originals are files from public repositories and
packages listed in docs/data-sources.md (repository, commit, path, licence and
sha256 of each); put them in one folder (``--originals``, default
``~/.cache/skywarden-corpus-originals``) under the file names of ``SOURCES`` below, then run

    python scripts/build_corpus.py [--originals DIR] [--out data/flights]

Every original is checked against its sha256 first. Each flight is written as
``<flight_id>.csv.gz`` with the columns ``t_s,lat_deg,lon_deg,alt_m`` (s from
the first sample, WGS-84 degrees, metres; ``alt_m`` empty for 2-D tracks), and
``manifest.csv`` lists every flight with its class, type, source, licence,
split (train/eval, by flight) and the sha256 of its file. The output is byte
for byte reproducible (gzip without time stamp).

Needs ``rdata`` (R data files of the bird sources): ``pip install rdata``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import io
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymap3d

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Source:
    """One original file: where it came from, its licence and how to read it."""

    id: str
    file: str
    repo: str
    commit: str
    path: str
    licence: str
    cls: str
    kind: str
    reader: str


SOURCES: tuple[Source, ...] = (
    Source(
        id="sula-rapanui",
        file="sula_GPS_raw.rda",
        repo="MiriamLL/sula",
        commit="14b2c683be683bb3282832401b94b53583d51922",
        path="data/GPS_raw.rda",
        licence="MIT",
        cls="bird",
        kind="Sula dactylatra (masked booby)",
        reader="sula",
    ),
    Source(
        id="larus-lapaz",
        file="larus_GSM_locs.RData",
        repo="MiriamLL/larus",
        commit="900397e2f9b58d090b924f05209a134099c1a438",
        path="data/GSM_locs.RData",
        licence="MIT",
        cls="bird",
        kind="Larus livens (yellow-footed gull)",
        reader="larus",
    ),
    Source(
        id="m2b-capegannet",
        file="m2b_track_CAGA_005.rdata",
        repo="ldbk/m2b",
        commit="9fc5404d1de8410953d792b817b02882a9925d5c",
        path="data/track_CAGA_005.rdata",
        licence="CC0-1.0",
        cls="bird",
        kind="Morus capensis (cape gannet)",
        reader="m2b",
    ),
    *(
        Source(
            id=f"igclib-{name.replace('_', '-')}",
            file=f"igclib_{name}.igc",
            repo="marcin-osowski/igc_lib",
            commit="14d683768e5f970abf612e978ed8ad98013d6d0d",
            path=f"testfiles/{name}.igc",
            licence="MIT",
            cls="glider",
            kind=kind,
            reader="igc",
        )
        for name, kind in (
            ("olsztyn", "sailplane (LX8000 flight recorder)"),
            ("new_zealand", "glider"),
            ("napret", "glider"),
            ("flight_with_middle_landing", "glider"),
        )
    ),
)

#: sha256 of each original, by file name (checked before anything is read).
ORIGINAL_SHA256: dict[str, str] = {
    "sula_GPS_raw.rda": "a2156b2ea7cb14a96ca1043079dedab9d39b0e9a192496319248d4be7f1293f2",
    "larus_GSM_locs.RData": "c58ecf4857fe8e3f8cbdae90f46f268ee3883086375878ad0ca2b5f45d68aa10",
    "m2b_track_CAGA_005.rdata": "008ffda9550b07c122f12c15caa81cdf54052a8cb722aa274198878567d2561e",
    "igclib_olsztyn.igc": "0063e46f8e4d1b912833fdc0a4e7e3bb18d70cb90a1f1df94675a80654ba5efa",
    "igclib_new_zealand.igc": "91a67e9283fdb6d5bdecd37250f2cbb9173f88f279881f95267310e22f3c2299",
    "igclib_napret.igc": "6f46e8550907b45e321702c79ec508112f7a31e2733ff39962bf4976fe966c13",
    "igclib_flight_with_middle_landing.igc": (
        "406ff3ce3a912bf231980ee3a5f9767affcd027cbfb66ad1491082f6442aeaca"
    ),
}

Flight = tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # id suffix, t, lat, lon, alt


def _read_rda(path: Path) -> dict:
    try:
        import rdata
    except ImportError:
        sys.exit("build_corpus: needs the 'rdata' package (pip install rdata)")
    with warnings.catch_warnings():
        # rdata warns about R classes it maps onto plain data frames.
        warnings.simplefilter("ignore")
        return rdata.read_rda(str(path))


def _dist_m(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    e, n, _ = pymap3d.geodetic2enu(lat, lon, 0.0, lat0, lon0, 0.0)
    return np.hypot(e, n)


def _split(t: np.ndarray, keep: np.ndarray, max_gap_s: float) -> Iterator[np.ndarray]:
    """Index arrays of runs where ``keep`` holds and no step exceeds ``max_gap_s``."""
    brk = np.flatnonzero(~keep | np.append(np.diff(t) > max_gap_s, False))
    start = 0
    for b in [*brk.tolist(), t.size]:
        idx = np.arange(start, b + 1 if b < t.size and keep[b] else b)
        idx = idx[keep[idx]]
        if idx.size:
            yield idx
        start = b + 1


def _trips(
    ids: np.ndarray,
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    away: Callable[[np.ndarray], np.ndarray],
    max_gap_s: float,
    min_fixes: int,
    min_range_m: float,
) -> Iterator[Flight]:
    """Trips of each individual: runs of fixes away from its colony without long gaps."""
    for ind in sorted(set(ids.tolist())):
        sel = np.flatnonzero(ids == ind)
        sel = sel[np.argsort(t[sel], kind="stable")]
        ts, la, lo = t[sel], lat[sel], lon[sel]
        ok = np.append(np.diff(ts) > 0, True)
        ts, la, lo, sub = ts[ok], la[ok], lo[ok], sel[ok]
        k = 0
        for run in _split(ts, away(sub), max_gap_s):
            if run.size < min_fixes:
                continue
            if _dist_m(la[run], lo[run], la[run[0]], lo[run[0]]).max() < min_range_m:
                continue
            k += 1
            yield f"{ind}-{k:02d}".lower(), ts[run], la[run], lo[run], np.full(run.size, np.nan)


def read_sula(path: Path) -> Iterator[Flight]:
    df = _read_rda(path)["GPS_raw"]
    stamp = (df["DateGMT"].astype(str) + " " + df["TimeGMT"].astype(str)).tolist()
    t = np.array(
        [
            dt.datetime.strptime(s, "%d/%m/%Y %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()
            for s in stamp
        ]
    )
    lat, lon = df["Latitude"].to_numpy(float), df["Longitude"].to_numpy(float)
    ids = df["IDs"].astype(str).to_numpy()
    # The colony: each bird's first fix; a trip is a run of fixes more than 1 km from it.
    first = {i: np.flatnonzero(ids == i)[0] for i in set(ids.tolist())}
    far = np.array(
        [_dist_m(lat[j], lon[j], lat[first[i]], lon[first[i]]) for j, i in enumerate(ids)]
    )

    def away(idx: np.ndarray) -> np.ndarray:
        return far[idx] > 1_000.0

    yield from _trips(ids, t, lat, lon, away, 30 * 60.0, 10, 3_000.0)


def read_larus(path: Path) -> Iterator[Flight]:
    df = _read_rda(path)["GSM_locs"]
    t = df["daytime"].to_numpy(float)
    lat, lon = df["Latitude"].to_numpy(float), df["Longitude"].to_numpy(float)
    ids = df["ID"].astype(str).to_numpy()
    outside = (df["central_base"].astype(str) != "inside_colony").to_numpy()
    good = np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)

    def away(idx: np.ndarray) -> np.ndarray:
        return outside[idx]

    yield from _trips(
        ids[good],
        t[good],
        lat[good],
        lon[good],
        lambda i: away(np.flatnonzero(good)[i]),
        90 * 60.0,
        6,
        5_000.0,
    )


def read_m2b(path: Path) -> Iterator[Flight]:
    df = _read_rda(path)["track_CAGA_005"]
    t = df["t"].to_numpy(float)
    lat, lon = df["y"].to_numpy(float), df["x"].to_numpy(float)
    flying = (df["b"].astype(str) == "3").to_numpy()
    # Flight bouts (observed on video) of at least 2 minutes at 5 s steps.
    k = 0
    for run in _split(t, flying, 30.0):
        if run.size < 24:
            continue
        k += 1
        yield f"bout-{k:02d}", t[run], lat[run], lon[run], np.full(run.size, np.nan)


def _igc_coord(s: str, deg_digits: int) -> float:
    deg = int(s[:deg_digits])
    minutes = int(s[deg_digits : deg_digits + 5]) / 1000.0
    v = deg + minutes / 60.0
    return -v if s[-1] in "SW" else v


def read_igc(path: Path) -> Iterator[Flight]:
    text = path.read_text(encoding="latin-1")
    date = None
    t, lat, lon, alt = [], [], [], []
    day = 0
    last = -1.0
    for line in text.splitlines():
        if line.startswith("HFDTE"):
            digits = "".join(ch for ch in line[5:] if ch.isdigit())[:6]
            date = dt.datetime.strptime(digits, "%d%m%y").replace(tzinfo=dt.UTC)
        elif line.startswith("B") and len(line) >= 35 and line[24] == "A":
            sod = int(line[1:3]) * 3600 + int(line[3:5]) * 60 + int(line[5:7])
            if last >= 0 and sod + day < last - 3600:
                day += 86_400  # past midnight UTC
            ts = sod + day
            if ts <= last:
                continue
            last = ts
            p_alt, g_alt = int(line[25:30]), int(line[30:35])
            t.append(ts)
            lat.append(_igc_coord(line[7:15], 2))
            lon.append(_igc_coord(line[15:24], 3))
            alt.append(g_alt if g_alt != 0 else p_alt)
    if date is None or len(t) < 2:
        return
    ta = np.asarray(t, float) + date.timestamp()
    la, lo, al = np.asarray(lat), np.asarray(lon), np.asarray(alt, float)
    e, n, _ = pymap3d.geodetic2enu(la, lo, 0.0, la[0], lo[0], 0.0)
    speed = np.hypot(np.diff(e), np.diff(n)) / np.diff(ta)
    # Airborne part only: from the first to the last step faster than 8 m/s.
    fast = np.flatnonzero(speed > 8.0)
    if fast.size < 2:
        return
    sl = slice(int(fast[0]), int(fast[-1]) + 2)
    yield "flight", ta[sl], la[sl], lo[sl], al[sl]


READERS: dict[str, Callable[[Path], Iterator[Flight]]] = {
    "sula": read_sula,
    "larus": read_larus,
    "m2b": read_m2b,
    "igc": read_igc,
}
#: At most this many flights per source (keeps the committed corpus small).
MAX_PER_SOURCE = 40


def _round_robin(flights: list[Flight]) -> list[Flight]:
    """Flights ordered so that a cap takes some of every individual (``<individual>-<nn>``)."""
    rank: dict[str, int] = {}
    keyed = []
    for f in flights:
        ind = f[0].rsplit("-", 1)[0]
        rank[ind] = rank.get(ind, 0) + 1
        keyed.append((rank[ind], f[0]))
    order = sorted(range(len(flights)), key=lambda i: keyed[i])
    return [flights[i] for i in order]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flight_bytes(t: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> bytes:
    """A flight as gzipped CSV, reproducible byte for byte."""
    buf = io.StringIO()
    buf.write("t_s,lat_deg,lon_deg,alt_m\n")
    t0 = t[0]
    for ti, la, lo, al in zip(t.tolist(), lat.tolist(), lon.tolist(), alt.tolist(), strict=True):
        a = "" if al != al else f"{al:.1f}"
        buf.write(f"{ti - t0:.3f},{la:.7f},{lo:.7f},{a}\n")
    return gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0)


def split_of(i: int, n: int) -> str:
    """Every fourth flight of a class (in source order) is held out for evaluation."""
    if n < 2:
        return "train"
    return "eval" if i % 4 == 3 or (n < 4 and i == n - 1) else "train"


def build(originals: Path, out: Path) -> list[dict[str, str]]:
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for src in SOURCES:
        path = originals / src.file
        if not path.is_file():
            sys.exit(f"build_corpus: missing original {path} ({src.repo}@{src.commit}:{src.path})")
        want = ORIGINAL_SHA256[src.file]
        got = sha256_file(path)
        if got != want:
            sys.exit(f"build_corpus: {path}: sha256 {got} is not the recorded {want}")
        flights = _round_robin(list(READERS[src.reader](path)))[:MAX_PER_SOURCE]
        for suffix, t, lat, lon, alt in flights:
            fid = f"{src.id}-{suffix}"
            data = flight_bytes(t, lat, lon, alt)
            (out / f"{fid}.csv.gz").write_bytes(data)
            rows.append(
                {
                    "flight_id": fid,
                    "file": f"{fid}.csv.gz",
                    "class": src.cls,
                    "type": src.kind,
                    "source": src.id,
                    "licence": src.licence,
                    "split": "",
                    "n_points": str(t.size),
                    "duration_s": f"{t[-1] - t[0]:.0f}",
                    "median_dt_s": f"{float(np.median(np.diff(t))):.1f}",
                    "has_alt": "yes" if np.isfinite(alt).all() else "no",
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    for cls in {r["class"] for r in rows}:
        mine = [r for r in rows if r["class"] == cls]
        for i, r in enumerate(mine):
            r["split"] = split_of(i, len(mine))
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return rows


SCENARIO_DURATION_S = 1200.0
SITE = {"name": "Real-flight test site", "lat": 53.9, "lon": 8.7, "alt_m": 10.0}
ZONES = [
    {
        "id": "Z1",
        "name": "Main site",
        "circle": {"east_m": 0.0, "north_m": 0.0, "radius_m": 400.0},
        "floor_m": 10.0,
        "ceiling_m": 610.0,
        "priority": 1,
    },
    {
        "id": "Z2",
        "name": "Fuel depot",
        "circle": {"east_m": 2500.0, "north_m": 1500.0, "radius_m": 300.0},
        "floor_m": 10.0,
        "ceiling_m": 410.0,
        "priority": 2,
    },
]
ZONE_CENTRES = {"Z1": (0.0, 0.0), "Z2": (2500.0, 1500.0)}
# The setup: radar with range/azimuth/elevation only, RF direction
# finders that hear only emitting drones, a camera, cooperative receivers.
SENSORS = [
    {
        "id": "radar-1",
        "kind": "radar",
        "pos_enu_m": [0.0, 0.0, 20.0],
        "max_range_m": 12000.0,
        "ref_range_m": 6000.0,
        "pd": 0.9,
        "pfa": 1.0e-6,
        "update_s": 1.0,
        "fov": {"az_min_deg": 0.0, "az_max_deg": 360.0, "el_min_deg": -1.0, "el_max_deg": 60.0},
        "clutter_per_scan": 2.0,
        "report_range_rate": False,
        "report_rcs": False,
    },
    {"id": "rf-1", "kind": "rf", "pos_enu_m": [100.0, -50.0, 10.0], "max_range_m": 6000.0},
    {"id": "rf-2", "kind": "rf", "pos_enu_m": [-1500.0, 800.0, 10.0], "max_range_m": 6000.0},
    {
        "id": "cam-1",
        "kind": "camera",
        "pos_enu_m": [0.0, 50.0, 15.0],
        "max_range_m": 4000.0,
        "update_s": 0.5,
        "pd": 0.8,
    },
    {"id": "adsb-1", "kind": "adsb", "pos_enu_m": [0.0, 0.0, 10.0], "max_range_m": 80000.0},
    {"id": "rid-1", "kind": "remoteid", "pos_enu_m": [0.0, 0.0, 10.0], "max_range_m": 3000.0},
]
#: Objects per scenario by corpus class (at most; fewer when the split has fewer flights).
PER_SCENARIO = {"bird": 12, "glider": 2}
N_SCENARIOS = {"train": 6, "eval": 3}


def _launch(rng: np.random.Generator, duration_s: float) -> float:
    """Scenario time of the log's start: a long log is already under way at the start."""
    if duration_s > SCENARIO_DURATION_S:
        return -float(round(rng.uniform(0.0, duration_s - SCENARIO_DURATION_S)))
    return float(round(rng.uniform(0.0, SCENARIO_DURATION_S - duration_s)))


def _bird(rng: np.random.Generator, row: dict[str, str], track: str) -> dict:
    dt_fix = float(row["median_dt_s"])
    obj = {
        "kind": "recorded",
        "track": track,
        "truth_class": "bird",
        "alt_mode": "constant",
        "agl_m": float(round(rng.uniform(15.0, 200.0))),
        "max_gap_s": float(max(10.0, round(3.0 * dt_fix))),
        "launch_s": _launch(rng, float(row["duration_s"])),
    }
    if rng.random() < 0.5:
        # Near and across a zone: the track's centre on the zone, any heading.
        obj["aim_zone"] = str(rng.choice(list(ZONE_CENTRES)))
        obj["anchor"] = "centroid"
        obj["east_m"], obj["north_m"] = (float(round(v)) for v in rng.uniform(-800, 800, 2))
    else:
        obj["anchor"] = "centroid"
        obj["east_m"], obj["north_m"] = (float(round(v)) for v in rng.uniform(-5000, 5000, 2))
    obj["rotate_deg"] = float(round(rng.uniform(0.0, 360.0)))
    return obj


def _glider(rng: np.random.Generator, row: dict[str, str], track: str) -> dict:
    a = rng.uniform(0.0, 2.0 * np.pi)
    r = rng.uniform(3000.0, 8000.0)
    return {
        "kind": "recorded",
        "track": track,
        "truth_class": "aircraft",
        "anchor": "centroid",
        "east_m": float(round(r * np.sin(a))),
        "north_m": float(round(r * np.cos(a))),
        "rotate_deg": float(round(rng.uniform(0.0, 360.0))),
        "alt_mode": "lowest",
        "agl_m": 0.0,
        "max_gap_s": 30.0,
        "launch_s": _launch(rng, float(row["duration_s"])),
        "adsb": bool(rng.random() < 0.5),
    }


MAKERS = {"bird": _bird, "glider": _glider}


def write_scenarios(flights: Path, out: Path) -> list[Path]:
    """Scenario specs per split from the corpus manifest, each using only flights of its split."""
    import yaml

    with (flights / "manifest.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    written = []
    for split, n in N_SCENARIOS.items():
        d = out / split
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.yaml"):
            old.unlink()
        for k in range(n):
            rng = np.random.default_rng([17, k, 0 if split == "train" else 1])
            objects = []
            for cls, per in PER_SCENARIO.items():
                pool = [r for r in rows if r["split"] == split and r["class"] == cls]
                if not pool:
                    continue
                pick = rng.choice(len(pool), size=min(per, len(pool)), replace=False)
                for i in sorted(pick.tolist()):
                    rel = Path("..") / ".." / ".." / "data" / "flights" / pool[i]["file"]
                    objects.append(MAKERS[cls](rng, pool[i], rel.as_posix()))
            name = f"real-{split}-{k + 1:02d}"
            spec = {
                "name": name,
                "description": (
                    f"Recorded real flights of the {split} split relocated to one site "
                    "(generated by scripts/build_corpus.py --scenarios)."
                ),
                "duration_s": SCENARIO_DURATION_S,
                "site": SITE,
                "zones": ZONES,
                "sensors": SENSORS,
                "objects": objects,
            }
            path = d / f"{name}.yaml"
            path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--originals", type=Path, default=Path.home() / ".cache" / "skywarden-corpus-originals"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "flights")
    ap.add_argument("--hashes", action="store_true", help="print the originals' sha256 and exit")
    ap.add_argument(
        "--scenarios",
        action="store_true",
        help="only (re)write scenarios/real/{train,eval}/*.yaml from the corpus manifest",
    )
    a = ap.parse_args()
    if a.scenarios:
        paths = write_scenarios(a.out, ROOT / "scenarios" / "real")
        print(f"{len(paths)} scenario specs")
        return
    if a.hashes:
        for src in SOURCES:
            print(f"{src.file}  {sha256_file(a.originals / src.file)}")
        return
    rows = build(a.originals, a.out)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["class"]] = counts.get(r["class"], 0) + 1
    print(f"{len(rows)} flights: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
