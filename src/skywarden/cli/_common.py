"""Shared pieces of the command line: console, JSON output, error exits."""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Write ``obj`` to stdout as one JSON document (NaN/inf become null)."""
    sys.stdout.write(
        orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2).decode() + "\n"
    )


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear sentence on stderr and a non-zero exit."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def iso(t_s: float) -> str:
    """UTC seconds -> ISO-8601 (or '-' when not finite)."""
    if not math.isfinite(t_s):
        return "-"
    return dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat(timespec="milliseconds")
