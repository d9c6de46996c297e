"""Shared pieces of the command line: console, JSON output, error exits."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import math
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def print_json(obj: Any) -> None:
    """Write ``obj`` to stdout as one JSON document (NaN/inf become null)."""
    sys.stdout.write(
        orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2).decode() + "\n"
    )


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear sentence on stderr and a non-zero exit (a multi-line message is joined)."""
    # The message may quote user input: never read it as markup.
    err_console.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", highlight=False)
    raise typer.Exit(code)


def iso(t_s: float) -> str:
    """UTC seconds -> ISO-8601 (or '-' when not finite)."""
    if not math.isfinite(t_s):
        return "-"
    return dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat(timespec="milliseconds")


def finite_positive(value: float, flag: str) -> float:
    """``value`` if it is a finite number above zero, else a clear exit naming ``flag``."""
    if not (math.isfinite(value) and value > 0.0):
        fail(f"{flag} must be a finite number above 0, not {value}", 2)
    return value


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (resolved paths, or the same inode)."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def atomic_output(out: Path, *inputs: Path) -> Iterator[Path]:
    """A temporary file next to ``out`` that becomes ``out`` only if the block succeeds.

    A run that fails, or is stopped by SIGINT or SIGTERM, leaves no file that
    looks complete (and no temporary file). An ``out`` that is one of
    ``inputs`` is refused before anything is written.
    """
    for inp in inputs:
        if same_file(out, inp):
            fail(f"the output {out} is the input {inp}; choose another output file", 2)
    if out.is_dir():
        fail(f"the output {out} is a directory", 2)
    parent = out.parent
    if not parent.is_dir():
        fail(f"cannot write {out}: no such directory {parent}", 2)
    try:
        fd, name = tempfile.mkstemp(dir=parent, prefix=f".{out.name}.", suffix=".part")
    except OSError as e:
        fail(f"cannot write {out}: {e.strerror or e}", 2)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        yield tmp
        try:
            os.replace(tmp, out)
        except OSError as e:
            fail(f"cannot write {out}: {e.strerror or e}")
    finally:
        tmp.unlink(missing_ok=True)
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def check_listen(host: str, port: int) -> None:
    """Exit with one clear sentence unless ``host`` resolves and ``port`` is free on it."""
    if not 1 <= port <= 65_535:
        fail(f"--port must be 1..65535, not {port}", 2)
    if not host.strip():
        fail("--host must not be empty", 2)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        fail(f"cannot resolve the host {host!r}: {e}", 2)
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is already in use", 2)
            fail(f"cannot listen on {host}:{port}: {e.strerror or e}", 2)


def progress_bar(label: str, console: Console, hidden: bool) -> Progress:
    """A transient progress bar for long work (hidden when only JSON is printed)."""
    return Progress(
        TextColumn(f"[bold]{escape(label)}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        disable=hidden,
        transient=True,
    )
