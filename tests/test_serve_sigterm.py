"""`skywarden serve` stopped with SIGTERM leaves no child process behind.

Regression (main at 06ae315): with a CAT062 sink configured, SIGTERM killed the
service before it stopped its sinks, so the CAT062 encoder worker process and the
multiprocessing resource tracker survived it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import yaml

from skywarden.config import load_config
from skywarden.scenario import ScenarioReader

from .test_service import _free_port


def _children(pid: int) -> dict[int, str]:
    """Direct child processes of ``pid``: pid -> command line."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_cat062_worker_and_resource_tracker(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("skywarden")
    scen = tmp_path / "s.jsonl"
    subprocess.run(
        [str(exe), "simulate", "single-drone", "--seed", "3", "--duration", "300", "--out", str(scen), "--json"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    hdr = ScenarioReader(scen).header
    site_yaml = tmp_path / "site.yaml"
    site_yaml.write_text(
        yaml.safe_dump(
            {
                "site": {k: v for k, v in msgspec.to_builtins(hdr.site).items() if k != "type"},
                "sensors": [
                    {k: v for k, v in msgspec.to_builtins(s).items() if k != "type"}
                    for s in hdr.sensors.values()
                ],
                "sources": {"jsonl_tcp_port": None, "jsonl_udp_port": None,
                            "replay": str(scen), "replay_speed": 20.0},
                "sinks": {"asterix62": [{"host": "127.0.0.1", "port": _free_port(),
                                         "sac": 1, "sic": 2}]},
                "store": {"path": str(tmp_path / "site.db")},
                "server": {"port": _free_port()},
            }
        )
    )  # fmt: skip
    load_config(site_yaml)
    proc = subprocess.Popen(
        [str(exe), "serve", "--config", str(site_yaml)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # The encoder worker is spawned at the first scan with tracks; the resource
        # tracker with it. Polling another process: there is no event to await.
        end = time.monotonic() + 90.0
        kids: dict[int, str] = {}
        while time.monotonic() < end and proc.poll() is None:
            kids = _children(proc.pid)
            if sum("multiprocessing" in c for c in kids.values()) >= 2:
                break
            time.sleep(0.2)
        assert sum("multiprocessing" in c for c in kids.values()) >= 2, kids
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    end = time.monotonic() + 10.0
    while time.monotonic() < end and any(_alive(p) for p in kids):
        time.sleep(0.1)
    left = {p: c for p, c in kids.items() if _alive(p)}
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == {}, left
