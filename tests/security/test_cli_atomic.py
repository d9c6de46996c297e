"""Commands that write files write them whole or not at all, even when stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import skywarden

SRC = str(Path(skywarden.__file__).resolve().parents[1])


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from skywarden.cli import main; main()", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": SRC}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_for_part_file(cwd: Path, proc: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    """Until the command has opened its temporary output (it is writing)."""
    deadline = time.monotonic() + timeout_s
    while not list(cwd.glob(".*.part")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A scenario that takes the tracker several seconds."""
    d = tmp_path_factory.mktemp("atomic")
    p = start(["simulate", "bench", "--targets", "100", "--duration", "200",
               "--out", "big.jsonl", "--json"], d)  # fmt: skip
    assert p.wait(120) == 0, p.communicate()
    return d


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_track_stopped_by_a_signal_leaves_no_output(big, sig):
    proc = start(["track", "big.jsonl", "--out", "out.jsonl"], big)
    wait_for_part_file(big, proc)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert not (big / "out.jsonl").exists()
    assert not list(big.glob(".*.part"))


def test_simulate_stopped_by_sigterm_leaves_no_file_validate_would_accept(big):
    proc = start(["simulate", "bench", "--targets", "300", "--duration", "600",
                  "--out", "sim.jsonl"], big)  # fmt: skip
    wait_for_part_file(big, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not (big / "sim.jsonl").exists() and not list(big.glob(".*.part"))


def test_a_failed_run_keeps_the_previous_output_untouched(big):
    (big / "keep.jsonl").write_bytes(b"previous\n")
    proc = start(["track", "big.jsonl", "--out", "keep.jsonl", "--output-interval", "nan"], big)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert (big / "keep.jsonl").read_bytes() == b"previous\n"


def test_track_refuses_to_write_over_its_input_through_a_link(big):
    (big / "link.jsonl").symlink_to(big / "big.jsonl")
    size = (big / "big.jsonl").stat().st_size
    proc = start(["track", "big.jsonl", "--out", "link.jsonl"], big)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "is the input" in err
    assert (big / "big.jsonl").stat().st_size == size


def test_a_successful_output_has_ordinary_permissions(big, tmp_path):
    src = big / "big.jsonl"
    head = b"".join(src.open("rb").readlines()[:2000])
    (tmp_path / "s.jsonl").write_bytes(head)
    proc = start(["track", "s.jsonl", "--out", "o.jsonl", "--json"], tmp_path)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "o.jsonl").stat().st_mode & 0o777 == 0o666 & ~umask
