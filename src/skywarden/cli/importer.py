"""``skywarden import KIND FILE --out scenario.jsonl``: recorded sensor data -> a scenario file."""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..scenario import ScenarioWriter
from ..types import Detection, Rejected, Sensor, Site
from ._common import atomic_output, console, fail, iso, print_json


class ImportKind(enum.StrEnum):
    sapient = "sapient"
    asterix48 = "asterix48"
    remoteid = "remoteid"
    adsb_avr = "adsb-avr"
    adsb_beast = "adsb-beast"
    dji_droneid = "dji-droneid"


_KIND_OF = {
    ImportKind.asterix48: "radar",
    ImportKind.remoteid: "remoteid",
    ImportKind.adsb_avr: "adsb",
    ImportKind.adsb_beast: "adsb",
    ImportKind.dji_droneid: "remoteid",
}


@dataclass
class _Result:
    sensors: dict[str, Sensor] = field(default_factory=dict)
    detections: list[Detection] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def take(self, items: Iterable[Detection | Rejected]) -> None:
        for it in items:
            if isinstance(it, Rejected):
                self.rejected[it.reason] += 1
            else:
                self.detections.append(it)


def _position(
    lat: float | None, lon: float | None, alt_m: float | None, kind: str
) -> tuple[float, float, float]:
    if lat is None or lon is None:
        fail(f"{kind} needs the receiver's position: give --lat and --lon (and --alt-m)", 2)
    return lat, lon, 0.0 if alt_m is None else alt_m


def _check_position(
    lat: float | None, lon: float | None, alt_m: float | None, default_alt_m: float | None
) -> None:
    """Geodetic options in range (the same ranges as scenario lines)."""
    for flag, v, lo, hi in (
        ("--lat", lat, -90.0, 90.0),
        ("--lon", lon, -180.0, 180.0),
        ("--alt-m", alt_m, -1_000.0, 100_000.0),
        ("--default-alt-m", default_alt_m, -1_000.0, 100_000.0),
    ):
        if v is not None and not lo <= v <= hi:
            fail(f"{flag} must be within {lo:g}..{hi:g}, not {v}", 2)


def _day_start(date: str | None, kind: str, required: bool) -> float:
    from ..sources.asterix48 import day_start_s

    if date is None:
        if required:
            fail(f"{kind} times are relative to a day: give --date YYYY-MM-DD (UTC)", 2)
        return 0.0
    try:
        return day_start_s(dt.date.fromisoformat(date))
    except ValueError:
        fail(f"--date must be YYYY-MM-DD, not {date!r}", 2)


def _start_time(text: str) -> float:
    """``--start`` as POSIX seconds: a number, or an ISO 8601 time (UTC unless it says otherwise)."""
    try:
        t = float(text)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--start must be an ISO 8601 time or POSIX seconds, not {text!r}", 2)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        t = when.timestamp()
    if not 0.0 <= t <= 1.0e11:
        fail(f"--start {text!r} is out of range", 2)
    return t


def _sapient(file: Path, res: _Result) -> None:
    from ..sources import sapient

    for out in sapient.read_file(file):
        if isinstance(out, sapient.SapientReport):
            res.detections.append(out.detection)
        elif isinstance(out, Sensor):
            known = res.sensors.get(out.id)
            if known is None:
                res.sensors[out.id] = out
            elif known != out:
                res.notes.append(f"sensor {out.id} moved; its first position is kept")
        elif isinstance(out, Rejected):
            res.rejected[out.reason] += 1


def import_(
    kind: Annotated[ImportKind, typer.Argument(help="Input format.", case_sensitive=False)],
    file: Annotated[Path, typer.Argument(help="Recorded input file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scenario file to write (JSON Lines).")],
    sensor_id: Annotated[
        str | None,
        typer.Option(
            help="Sensor id (default: asterix48, remoteid, dji-droneid or adsb; SAPIENT uses node ids)."
        ),
    ] = None,
    lat: Annotated[float | None, typer.Option(help="Sensor/site latitude, degrees.")] = None,
    lon: Annotated[float | None, typer.Option(help="Sensor/site longitude, degrees.")] = None,
    alt_m: Annotated[
        float | None,
        typer.Option("--alt-m", help="Sensor/site altitude above the WGS-84 ellipsoid, m."),
    ] = None,
    date: Annotated[
        str | None, typer.Option(help="UTC day (YYYY-MM-DD) for time-of-day or relative times.")
    ] = None,
    default_alt_m: Annotated[
        float | None,
        typer.Option(
            "--default-alt-m",
            help="asterix48: assumed target altitude (m, ellipsoid) for plots without Mode C; "
            "without it such plots are rejected.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="adsb-beast/adsb-avr: UTC time of the first frame (ISO 8601, or POSIX seconds); "
            "Beast ticks count from it. Default: midnight of --date.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON.")] = False,
) -> None:
    """Import recorded SAPIENT, ASTERIX CAT048, Remote ID, DJI DroneID or ADS-B data as a scenario file."""
    if not file.is_file():
        fail(f"no such file: {file}")
    _check_position(lat, lon, alt_m, default_alt_m)
    if sensor_id is not None and not 1 <= len(sensor_id) <= 128:
        fail(f"--sensor-id must be 1 to 128 characters, not {len(sensor_id)}", 2)
    sid = sensor_id or ("adsb" if _KIND_OF.get(kind) == "adsb" else kind.value)
    res = _Result()
    site_pos: tuple[float, float, float] | None = None
    if lat is not None and lon is not None:
        site_pos = (lat, lon, 0.0 if alt_m is None else alt_m)
    try:
        if kind is ImportKind.sapient:
            _sapient(file, res)
        else:
            pos = _position(lat, lon, alt_m, kind.value)
            sensor = Sensor(id=sid, kind=_KIND_OF[kind], lat=pos[0], lon=pos[1], alt_m=pos[2])  # type: ignore[arg-type]
            res.sensors[sid] = sensor
            if kind is ImportKind.asterix48:
                from ..sources import asterix48, pcap

                capture = pcap.is_capture(file)
                if capture and date is not None:
                    res.notes.append("a capture is timed by its own timestamps; --date not used")
                day = None if capture else _day_start(date, kind.value, required=True)
                res.take(
                    asterix48.read_file(
                        file, sensor=sensor, ref_day_start_s=day, default_alt_m=default_alt_m,
                        ignored=res.ignored,
                    )
                )  # fmt: skip
            elif kind is ImportKind.remoteid:
                from ..sources import remoteid

                asm = remoteid.RemoteIdAssembler(sid)
                res.take(remoteid.read_file(file, sensor_id=sid, assembler=asm))
                res.ignored.update(asm.droneid.ignored)
                # A broadcast without a Basic ID is itself a warning sign: say so.
                for address, n in sorted(asm.anonymous.items()):
                    res.notes.append(
                        f"{n} Location(s) from {address} without any Basic ID (not compliant"
                        f" with ASTM F3411 / EN 4709-002): imported as anonymous rid-anon:{address}"
                    )
            elif kind is ImportKind.dji_droneid:
                from ..sources import droneid

                dji = droneid.DroneIdDecoder(sid)
                res.take(droneid.read_file(file, decoder=dji))
                res.ignored.update(dji.ignored)
            else:
                from ..sources import adsb

                try:
                    dec = adsb.AdsbDecoder(sid, pos[0], pos[1])
                except adsb.AdsbUnavailable as e:
                    fail(str(e))
                if start is not None:
                    t0 = _start_time(start)
                else:
                    t0 = _day_start(date, kind.value, required=kind is ImportKind.adsb_beast)
                reader = adsb.read_avr if kind is ImportKind.adsb_avr else adsb.read_beast
                res.take(reader(file, decoder=dec, t0_s=t0))
                res.ignored.update(dec.ignored)
    except (OSError, ValueError) as e:
        fail(f"cannot read {file}: {e}")
    if not res.detections:
        top = "; ".join(f"{n} × {r}" for r, n in res.rejected.most_common(3))
        fail(
            f"no usable {kind.value} data in {file} ({sum(res.rejected.values())} rejected"
            + (f": {top})" if top else ")")
        )
    res.detections.sort(key=lambda d: d.t)
    if site_pos is None:
        first = next(iter(res.sensors.values()), None)
        if first is None:
            fail("no sensor position known: give --lat, --lon and --alt-m for the site", 2)
        site_pos = (first.lat, first.lon, first.alt_m)
    site = Site(name=file.stem or "import", lat=site_pos[0], lon=site_pos[1], alt_m=site_pos[2])
    with atomic_output(out, file) as tmp, ScenarioWriter(tmp) as w:
        w.write(site)
        w.write_all(res.sensors.values())
        w.write_all(res.detections)
    _report(kind, file, out, res, json_out)


def _report(kind: ImportKind, file: Path, out: Path, res: _Result, json_out: bool) -> None:
    t0, t1 = res.detections[0].t, res.detections[-1].t
    if json_out:
        print_json(
            {
                "kind": kind.value,
                "file": str(file),
                "out": str(out),
                "decoded": len(res.detections),
                "sensors": sorted(res.sensors),
                "rejected": dict(res.rejected.most_common()),
                "n_rejected": sum(res.rejected.values()),
                "ignored": dict(res.ignored.most_common()),
                "t_start": t0,
                "t_end": t1,
                "notes": sorted(set(res.notes)),
            }
        )
        return
    t = Table(title=escape(f"{file} ({kind.value}) → {out}"))
    t.add_column("")
    t.add_column("count", justify="right")
    t.add_row("decoded detections", str(len(res.detections)))
    t.add_row("sensors", str(len(res.sensors)))
    for reason, n in res.rejected.most_common():
        t.add_row(f"[red]rejected[/]: {escape(reason)}", str(n))
    for what, n in res.ignored.most_common():
        t.add_row(f"[dim]ignored[/]: {escape(what)}", str(n))
    console.print(t)
    console.print(f"time span: {iso(t0)} → {iso(t1)}")
    for note in sorted(set(res.notes)):
        console.print(f"[yellow]note:[/] {escape(note)}")
