"""`skywarden serve` stopped with SIGTERM leaves no child process behind.

Regression (main at 06ae315): with a CAT062 sink configured, SIGTERM killed the
service before it stopped its sinks, so the CAT062 encoder worker process and the
multiprocessing resource tracker survived it. Issue 15's acceptance: with *every*
sink configured (TAK, SAPIENT, CAT062, webhooks, CAP, MQTT, escalation), each
talking to a real receiver here, SIGTERM stops ``serve`` cleanly (exit 0) and no
process it started outlives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from skywarden.config import load_config
from skywarden.scenario import Header, ScenarioReader

from .service_helpers import site_doc, start_on_free_port
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


def _scenario(exe: Path, tmp_path: Path) -> tuple[Path, Header]:
    """A 300 s single-drone scenario file (replayed by the service) and its header."""
    scen = tmp_path / "s.jsonl"
    subprocess.run(
        [str(exe), "simulate", "single-drone", "--seed", "3", "--duration", "300", "--out", str(scen), "--json"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return scen, ScenarioReader(scen).header


def test_sigterm_stops_the_cat062_worker_and_resource_tracker(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("skywarden")
    scen, hdr = _scenario(exe, tmp_path)
    site_yaml = tmp_path / "site.yaml"
    site_yaml.write_text(
        yaml.safe_dump(
            {
                **site_doc(hdr),
                "sources": {"jsonl_tcp_port": None, "jsonl_udp_port": None,
                            "replay": str(scen), "replay_speed": 20.0},
                "sinks": {"asterix62": [{"host": "127.0.0.1", "port": _free_port(),
                                         "sac": 1, "sic": 2}]},
                "store": {"path": str(tmp_path / "site.db")},
            }
        )
    )  # fmt: skip
    load_config(site_yaml)
    proc, _port, _facts = _serve(exe, site_yaml, tmp_path / "serve.log")
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


def _serve(exe: Path, site_yaml: Path, log: Path) -> tuple[subprocess.Popen, int, dict]:
    """``skywarden serve`` on a free web port (tried again if another process took it)."""
    return start_on_free_port(
        lambda port: [str(exe), "serve", "--config", str(site_yaml), "--port", str(port), "--json"],
        "serve", log,
    )  # fmt: skip


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (children, their children, ...)."""
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        kids = _children(todo.pop())
        out.update(kids)
        todo.extend(kids)
    return out


class _Receivers:
    """What the sinks talk to: TCP servers (TAK, SAPIENT), a UDP socket (CAT062), an
    HTTP server (webhooks, CAP receivers) and, when installed, mosquitto (MQTT). Each
    counts what it got, so the test knows every sink is running."""

    def __init__(self, tmp: Path) -> None:
        self.got: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.tcp = {name: socket.create_server(("127.0.0.1", 0)) for name in ("tak", "sapient")}
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receivers.count(f"http {self.path}")
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threads = [threading.Thread(target=self._accept, args=(n,)) for n in self.tcp]
        threads += [threading.Thread(target=self._datagrams),
                    threading.Thread(target=self.http.serve_forever)]  # fmt: skip
        for t in threads:
            t.daemon = True
            t.start()
        from .sinks.test_mqtt import MOSQUITTO, Broker

        self.broker = Broker(tmp, _free_port()) if MOSQUITTO is not None else None
        if self.broker is not None:
            self.broker.start()

    def port(self, name: str) -> int:
        return self.tcp[name].getsockname()[1]

    def count(self, what: str) -> None:
        with self._lock:
            self.got[what] = self.got.get(what, 0) + 1

    def _accept(self, name: str) -> None:
        server = self.tcp[name]
        server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._read, args=(name, conn), daemon=True).start()

    def _read(self, name: str, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                self.count(name)

    def _datagrams(self) -> None:
        while not self._stop.is_set():
            try:
                self.udp.recv(65536)
            except OSError:
                continue
            self.count("udp")

    def close(self) -> None:
        self._stop.set()
        self.http.shutdown()
        self.http.server_close()
        for c in (*self._conns, *self.tcp.values(), self.udp):
            c.close()
        if self.broker is not None:
            self.broker.stop()


def test_sigterm_with_every_sink_configured_leaves_no_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("skywarden")
    scen, hdr = _scenario(exe, tmp_path)
    rx = _Receivers(tmp_path)
    udp_port = rx.udp.getsockname()[1]
    http = f"http://127.0.0.1:{rx.http.server_address[1]}"
    mqtt_port = rx.broker.port if rx.broker is not None else _free_port()
    site_yaml = tmp_path / "site.yaml"
    site_yaml.write_text(
        yaml.safe_dump(
            {
                **site_doc(hdr),
                "sources": {"jsonl_tcp_port": None, "jsonl_udp_port": None,
                            "replay": str(scen), "replay_speed": 20.0},
                "sinks": {
                    "tak": [{"url": f"tcp://127.0.0.1:{rx.port('tak')}"},
                            {"url": f"udp://127.0.0.1:{udp_port}", "protocol": "protobuf"}],
                    "sapient": [{"host": "127.0.0.1", "port": rx.port("sapient")}],
                    "asterix62": [{"host": "127.0.0.1", "port": udp_port, "sac": 1, "sic": 2}],
                    "webhooks": [{"url": f"{http}/webhook", "secret": "s3cret"}],
                    "cap": {"receivers": [{"url": f"{http}/cap"}]},
                    "mqtt": [{"host": "127.0.0.1", "port": mqtt_port}],
                    "escalation": {"after_s": {"info": 1.0, "warning": 1.0, "critical": 1.0},
                                   "webhooks": [{"url": f"{http}/escalation", "secret": "s3cret"}]},
                },
                "store": {"path": str(tmp_path / "site.db")},
            }
        )
    )  # fmt: skip
    load_config(site_yaml)
    log = tmp_path / "serve.log"  # a file, not a pipe: a full pipe would block the service
    proc, _port, _facts = _serve(exe, site_yaml, log)
    seen: dict[int, str] = {}
    try:
        # Every sink has delivered (an alert by webhook and CAP, tracks by TCP and UDP)
        # and the CAT062 worker runs. Polling other processes: no event to await.
        want = {"tak", "sapient", "udp", "http /webhook", "http /cap"}
        end = time.monotonic() + 120.0
        while time.monotonic() < end and proc.poll() is None:
            seen.update(_descendants(proc.pid))
            if want <= set(rx.got) and sum("multiprocessing" in c for c in seen.values()) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert want <= set(rx.got), rx.got
        assert sum("multiprocessing" in c for c in seen.values()) >= 2, seen
        seen.update(_descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        rx.close()
    assert code == 0, log.read_text(errors="replace")[-3000:]
    end = time.monotonic() + 10.0
    while time.monotonic() < end and any(_alive(p) for p in seen):
        time.sleep(0.1)
    left = {p: c for p, c in seen.items() if _alive(p)}
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == {}, left
