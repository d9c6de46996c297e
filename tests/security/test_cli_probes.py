"""Bad-input probes over every command: no traceback, a non-zero exit for every failure,
and never a silent success (exit 0 with no or empty output).

Each probe runs the real command line in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import skywarden
from skywarden.cli import main

SRC = str(Path(skywarden.__file__).resolve().parents[1])
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


def sw_here(args: list[str], cwd: Path, capfd, monkeypatch) -> tuple[int, str, str]:
    """The same entry point in this process (a subprocess per probe would cost minutes)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["skywarden", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as e:
        main()
        raise SystemExit(0)
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


@pytest.mark.parametrize(("name", "args"), PROBES, ids=[p[0] for p in PROBES])
def test_bad_input_fails_cleanly(work, name, args, capfd, monkeypatch):
    before = {p.name for p in work.iterdir()}
    code, out, err = sw_here(args, work, capfd, monkeypatch)
    assert code != 0, f"{name}: exit 0\n{out}\n{err}"
    assert "Traceback" not in err and "Traceback" not in out, err
    assert err.strip(), f"{name}: failed without saying why"
    assert not err.strip().endswith("error:"), err
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
