"""``skywarden region``: one regional air picture from many sites over NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from ._common import console, fail, print_json


def region(
    config: Annotated[Path, typer.Option("--config", help="Region configuration (YAML).")],
    host: Annotated[
        str | None, typer.Option(help="API listen address (default from config).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="API port (default from config: 8100).")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the start-up facts as JSON.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write the regional output (track and alert lines) to this file,"
            " for skywarden eval; complete once the region stops.",
        ),
    ] = None,
) -> None:
    """Consume every site's stream through durable JetStream consumers and serve the regional picture."""
    import nats.errors

    from ..region.config import load_region_config
    from ..region.service import RegionService

    if not config.is_file():
        fail(f"no such file: {config}", 2)
    try:
        cfg = load_region_config(str(config))
    except ValueError as e:
        fail(str(e))
    try:
        service = RegionService(cfg, out=out)
    except OSError as e:
        fail(f"cannot start the region: {e}")
    host = host or cfg.server.host

    def ready(bound: int) -> None:
        url = f"http://{host}:{bound}/api/sites"
        page = f"http://{host}:{bound}/"
        if json_out:
            print_json({
                "url": url, "map": page, "sites": cfg.sites, "store": cfg.store,
                "map_store": cfg.map_store_path(),
            })  # fmt: skip
        else:
            console.print(
                f"[bold green]skywarden region[/] {cfg.name}: {len(cfg.sites)} sites, map at {page}"
            )
            console.print(
                f"tokens: skywarden token create --db {cfg.map_store_path()}   sites: {url}"
            )

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await service.serve(host, port, on_ready=ready)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(main())
        except (nats.errors.Error, OSError) as e:
            fail(f"cannot start the region: {e}")
