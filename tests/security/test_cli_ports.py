"""``serve`` and ``demo`` bind every port they need before they print the URL.

A busy port or an unresolvable host is one clear line and a non-zero exit, with
no URL printed, no traceback, and (for ``demo``) no temporary folder left. The
real command line runs in a subprocess against a port this test holds busy.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import skywarden
from tests.service_helpers import start_on_free_port

SRC = str(Path(skywarden.__file__).resolve().parents[1])
SITE = {"name": "ports", "lat": 51.0, "lon": 1.0, "alt_m": 0.0}
RADAR = {"id": "radar-1", "kind": "radar", "lat": 51.0, "lon": 1.0, "alt_m": 10.0,
         "update_s": 1.0, "max_range_m": 20000.0}  # fmt: skip


def sw(*args: str, cwd: Path, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [sys.executable, "-c", "from skywarden.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def busy(kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket holding a loopback port (listening, for TCP)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        s.listen()
    return s


def site_yaml(d: Path, sources: dict, port: int = 0) -> Path:
    p = d / "site.yaml"
    cfg = {
        "site": SITE,
        "sensors": [RADAR],
        "sources": {"jsonl_tcp_port": 0, "jsonl_udp_port": 0, **sources},
        "store": {"path": str(d / "site.db")},
    }
    if port:
        cfg["server"] = {"port": port}
    p.write_text(yaml.safe_dump(cfg))
    return p


def assert_refused(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert r.stdout == "", "the URL (or anything) was printed before every port was bound"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0], lines[0]


@pytest.mark.parametrize(
    ("what", "kind", "sources"),
    [
        ("JSON Lines TCP port", socket.SOCK_STREAM, lambda p: {"jsonl_tcp_port": p}),
        ("JSON Lines UDP port", socket.SOCK_DGRAM, lambda p: {"jsonl_udp_port": p}),
        ("SAPIENT port", socket.SOCK_STREAM, lambda p: {"sapient_port": p}),
        (
            "ASTERIX port of radar-1",
            socket.SOCK_DGRAM,
            lambda p: {"asterix48": [{"sensor": "radar-1", "port": p}]},
        ),
    ],
)
def test_serve_with_a_busy_source_port_names_it_before_any_url(tmp_path, what, kind, sources):
    with busy(kind) as s:
        port = s.getsockname()[1]
        r = sw("serve", "--config", str(site_yaml(tmp_path, sources(port))), cwd=tmp_path)
    assert_refused(r, f"port {port} on 127.0.0.1 ({what}) is already in use")


def test_serve_with_a_busy_web_port(tmp_path):
    with busy() as s:
        port = s.getsockname()[1]
        r = sw("serve", "--config", str(site_yaml(tmp_path, {}, port)), cwd=tmp_path)
        r2 = sw("serve", "--config", str(site_yaml(tmp_path, {})), "--port", str(port),
                cwd=tmp_path)  # fmt: skip
    assert_refused(r, f"port {port} on 127.0.0.1 is already in use")
    assert_refused(r2, f"port {port} on 127.0.0.1 is already in use")


def test_serve_with_an_unresolvable_sources_host(tmp_path):
    cfg = site_yaml(tmp_path, {"host": "no-such-host.invalid"})
    r = sw("serve", "--config", str(cfg), cwd=tmp_path)
    assert_refused(r, "cannot resolve the host 'no-such-host.invalid' for the JSON Lines TCP port")


def test_serve_with_an_unresolvable_web_host(tmp_path):
    r = sw("serve", "--config", str(site_yaml(tmp_path, {})), "--host", "no-such-host.invalid",
           cwd=tmp_path)  # fmt: skip
    assert_refused(r, "cannot resolve the host 'no-such-host.invalid'")


@pytest.mark.parametrize("args", [["--port", "BUSY"], ["--host", "no-such-host.invalid"]])
def test_demo_that_cannot_listen_leaves_no_temp_folder(tmp_path, args):
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    with busy() as s:
        port = str(s.getsockname()[1])
        argv = [port if a == "BUSY" else a for a in args]
        r = sw("demo", *argv, cwd=tmp_path, tmpdir=tmp_root)
    assert_refused(r, "already in use" if "BUSY" in args else "cannot resolve the host")
    assert list(tmp_root.iterdir()) == []


def test_serve_prints_every_bound_port_and_they_answer(tmp_path):
    """The start-up facts come once everything listens: each port named there is open."""
    cfg = site_yaml(tmp_path, {"sapient_port": 0})
    env = {**os.environ, "PYTHONPATH": SRC}
    proc, web, facts = start_on_free_port(
        lambda port: [sys.executable, "-c", "from skywarden.cli import main; main()",
                      "serve", "--config", str(cfg), "--port", str(port), "--json"],
        "serve", tmp_path / "serve.log", cwd=tmp_path, env=env,
    )  # fmt: skip
    try:
        ports = facts["ports"]
        assert facts["url"] == f"http://127.0.0.1:{web}/" and ports["web"] == web
        assert set(ports) == {"jsonl_tcp", "jsonl_udp", "sapient", "web"}
        for name in ("jsonl_tcp", "sapient", "web"):
            with socket.create_connection(("127.0.0.1", ports[name]), timeout=5):
                pass
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    err = (tmp_path / "serve.log").read_text()
    assert proc.returncode == 0 and "Traceback" not in err, err
