"""The ``skywarden`` command line (typer + rich). Only this package writes to stdout."""

from __future__ import annotations

import logging
import sys

import typer

from . import evaluate as _evaluate
from . import export as _export
from . import importer as _importer
from . import region as _region
from . import relay as _relay
from . import serve as _serve
from . import simulate as _simulate
from . import token as _token
from . import track as _track
from . import validate as _validate

app = typer.Typer(
    name="skywarden",
    help="Counter-drone early warning: ingest, track, classify, assess threat, warn. "
    "skywarden never aims, cues or commands any effector.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Counter-drone early warning. Add --debug anywhere for full tracebacks."""


app.command("simulate")(_simulate.simulate)
app.command("validate")(_validate.validate)
app.command("track")(_track.track)
app.command("eval")(_evaluate.evaluate)
app.command("import")(_importer.import_)
app.command("serve")(_serve.serve)
app.command("demo")(_serve.demo)
app.command("region")(_region.region)
app.command("relay-wifi")(_relay.relay_wifi)
app.add_typer(_token.app, name="token")
app.add_typer(_export.app, name="export")


def _is(e: BaseException, name: str) -> bool:
    """Whether ``e`` is click's exception ``name`` (typer may vendor its own click)."""
    return any(c.__name__ == name for c in type(e).__mro__)


def main() -> None:
    """Console-script entry point: clean one-line errors unless ``--debug`` is given."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(1)
    except Exception as e:
        if _is(e, "NoArgsIsHelpError"):
            app()  # prints the help as usual, and exits
        if _is(e, "ClickException"):
            # A mistyped command, flag or value: one line too, naming the command's help.
            ctx = getattr(e, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if _is(e, "UsageError") and ctx else ""
            err = e
            message = getattr(err, "format_message", lambda: str(err))()
            sys.stderr.write(f"error: {' '.join(message.split())}{hint}\n")
            sys.exit(int(getattr(e, "exit_code", 2)))
        if debug:
            raise
        sys.stderr.write(f"error: {str(e) or type(e).__name__}\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
