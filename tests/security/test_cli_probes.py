"""Bad-input probes over every command: no traceback, a non-zero exit for every failure,
and never a silent success (exit 0 with no or empty output).

Each probe runs the real command line in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import skywarden
from skywarden.cli import main

SRC = str(Path(skywarden.__file__).resolve().parents[1])
DATA = Path(__file__).parents[1] / "data"
SITE_YAML = "site: {name: s, lat: 51, lon: 1, alt_m: 0}\nserver: {port: PORT}\n"
#: Site configurations each with one bad value (appended to SITE_YAML).
SITE_CONFIGS = {
    "queue0": "sources: {queue_size: 0}\n",
    "queue-neg": "sources: {queue_size: -5}\n",
    "retention-neg": "store: {retention_s: -1}\n",
    "reorder-huge": "engine: {reorder_window_s: 1.0e9}\n",
    "horizon-neg": "threat: {warning_horizon_s: -1}\n",
    "horizon-inf": "threat: {critical_horizon_s: .inf}\n",
    "dup-sensor": (
        "sensors:\n  - {id: r, kind: rf, lat: 51, lon: 1, alt_m: 0, sigma_az_deg: 1}\n"
        "  - {id: r, kind: rf, lat: 51, lon: 1, alt_m: 0, sigma_az_deg: 1}\n"
    ),
    "dup-zone": (
        "zones:\n"
        "  - {id: Z, name: z, floor_m: 0, ceiling_m: 9, polygon: [[1, 51], [1.01, 51], [1, 51.01]]}\n"
        "  - {id: Z, name: z, floor_m: 0, ceiling_m: 9, polygon: [[1, 51], [1.01, 51], [1, 51.01]]}\n"
    ),
    "sensor-lat": "sensors: [{id: r, kind: rf, lat: 95, lon: 1, alt_m: 0, sigma_az_deg: 1}]\n",
    "sensor-kind": "sensors: [{id: r, kind: laser, lat: 51, lon: 1, alt_m: 0}]\n",
    "zone-2pt": "zones: [{id: Z, name: z, floor_m: 0, ceiling_m: 9, polygon: [[1, 51], [1.01, 51]]}]\n",
    "zone-ceiling": (
        "zones: [{id: Z, name: z, floor_m: 90, ceiling_m: 9, polygon: [[1, 51], [1.01, 51], [1, 51.01]]}]\n"
    ),
    "unknown-key": "bogus: 1\n",
    "unknown-nested": "tracker: {bogus: 1}\n",
    "port-70000": "sources: {jsonl_tcp_port: 70000}\n",
    "sapient-cap0": "sources: {sapient_port: 0, sapient: {max_connections: 0}}\n",
    "sapient-idle-nan": "sources: {sapient_port: 0, sapient: {idle_timeout_s: .nan}}\n",
    "jsonl-idle0": "sources: {jsonl_tcp: {idle_timeout_s: 0}}\n",
    "jsonl-line": "sources: {jsonl_tcp: {max_line_bytes: 10}}\n",
    "jsonl-rate": "sources: {jsonl_udp: {max_lines_per_s: -1}}\n",
    "udp-secret": "sources: {jsonl_udp: {secret_env: SOME_VAR}}\n",
    "secret-unset": "sources: {jsonl_tcp: {secret_env: SKYWARDEN_PROBE_UNSET}}\n",
    "tls-missing": "sources: {jsonl_tcp: {tls_cert_file: nope.pem, tls_key_file: nope.key}}\n",
    "tls-half": "sources: {jsonl_tcp: {tls_cert_file: nope.pem}}\n",
    "replay-missing": "sources: {replay: no-such-file.jsonl}\n",
    "replay-speed0": "sources: {replay: s.jsonl, replay_speed: 0}\n",
    "geojson-missing": "zones_geojson: no-such.geojson\n",
    "geojson-garbage": "zones_geojson: zones-garbage.geojson\n",
    "store-dir": "store: {path: adir}\n",
    "store-nodir": "store: {path: nodir/x.db}\n",
    "store-garbage": "store: {path: store-garbage.db}\n",
    "webhook-scheme": "sinks: {webhooks: [{url: 'ftp://x/y'}]}\n",
    "tak-url": "sinks: {tak: [{url: 'nonsense'}]}\n",
    "web-body": "web: {max_body_bytes: -1}\n",
    "server-port0": "server: {port: 0}\n",
    "types": "site: {name: s, lat: north, lon: 1, alt_m: 0}\n",
}
DEEP = b'{"a":' * 1200 + b"1" + b"}" * 1200
BAD_ZONE = (
    b'{"type":"zone","id":"Z","name":"z","floor_m":0,"ceiling_m":100,'
    b'"polygon":[[1,51],[1.01,51.01],[1.01,51],[1,51.01]]}'
)


def sw(*args: str, cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from skywarden.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: A port nothing listens on: a serve or demo probe that is wrongly accepted starts there.
FREE = str(_free_port())


def _hung(signum: int, frame: object) -> None:
    # As Ctrl-C would: a command that serves stops cleanly (exit 0, a failed probe).
    signal.raise_signal(signal.SIGINT)


def sw_here(args: list[str], cwd: Path, capfd, monkeypatch) -> tuple[int, str, str]:
    """The same entry point in this process (a subprocess per probe would cost minutes)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["skywarden", *args])
    monkeypatch.setenv("COLUMNS", "200")
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(30)
    try:
        with pytest.raises(SystemExit) as e:
            try:
                main()
            except KeyboardInterrupt:
                pytest.fail(f"{args}: still running after 30 s (the bad input was taken)")
            raise SystemExit(0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capfd.readouterr()
    code = e.value.code
    return code if isinstance(code, int) else (0 if code is None else 1), out, err


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("probes")
    r = sw("simulate", "single-drone", "--duration", "40", "--out", "s.jsonl", "--json", cwd=d)
    assert r.returncode == 0, r.stderr
    r = sw("track", "s.jsonl", "--out", "o.jsonl", "--json", cwd=d)
    assert r.returncode == 0, r.stderr
    lines = (d / "s.jsonl").read_bytes().splitlines(keepends=True)
    (d / "empty.jsonl").write_bytes(b"")
    (d / "header.jsonl").write_bytes(b"".join(lines[:3]))
    (d / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    (d / "deep.jsonl").write_bytes(b"".join(lines[:3]) + DEEP + b"\n")
    (d / "badzone.jsonl").write_bytes(b"".join(lines) + BAD_ZONE + b"\n")
    (d / "trunc.jsonl").write_bytes((d / "o.jsonl").read_bytes()[:1500])
    markup = b'{"type":"detection","t":1,"sensor":"[/]","range_m":1,"az_deg":1,"el_deg":1}\n'
    (d / "markup.jsonl").write_bytes(b"".join(lines[:3]) + markup + b'{"type":"[/]","[/]":1}\n')
    (d / "adir").mkdir()
    (d / "bad.yaml").write_text("site: [unclosed\n")
    (d / "badzone.yaml").write_text(
        "site: {name: s, lat: 51, lon: 1, alt_m: 0}\n"
        "zones: [{id: Z, name: z, floor_m: 0, ceiling_m: 100,\n"
        "         polygon: [[1, 51], [1.01, 51.01], [1.01, 51], [1, 51.01]]}]\n"
    )
    (d / "nan.yaml").write_text(
        "site: {name: s, lat: 51, lon: 1, alt_m: 0}\nthreat: {critical_horizon_s: .nan}\n"
    )
    head = b"".join(lines[:3])
    (d / "nonutf8.jsonl").write_bytes(head + b'{"type":"detection","t":1,"sensor":"\xff\xfe"}\n')
    (d / "latin1.jsonl").write_bytes(b"\xe9t\xe9\n" * 10)
    (d / "nul.jsonl").write_bytes(head + b"\x00" * 64 + b"\n")
    (d / "hugeline.jsonl").write_bytes(
        head + b'{"type":"detection","pad":"' + b"x" * (2 << 20) + b'"}\n'
    )
    (d / "blank.jsonl").write_bytes(b"\n  \n\t\n")
    # Cut inside a line, as a copy that stopped half-way would be.
    (d / "cut.jsonl").write_bytes((d / "s.jsonl").read_bytes()[:5000].rstrip(b"\n")[:-10])
    (d / "utf16.jsonl").write_bytes(b"".join(lines[:50]).decode().encode("utf-16"))
    (d / "array.jsonl").write_bytes(b"[1, 2, 3]\n" * 5)
    (d / "empty.yaml").write_text("")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (d / "nonutf8.yaml").write_bytes(b"site: {name: \xff\xfe, lat: 51, lon: 1, alt_m: 0}\n")
    (d / "laughs.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
                  for i in range(8))
        + "site: *i\n"
    )  # fmt: skip
    # A free web port: a config wrongly accepted starts serving (and the probe's alarm fails it).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        site_yaml = SITE_YAML.replace("PORT", str(sock.getsockname()[1]))
    for name, body in SITE_CONFIGS.items():
        (d / f"cfg-{name}.yaml").write_text(site_yaml + body)
    (d / "ok-probe.yaml").write_text(
        site_yaml + "sources: {jsonl_tcp_port: null, jsonl_udp_port: null}\n"
    )
    (d / "zones-garbage.geojson").write_bytes(bytes(range(256)))
    (d / "spec-unknown.yaml").write_text("name: x\nbogus: 1\n")
    (d / "store-garbage.db").write_bytes(b"not a database" * 100)
    (d / "store-empty.db").write_bytes(b"")
    ast = (DATA / "asterix" / "plots.ast").read_bytes()
    (d / "plots-cut.ast").write_bytes(ast[: len(ast) // 2 + 3])
    pcap = (DATA / "remoteid" / "odid_wifi_sample.pcap").read_bytes()
    (d / "rid-cut.pcap").write_bytes(pcap[: len(pcap) // 2 + 5])
    (d / "sapient-cut.bin").write_bytes((DATA / "sapient" / "session.bin").read_bytes()[:-7])
    (d / "beast-cut.bin").write_bytes((DATA / "adsb" / "book.beast").read_bytes()[:-3])
    return d


PROBES: list[tuple[str, list[str]]] = [
    # simulate
    ("unknown scenario", ["simulate", "no-such-scenario", "--out", "x1.jsonl"]),
    ("duration 0", ["simulate", "single-drone", "--duration", "0", "--out", "x2.jsonl"]),
    ("duration nan", ["simulate", "single-drone", "--duration", "nan", "--out", "x3.jsonl"]),
    ("duration inf", ["simulate", "single-drone", "--duration", "inf", "--out", "x4.jsonl"]),
    ("targets -1", ["simulate", "swarm", "--targets", "-1", "--out", "x5.jsonl"]),
    ("out is a directory", ["simulate", "single-drone", "--out", "adir"]),
    ("out in a missing directory", ["simulate", "single-drone", "--out", "nodir/x.jsonl"]),
    ("out not writable", ["simulate", "single-drone", "--out", "/proc/x.jsonl"]),
    ("spec is bad YAML", ["simulate", "bad.yaml", "--out", "x6.jsonl"]),
    ("spec is a directory", ["simulate", "adir", "--out", "x7.jsonl"]),
    ("spec is its own output", ["simulate", "bad.yaml", "--out", "bad.yaml"]),
    # validate
    ("validate missing", ["validate", "missing.jsonl"]),
    ("validate directory", ["validate", "adir"]),
    ("validate empty", ["validate", "empty.jsonl"]),
    ("validate header only", ["validate", "header.jsonl"]),
    ("validate binary", ["validate", "garbage.bin"]),
    ("validate deep nesting", ["validate", "deep.jsonl"]),
    ("validate bow-tie zone", ["validate", "badzone.jsonl"]),
    ("validate markup in a name", ["validate", "[/]x[bold]"]),
    ("validate markup in a line", ["validate", "markup.jsonl"]),
    # track
    ("track markup in a line", ["track", "markup.jsonl", "--out", "[/]t.jsonl"]),
    ("track missing", ["track", "missing.jsonl", "--out", "t1.jsonl"]),
    ("track directory", ["track", "adir", "--out", "t2.jsonl"]),
    ("track empty", ["track", "empty.jsonl", "--out", "t3.jsonl"]),
    ("track binary", ["track", "garbage.bin", "--out", "t4.jsonl"]),
    ("track header only", ["track", "header.jsonl", "--out", "t5.jsonl"]),
    ("track bow-tie zone", ["track", "badzone.jsonl", "--out", "t6.jsonl"]),
    ("track into itself", ["track", "s.jsonl", "--out", "s.jsonl"]),
    ("track into itself, another name", ["track", "s.jsonl", "--out", "./adir/../s.jsonl"]),
    ("track out is a directory", ["track", "s.jsonl", "--out", "adir"]),
    ("track out not writable", ["track", "s.jsonl", "--out", "/proc/t.jsonl"]),
    ("output interval nan", ["track", "s.jsonl", "--out", "t7.jsonl", "--output-interval", "nan"]),
    ("output interval 0", ["track", "s.jsonl", "--out", "t8.jsonl", "--output-interval", "0"]),
    ("output interval -1", ["track", "s.jsonl", "--out", "t9.jsonl", "--output-interval", "-1"]),
    ("association", ["track", "s.jsonl", "--out", "t10.jsonl", "--association", "psychic"]),
    # eval
    ("eval missing output", ["eval", "s.jsonl", "missing.jsonl"]),
    ("eval empty output", ["eval", "s.jsonl", "empty.jsonl"]),
    ("eval truncated output", ["eval", "s.jsonl", "trunc.jsonl"]),
    ("eval binary output", ["eval", "s.jsonl", "garbage.bin"]),
    ("eval directory", ["eval", "adir", "o.jsonl"]),
    ("eval c nan", ["eval", "s.jsonl", "o.jsonl", "--c", "nan"]),
    ("eval p 0", ["eval", "s.jsonl", "o.jsonl", "--p", "0"]),
    # import
    ("import bad kind", ["import", "radar9000", "s.jsonl", "--out", "i1.jsonl"]),
    ("import missing", ["import", "sapient", "missing.bin", "--out", "i2.jsonl"]),
    (
        "import lat 95",
        ["import", "remoteid", "garbage.bin", "--lat", "95", "--lon", "1", "--out", "i3.jsonl"],
    ),
    (
        "import lon 200",
        ["import", "remoteid", "garbage.bin", "--lat", "5", "--lon", "200", "--out", "i4.jsonl"],
    ),
    (
        "import lat nan",
        ["import", "remoteid", "garbage.bin", "--lat", "nan", "--lon", "1", "--out", "i5.jsonl"],
    ),
    ("import sapient garbage", ["import", "sapient", "garbage.bin", "--out", "i6.jsonl"]),
    (
        "import asterix garbage",
        [
            "import",
            "asterix48",
            "garbage.bin",
            "--lat",
            "51",
            "--lon",
            "1",
            "--date",
            "2024-01-01",
            "--out",
            "i7.jsonl",
        ],
    ),
    (
        "import remoteid garbage",
        ["import", "remoteid", "garbage.bin", "--lat", "51", "--lon", "1", "--out", "i8.jsonl"],
    ),
    (
        "import bad date",
        [
            "import",
            "asterix48",
            "garbage.bin",
            "--lat",
            "51",
            "--lon",
            "1",
            "--date",
            "yesterday",
            "--out",
            "i9.jsonl",
        ],
    ),
    ("import into itself", ["import", "sapient", "garbage.bin", "--out", "garbage.bin"]),
    ("import directory", ["import", "sapient", "adir", "--out", "i10.jsonl"]),
    # serve and demo (each fails before it would start serving)
    ("serve missing config", ["serve", "--config", "missing.yaml"]),
    ("serve bad YAML", ["serve", "--config", "bad.yaml"]),
    ("serve directory config", ["serve", "--config", "adir"]),
    ("serve bow-tie zone", ["serve", "--config", "badzone.yaml"]),
    ("serve NaN horizon", ["serve", "--config", "nan.yaml"]),
    ("serve port 70000", ["serve", "--config", "nan.yaml", "--port", "70000"]),
    ("demo port 70000", ["demo", "--port", "70000"]),
    ("demo speed 0", ["demo", "--speed", "0"]),
    ("demo speed nan", ["demo", "--speed", "nan"]),
    ("demo speed inf", ["demo", "--speed", "inf"]),
    ("demo unresolvable host", ["demo", "--host", "no-such-host.invalid", "--port", "8123"]),
    ("demo unknown scenario", ["demo", "--scenario", "no-such-scenario", "--port", "8124"]),
]


NUMERIC_BAD = ["0", "-1", "nan", "inf", "-inf", "1e308", "abc", ""]
BIG_INT = str(10**30)


def _numeric_probes() -> list[tuple[str, list[str]]]:
    """Every numeric flag with values it must refuse."""
    sim = ["simulate", "single-drone", "--out", "n.jsonl"]
    trk = ["track", "s.jsonl", "--out", "n.jsonl"]
    ev = ["eval", "s.jsonl", "o.jsonl"]
    rid = [
        "import",
        "remoteid",
        str(DATA / "remoteid" / "odid_wifi_sample.pcap"),
        "--out",
        "n.jsonl",
    ]
    ast = ["import", "asterix48", str(DATA / "asterix" / "plots.ast"), "--out", "n.jsonl",
           "--lat", "51", "--lon", "1", "--date", "2024-01-01"]  # fmt: skip
    bad = {
        "simulate --duration": (sim, "--duration", NUMERIC_BAD),
        "simulate --targets": ([*sim[:1], "swarm", *sim[2:]], "--targets", ["-1", BIG_INT, "x"]),
        "simulate --seed": (sim, "--seed", ["-1", "1.5", "x"]),
        "track --output-interval": (trk, "--output-interval", NUMERIC_BAD[:5] + NUMERIC_BAD[6:]),
        "eval --c": (ev, "--c", NUMERIC_BAD),
        "eval --p": (ev, "--p", [*NUMERIC_BAD, "0.5"]),
        "import --lat": ([*rid, "--lon", "1"], "--lat", ["95", "-91", "nan", "inf", "abc"]),
        "import --lon": ([*rid, "--lat", "51"], "--lon", ["181", "-200", "nan", "-inf", ""]),
        "import --alt-m": ([*rid, "--lat", "51", "--lon", "1"], "--alt-m", ["nan", "inf", "1e308"]),
        "import --default-alt-m": (ast, "--default-alt-m", ["nan", "inf", "-1e308"]),
        "demo --speed": (["demo", "--port", FREE], "--speed", ["-1", "-inf", "1e308", "abc"]),
        "demo --port": (["demo"], "--port", ["0", "-1", "65536", BIG_INT]),
        "demo --seed": (["demo", "--port", FREE], "--seed", ["-1", "x"]),
        "serve --port": (["serve", "--config", "cfg-types.yaml"], "--port", ["-1", "65536", "x"]),
        "validate --max-shown": (["validate", "s.jsonl"], "--max-shown", ["-1", "x"]),
    }
    out = []
    for name, (args, flag, values) in bad.items():
        for v in values:
            out.append((f"{name} {v or 'empty'}", [*args, flag, v]))
    return out


#: The bad files every file-reading command gets.
BAD_FILES = [
    "missing.jsonl", "empty.jsonl", "adir", "garbage.bin", "deep.jsonl", "nonutf8.jsonl",
    "latin1.jsonl", "nul.jsonl", "hugeline.jsonl", "blank.jsonl", "cut.jsonl", "utf16.jsonl",
    "array.jsonl", "bad.yaml",
]  # fmt: skip


def _file_probes() -> list[tuple[str, list[str]]]:
    out = []
    for f in BAD_FILES:
        out.append((f"validate {f}", ["validate", f]))
        out.append((f"track {f}", ["track", f, "--out", "f.jsonl"]))
        out.append((f"eval output {f}", ["eval", "s.jsonl", f]))
        out.append((f"eval scenario {f}", ["eval", f, "o.jsonl"]))
    for f in ["missing.jsonl", "empty.jsonl", "adir", "garbage.bin", "s.jsonl", "latin1.jsonl"]:
        for kind, extra in [
            ("sapient", []),
            ("asterix48", ["--lat", "51", "--lon", "1", "--date", "2024-01-01"]),
            ("remoteid", ["--lat", "51", "--lon", "1"]),
            ("adsb-avr", ["--lat", "51", "--lon", "1"]),
            ("adsb-beast", ["--lat", "51", "--lon", "1", "--date", "2024-01-01"]),
        ]:
            out.append((f"import {kind} {f}", ["import", kind, f, "--out", "f.jsonl", *extra]))
    for f in ["empty.yaml", "list.yaml", "deep.yaml", "nonutf8.yaml", "laughs.yaml", "garbage.bin",
              "spec-unknown.yaml", "missing.yaml"]:  # fmt: skip
        out.append((f"simulate spec {f}", ["simulate", f, "--out", "f.jsonl"]))
        out.append((f"serve config {f}", ["serve", "--config", f]))
    for name in SITE_CONFIGS:
        out.append((f"serve config {name}", ["serve", "--config", f"cfg-{name}.yaml"]))
    return out


OTHER_PROBES: list[tuple[str, list[str]]] = [
    # wrong-format recordings
    ("import sapient given ASTERIX", ["import", "sapient", str(DATA / "asterix" / "plots.ast"),
                                      "--out", "g5.jsonl"]),
    ("import adsb-avr given beast", ["import", "adsb-avr", str(DATA / "adsb" / "book.beast"),
                                     "--out", "g6.jsonl", "--lat", "51", "--lon", "1"]),
    ("import date 2024-13-01", ["import", "adsb-beast", str(DATA / "adsb" / "book.beast"),
                                "--out", "g7.jsonl", "--lat", "51", "--lon", "1", "--date", "2024-13-01"]),
    ("import date 2023-02-29", ["import", "adsb-beast", str(DATA / "adsb" / "book.beast"),
                                "--out", "g8.jsonl", "--lat", "51", "--lon", "1", "--date", "2023-02-29"]),
    ("import start abc", ["import", "adsb-beast", str(DATA / "adsb" / "book.beast"),
                          "--out", "g9.jsonl", "--lat", "51", "--lon", "1", "--start", "abc"]),
    ("import start nan", ["import", "adsb-beast", str(DATA / "adsb" / "book.beast"),
                          "--out", "g10.jsonl", "--lat", "51", "--lon", "1", "--start", "nan"]),
    ("import start 1e400", ["import", "adsb-beast", str(DATA / "adsb" / "book.beast"),
                            "--out", "g11.jsonl", "--lat", "51", "--lon", "1", "--start", "1e400"]),
    ("import sensor id empty", ["import", "remoteid", str(DATA / "remoteid" / "odid_wifi_sample.pcap"),
                                "--out", "g12.jsonl", "--lat", "51", "--lon", "1", "--sensor-id", ""]),
    ("import sensor id 300 chars", ["import", "remoteid", str(DATA / "remoteid" / "odid_wifi_sample.pcap"),
                                    "--out", "g13.jsonl", "--lat", "51", "--lon", "1",
                                    "--sensor-id", "x" * 300]),
    ("import asterix without --lat", ["import", "asterix48", str(DATA / "asterix" / "plots.ast"),
                                      "--out", "g14.jsonl", "--date", "2024-01-01"]),
    # wrong kind of file for the command
    ("validate a track output", ["validate", "o.jsonl"]),
    ("track a track output", ["track", "o.jsonl", "--out", "g15.jsonl"]),
    ("eval scenario as output", ["eval", "s.jsonl", "s.jsonl"]),
    ("eval output as scenario", ["eval", "o.jsonl", "o.jsonl"]),
    ("eval without truth", ["eval", "header.jsonl", "o.jsonl"]),
    ("track motion", ["track", "s.jsonl", "--out", "g16.jsonl", "--motion", "teleport"]),
    ("unknown command", ["fly"]),
    ("unknown flag", ["track", "s.jsonl", "--out", "g17.jsonl", "--turbo"]),
    ("missing --out", ["track", "s.jsonl"]),
    ("simulate out into itself", ["simulate", "spec-unknown.yaml", "--out", "spec-unknown.yaml"]),
    ("import out into the recording dir", ["import", "sapient", "garbage.bin", "--out", "adir"]),
    # tokens
    ("token create role admin", ["token", "create", "--role", "admin", "--db", "t.db"]),
    ("token create db directory", ["token", "create", "--db", "adir"]),
    ("token create db garbage", ["token", "create", "--db", "store-garbage.db"]),
    ("token create db in missing dir", ["token", "create", "--db", "nodir/t.db"]),
    ("token create name empty", ["token", "create", "--name", "", "--db", "t.db"]),
    ("token list db missing", ["token", "list", "--db", "missing.db"]),
    ("token list db garbage", ["token", "list", "--db", "store-garbage.db"]),
    ("token list db empty file", ["token", "list", "--db", "store-empty.db"]),
    ("token list db a scenario", ["token", "list", "--db", "s.jsonl"]),
    ("token list db directory", ["token", "list", "--db", "adir"]),
    ("token revoke short id", ["token", "revoke", "abc", "--db", "store-garbage.db"]),
    ("token revoke wildcards", ["token", "revoke", "%%%%%%%%", "--db", "store-garbage.db"]),
    ("token revoke underscores", ["token", "revoke", "________", "--db", "missing.db"]),
    ("token revoke db missing", ["token", "revoke", "deadbeef", "--db", "missing.db"]),
    # serve and demo hosts, stores
    ("serve host empty", ["serve", "--config", "ok-probe.yaml", "--host", ""]),
    ("serve host 999.1.1.1", ["serve", "--config", "ok-probe.yaml", "--host", "999.1.1.1"]),
    ("serve host not ours", ["serve", "--config", "ok-probe.yaml", "--host", "192.0.2.1"]),
    ("demo db directory", ["demo", "--db", "adir", "--port", FREE]),
    ("demo db garbage", ["demo", "--db", "store-garbage.db", "--port", FREE]),
    ("demo scenario a file", ["demo", "--scenario", "garbage.bin", "--port", FREE]),
    ("demo host 999.1.1.1", ["demo", "--host", "999.1.1.1"]),
]  # fmt: skip

ALL_PROBES = PROBES + _numeric_probes() + _file_probes() + OTHER_PROBES


@pytest.mark.parametrize(("name", "args"), ALL_PROBES, ids=[p[0] for p in ALL_PROBES])
def test_bad_input_fails_cleanly(work, name, args, capfd, monkeypatch):
    before = {p.name for p in work.iterdir()}
    code, out, err = sw_here(args, work, capfd, monkeypatch)
    assert code != 0, f"{name}: exit 0\n{out}\n{err}"
    assert "Traceback" not in err and "Traceback" not in out, err
    assert err.strip(), f"{name}: failed without saying why"
    # One line says what was wrong (log lines may come before it).
    said = [ln for ln in err.splitlines() if ln.startswith(("error: ", "invalid: "))]
    assert len(said) == 1 and len(said[0].split(": ", 1)[1].strip()) > 5, err
    # A failed run leaves no new file (nor a temporary one) behind.
    assert {p.name for p in work.iterdir()} == before
    assert (work / "s.jsonl").stat().st_size > 100_000  # never emptied by a probe


def test_demo_and_serve_on_a_busy_port_say_so_and_leave_no_temp_folder(work, tmp_path):
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        env_tmp = {"TMPDIR": str(tmp_root)}
        os.environ.update(env_tmp)
        try:
            r = sw("demo", "--port", port, cwd=work)
        finally:
            del os.environ["TMPDIR"]
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert f"port {port} on 127.0.0.1 is already in use" in r.stderr
        assert list(tmp_root.iterdir()) == []
        (work / "ok.yaml").write_text("site: {name: s, lat: 51, lon: 1, alt_m: 0}\n")
        r = sw("serve", "--config", "ok.yaml", "--port", port, cwd=work)
        (work / "ok.yaml").unlink()
        assert r.returncode != 0 and "already in use" in r.stderr and "Traceback" not in r.stderr


#: Recordings cut short: what was decoded is kept, and the cut is reported as a rejection.
CUT_RECORDINGS = {
    "asterix48": ["plots-cut.ast", "--lat", "51", "--lon", "1", "--date", "2024-01-01"],
    "remoteid": ["rid-cut.pcap", "--lat", "51", "--lon", "1"],
    "sapient": ["sapient-cut.bin"],
    "adsb-beast": ["beast-cut.bin", "--lat", "51", "--lon", "1", "--date", "2024-01-01"],
}


@pytest.mark.parametrize("kind", list(CUT_RECORDINGS))
def test_a_cut_recording_keeps_what_was_decoded_and_says_where_it_broke(
    work, kind, capfd, monkeypatch
):
    file, *extra = CUT_RECORDINGS[kind]
    out = f"cut-{kind}.jsonl"
    args = ["import", kind, file, "--out", out, *extra, "--json"]
    code, stdout, err = sw_here(args, work, capfd, monkeypatch)
    assert code == 0 and "Traceback" not in err, err
    doc = json.loads(stdout)
    assert doc["decoded"] > 0 and doc["n_rejected"] > 0, doc
    assert (work / out).stat().st_size > 0
    (work / out).unlink()


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "s.jsonl", "--json"],
        ["eval", "s.jsonl", "o.jsonl", "--json"],
        ["track", "s.jsonl", "--out", "again.jsonl", "--json"],
    ],
)
def test_good_input_succeeds_with_output(work, args, capfd, monkeypatch):
    code, out, err = sw_here(args, work, capfd, monkeypatch)
    assert code == 0, err
    assert out.strip().startswith("{")
    if args[0] == "track":
        assert (work / "again.jsonl").stat().st_size > 0
        (work / "again.jsonl").unlink()
