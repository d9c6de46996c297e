"""``skywarden serve`` (a site, live) and ``skywarden demo`` (a built-in scenario, live)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ._common import check_listen, console, fail, finite_positive, print_json

#: Fastest ``demo --speed``: the bound of a site's ``sources.replay_speed``.
MAX_SPEED = 1_000.0


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
    from ..config import ConfigError, load_config
    from ..service import Service

    if not config.is_file():
        fail(f"no such file: {config}", 2)
    try:
        cfg = load_config(config)
    except ConfigError as e:
        fail(str(e))
    host = cfg.server.host if host is None else host
    port = cfg.server.port if port is None else port
    check_listen(host, port)
    store = Path(cfg.store.path)
    fresh = not store.exists()
    ok = False
    try:
        try:
            service = Service(cfg, config_dir=config.parent)
        except (OSError, ValueError) as e:
            fail(f"cannot start the site: {e}")
        _run(service, host, port, json_out, token=None)
        ok = True
    finally:
        if fresh and not ok:
            # A site that never started leaves no new, empty store behind.
            for p in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
                p.unlink(missing_ok=True)


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
    sites: Annotated[
        int,
        typer.Option(
            help="Run N neighbouring sites, an embedded NATS server and the region "
            "(the region's API on --port) instead of one site."
        ),
    ] = 0,
) -> None:
    """Start the live service fed by the simulator in real time, and print the map's URL and a token."""
    if sites:
        _demo_sites(sites, host, port, seed, speed, json_out)
        return
    from ..config import ServerConfig, SiteConfig, SourcesConfig, StoreConfig
    from ..service import Service
    from ..sim import generate, load_spec
    from ..types import Sensor, Site, Zone

    finite_positive(speed, "--speed")
    if speed > MAX_SPEED:
        fail(f"--speed must be at most {MAX_SPEED:g} (the replay_speed range), not {speed:g}", 2)
    check_listen(host, port)
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
    tmp_dir = None if db is not None else Path(tempfile.mkdtemp(prefix="skywarden-demo-"))
    store_path = db or tmp_dir / "demo.db"  # type: ignore[operator]
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

    ok = False
    try:
        service = Service(cfg, feed=feed(), feed_speed=speed, local_session=True)
        token = service.store.create_token("viewer", "demo")
        _run(service, host, port, json_out, token=token)
        ok = True
    finally:
        if not ok and tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _run(service, host: str, port: int, json_out: bool, token: str | None) -> None:
    """Serve until stopped; the URL is printed only once every port is bound."""
    from ..service import ListenError

    def ready(ports: dict[str, int]) -> None:
        url = f"http://{host}:{ports['web']}/"
        facts = {
            "url": url, "store": service.config.store.path, "viewer_token": token, "ports": ports,
        }  # fmt: skip
        if json_out:
            print_json(facts)
            return
        console.print(f"[bold green]skywarden[/] live at [link={url}]{url}[/link]")
        if token:
            console.print(f"viewer token: [bold]{token}[/]  (the demo page is already signed in)")
        console.print(f"record: {facts['store']}   stop with Ctrl-C")

    async def main() -> None:
        # SIGTERM stops the site cleanly: sinks closed (the CAT062 encoder process
        # joined), the store committed; its default action would end the process at
        # once. While uvicorn serves it takes the signal first, shuts the web server
        # down and raises it again, which lands here.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await service.serve(host, port, on_ready=ready)

    # Everything built so far (the imported libraries, the configuration, the store)
    # lives as long as the process: kept out of the cyclic collector's full passes,
    # which otherwise walk it all every few seconds in a busy sky and stop every
    # thread for tens of milliseconds, the engine's alert path included (measured:
    # bench/live_scale.py, 2,000 tracks).
    gc.collect()
    gc.freeze()
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(main())
        except ListenError as e:
            fail(str(e), 2)
        except OSError as e:
            fail(f"cannot start the site: {e.strerror or e}")


def _demo_sites(n: int, host: str, port: int, seed: int, speed: float, json_out: bool) -> None:
    """``demo --sites N``: see :mod:`skywarden.region.demo`."""
    from ..region.demo import MAX_SITES, run_demo
    from ..region.server import NatsServerError

    if not 1 <= n <= MAX_SITES:
        fail(f"--sites must be between 1 and {MAX_SITES}, not {n}", 2)
    finite_positive(speed, "--speed")
    if speed > MAX_SPEED:
        fail(f"--speed must be at most {MAX_SPEED:g} (the replay_speed range), not {speed:g}", 2)
    check_listen(host, port)

    def ready(facts: dict) -> None:
        if json_out:
            print_json(facts)
            return
        console.print(f"[bold green]skywarden region[/] of {n} sites: map at {facts['map']}")
        console.print(
            f"viewer token: [bold]{facts['viewer_token']}[/]  (the map is already signed in)"
        )
        console.print(f"sites: {facts['url']}   regional tracks: {facts['tracks']}")
        for sid, url in facts["sites"].items():
            console.print(f"site {sid} map: {url}")
        console.print("stop with Ctrl-C")

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await run_demo(n, host=host, port=port, seed=seed, speed=speed, on_ready=ready)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(main())
        except (NatsServerError, OSError) as e:
            fail(f"cannot start the regional demo: {e}")
