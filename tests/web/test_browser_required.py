"""Browser tests skip without Chromium locally, and fail without it under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run_without_chromium(ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["SKYWARDEN_TEST_CHROMIUM"] = str(HERE / "no-such-chromium")
    if ci:
        env["CI"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         str(HERE / "test_demo_browser.py")],
        env=env, capture_output=True, text=True, timeout=120, cwd=HERE.parents[1],
    )  # fmt: skip


def test_missing_chromium_skips_locally():
    r = _run_without_chromium(ci=False)
    assert r.returncode == 0 and "1 skipped" in r.stdout, r.stdout


def test_missing_chromium_fails_under_ci():
    r = _run_without_chromium(ci=True)
    assert r.returncode != 0 and "1 failed" in r.stdout, r.stdout
    assert "CI is set" in r.stdout
