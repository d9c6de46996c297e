"""``skywarden serve`` (a site, live) and ``skywarden demo`` (a built-in scenario, live)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..config import ConfigError, ServerConfig, SiteConfig, SourcesConfig, StoreConfig, load_config
from ._common import console, fail, print_json


def serve(
    config: Annotated[Path, typer.Option("--config", help="Site configuration (YAML).")],
    host: Annotated[
        str | None, typer.Option(help="Listen address (default from config: 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Web/API port (default from config: 8000).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the start-up facts as JSON.")
    ] = False,
) -> None:
    """Run a site live: sources → tracker → classifier → threat → web map, store and sinks."""
    from ..service import Service

    try:
        cfg = load_config(config)
    except ConfigError as e:
        fail(str(e))
    service = Service(cfg, config_dir=config.parent)
    _run(service, host or cfg.server.host, port or cfg.server.port, json_out, token=None)


def demo(
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Web/API port.")] = 8000,
    scenario: Annotated[str, typer.Option(help="Built-in scenario to fly.")] = "swarm",
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    db: Annotated[
        Path | None, typer.Option(help="Store file (default: a fresh temporary one).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the start-up facts as JSON.")
    ] = False,
) -> None:
    """Start the live service fed by the simulator in real time, and print the map's URL and a token."""
    from ..service import Service
    from ..sim import generate, load_spec
    from ..types import Sensor, Site, Zone

    try:
        spec = load_spec(scenario)
    except (ValueError, OSError) as e:
        fail(str(e))
    records = generate(spec, seed=seed)
    # The header lines come first; the rest of the stream stays lazy.
    header: list = []
    first_data = None
    for rec in records:
        if not isinstance(rec, (Site, Sensor, Zone)):
            first_data = rec
            break
        header.append(rec)
    site = next(r for r in header if isinstance(r, Site))
    store_path = db or Path(tempfile.mkdtemp(prefix="skywarden-demo-")) / "demo.db"
    cfg = SiteConfig(
        site=site,
        sensors=[r for r in header if isinstance(r, Sensor)],
        zones=[r for r in header if isinstance(r, Zone)],
        sources=SourcesConfig(jsonl_tcp_port=None, jsonl_udp_port=None),
        store=StoreConfig(path=str(store_path)),
        server=ServerConfig(host=host, port=port),
    )

    def feed():
        if first_data is not None:
            yield first_data
        yield from records

    service = Service(cfg, feed=feed(), feed_speed=speed, local_session=True)
    token = service.store.create_token("viewer", "demo")
    _run(service, host, port, json_out, token=token)


def _run(service, host: str, port: int, json_out: bool, token: str | None) -> None:
    url = f"http://{host}:{port}/"
    facts = {"url": url, "store": service.config.store.path, "viewer_token": token}
    if json_out:
        print_json(facts)
    else:
        console.print(f"[bold green]skywarden[/] live at [link={url}]{url}[/link]")
        if token:
            console.print(f"viewer token: [bold]{token}[/]  (the demo page is already signed in)")
        console.print(f"record: {facts['store']}   stop with Ctrl-C")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(service.serve(host, port))
