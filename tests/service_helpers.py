"""Helpers for the tests that run the live service: a site config from a scenario header,
and a /metrics scrape that waits for what it expects."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec

from skywarden.region.server import free_port
from skywarden.scenario import Header
from skywarden.service import Service


def site_doc(header: Header) -> dict:
    """The ``site``, ``sensors`` and ``zones`` sections of a site YAML for a scenario header."""

    def plain(rec) -> dict:
        return {k: v for k, v in msgspec.to_builtins(rec).items() if k != "type"}

    return {
        "site": plain(header.site),
        "sensors": [plain(s) for s in header.sensors.values()],
        "zones": [plain(z) for z in header.zones],
    }


async def scrape_metrics(service: Service, until: str, timeout_s: float = 10.0) -> str:
    """``/metrics`` of a started service (as a viewer), scraped until it contains ``until``."""
    token = service.store.create_token("viewer", "metrics")
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
        async with asyncio.timeout(timeout_s):
            while True:
                r = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
                if until in r.text:
                    return r.text
                await asyncio.sleep(0.05)


def terminate(proc: subprocess.Popen, timeout_s: float = 20.0) -> int:
    """Stop a service process with SIGTERM as an operator would (SIGKILL if it hangs past
    ``timeout_s``, which the caller's return-code check then reports); its return code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def read_facts(proc: subprocess.Popen, what: str = "the process", log: Path | None = None) -> dict:
    """The JSON document a ``--json`` service prints before it serves (ends at a line ``}``).

    Fails with the process's stderr (piped, or the ``log`` file it goes to) if it exits
    first, instead of reading empty lines at end of file for ever."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "}\n":
        line = proc.stdout.readline()
        if not line:
            err = log.read_text() if log else proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"{what} exited before printing its facts: {err}")
        lines.append(line)
    return json.loads("".join(lines))


def start_on_free_port(
    command: Callable[[int], list[str]], what: str, log: Path, tries: int = 5, **popen: Any
) -> tuple[subprocess.Popen, int, dict]:
    """Start ``command(port)`` (a ``--json`` service) on a loopback port picked here; its
    process, the port and its start-up facts. Its stderr goes to ``log``.

    The port is free when picked but another process may take it before the service
    binds it; the service then says so ("already in use") and exits, and another port
    is tried (CI once lost a run to this)."""
    for _ in range(tries):
        port = free_port()
        with log.open("w") as err:
            proc = subprocess.Popen(
                command(port), stdout=subprocess.PIPE, stderr=err, text=True, **popen
            )
        try:
            return proc, port, read_facts(proc, what, log)
        except AssertionError as e:
            proc.wait(timeout=60)
            if "already in use" not in str(e):
                raise
    raise AssertionError(f"{tries} ports picked in turn were taken before {what} bound them")
