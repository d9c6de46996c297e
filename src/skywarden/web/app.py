"""The web service: REST API, WebSocket, Prometheus metrics and the offline map page.

A thin view: it serialises what :class:`~skywarden.web.state.LiveState` and
:class:`~skywarden.store.Store` hold and keeps no tracking logic.
Everything under ``/api/``, ``/ws`` and ``/metrics`` needs a token (see
:mod:`.auth`); the page, its static files, user basemap tiles and the OpenAPI
docs (``/docs``, ``/openapi.json``) load without one. Every response carries a
strict Content-Security-Policy and anti-framing headers, and request bodies are
bounded (see :mod:`.middleware`). Store reads run in FastAPI's thread pool
(plain ``def`` routes), so the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import re
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import uvicorn
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..i18n import LANGUAGES, Messages, language_of
from ..store import Store, zone_to_feature
from ..threat.zones import feature_to_zone
from ..types import Rejected, Zone
from . import export
from .auth import (
    WS_SUBPROTOCOL,
    AuthGuard,
    Principal,
    TokenAuth,
    bearer_token,
    clear_session_cookie,
    cookie_token,
    require_operator,
    require_viewer,
    same_origin,
    set_session_cookie,
)
from .config import WebConfig
from .feed import ClientTooSlow
from .middleware import BodyLimit, SecurityHeaders, page_csp
from .state import LiveState

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
_UNPROCESSABLE = 422  # named HTTP_422_UNPROCESSABLE_CONTENT in newer Starlette only
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class _LiveCollector:
    """Prometheus collector reading the live state (and the pipeline's provider) at scrape time."""

    def __init__(self, live: LiveState) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        live = self.live
        yield GaugeMetricFamily("skywarden_tracks", "Tracks in the live picture.", len(live.tracks))
        yield GaugeMetricFamily("skywarden_alerts_open", "Open alerts.", len(live.alerts))
        yield GaugeMetricFamily(
            "skywarden_alerts_unacknowledged",
            "Open alerts not yet acknowledged.",
            sum(1 for a in live.alerts if a not in live.acks),
        )
        yield GaugeMetricFamily(
            "skywarden_ws_clients", "Connected WebSocket clients.", live.n_subscribers
        )
        yield GaugeMetricFamily(
            "skywarden_ws_clients_slow",
            "WebSocket clients sent the tracks at a coarser rate than every scan.",
            live.n_slow,
        )
        yield CounterMetricFamily(
            "skywarden_ws_downgrades",
            "Times a slow WebSocket client was moved to a coarser rate.",
            live.downgrades,
        )
        yield CounterMetricFamily(
            "skywarden_scans_applied", "Scans applied to the live picture.", live.scans_applied
        )
        up = GaugeMetricFamily(
            "skywarden_sensor_ok", "1 when the sensor reports ok, else 0.", labels=["sensor"]
        )
        for s in live.sensors_view():
            up.add_metric([s["id"]], 1.0 if s["status"] == "ok" else 0.0)
        yield up
        if live.metrics_provider is None:
            return
        try:
            extra = dict(live.metrics_provider())
        except (ValueError, RuntimeError, KeyError, TypeError) as e:
            log.warning("metrics provider failed: %s", e)
            return
        for name, value in sorted(extra.items()):
            if not _METRIC_NAME.match(name) or not isinstance(value, int | float):
                log.warning("metrics provider: skipping %r", name)
                continue
            if name.endswith("_total"):
                yield CounterMetricFamily(name[: -len("_total")], name, float(value))
            else:
                yield GaugeMetricFamily(name, name, float(value))


def _check_range(t0: float, t1: float, config: WebConfig) -> None:
    if not (math.isfinite(t0) and math.isfinite(t1)) or t1 < t0:
        raise HTTPException(_UNPROCESSABLE, "need finite t0 <= t1")
    if t1 - t0 > config.max_range_s:
        raise HTTPException(
            _UNPROCESSABLE,
            f"time range longer than {config.max_range_s:.0f} s",
        )


def _index_html(config: WebConfig, regional: bool) -> str:
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    meta = {
        "skywarden-regional": "1" if regional else "",
        "skywarden-language": language_of(config.language or "") or "",
        "skywarden-languages": msgspec.json.encode(dict(LANGUAGES)).decode(),
        "skywarden-tiles-url": config.tiles_url or "",
        "skywarden-tiles-attribution": config.tiles_attribution,
        "skywarden-tiles-max-zoom": str(config.tiles_max_zoom),
    }
    tags = "\n".join(
        f'    <meta name="{k}" content="{html.escape(v, quote=True)}">' for k, v in meta.items()
    )
    return page.replace("<!--SKYWARDEN-META-->", tags)


def create_app(
    live: LiveState,
    store: Store,
    config: WebConfig | None = None,
    *,
    messages: Messages | None = None,
    regional: bool = False,
) -> FastAPI:
    """The ASGI app serving ``live`` (current picture) and ``store`` (history, acks, zones,
    tokens); the page is worded by ``messages`` (the built-in catalogue when not given).

    ``regional``: served by ``skywarden region``: the page colours tracks by site and
    shows a site filter and health panel from ``/api/sites``, a route the caller adds
    to the returned app with ``dependencies=[Depends(require_viewer)]``, like every
    read route here (tests/web enumerate ``app.routes`` for that check)."""
    config = config or WebConfig()
    messages = messages or Messages()
    # Encoded once: the catalogues change only with the site config (a restart).
    catalogues = {lang: msgspec.json.encode(messages.catalogue(lang)) for lang in LANGUAGES}
    app = FastAPI(
        title="skywarden",
        summary="Counter-drone early warning: live air picture, alerts and history. "
        "Defensive only: skywarden never aims, cues or commands any effector.",
        docs_url="/docs" if config.docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if config.docs else None,
    )
    app.state.auth = TokenAuth(store, local_session=config.local_session)
    app.state.live = live
    app.state.store = store
    # Outermost last: headers on every response, then the token check, then the
    # body limit, so that an anonymous request is refused before any body is read.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(AuthGuard, auth=app.state.auth)
    app.add_middleware(SecurityHeaders, csp=page_csp(config.tiles_url), docs_path=app.docs_url)

    @app.exception_handler(sqlite3.OperationalError)
    def store_busy(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
        log.warning("store busy on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"the store cannot be written now ({exc}); try again"},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_LiveCollector(live))
    app.state.metrics = registry  # the pipeline registers its own collectors here

    # Every data route names its check; tests/web enumerate app.routes so that a
    # route without one fails the suite. (An APIRouter-level dependency would
    # hide routes from that enumeration in this FastAPI version.)
    viewer = [Depends(require_viewer)]
    operator = [Depends(require_operator)]

    @app.get("/api/me", summary="Who the token belongs to", dependencies=viewer)
    def me(who: Principal = Depends(require_viewer)) -> dict[str, str]:
        return {"name": who.name, "role": who.role}

    @app.post(
        "/api/session",
        summary="Sign the page in: the bearer token moves into an HttpOnly session cookie",
        dependencies=viewer,
    )
    def sign_in(
        request: Request, response: Response, who: Principal = Depends(require_viewer)
    ) -> dict[str, str]:
        token = bearer_token(request.headers)
        if token is not None:
            set_session_cookie(response, token, secure=request.url.scheme == "https")
        return {"name": who.name, "role": who.role}

    @app.delete(
        "/api/session",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Sign the page out (drops the session cookie)",
        dependencies=viewer,
    )
    def sign_out(request: Request) -> Response:
        r = Response(status_code=status.HTTP_204_NO_CONTENT)
        clear_session_cookie(r, secure=request.url.scheme == "https")
        return r

    @app.get("/api/tracks", summary="Current tracks with short trails", dependencies=viewer)
    def tracks(
        site: Annotated[
            str | None, Query(max_length=64, description="Regional tracks seen by this site only")
        ] = None,
    ) -> dict[str, Any]:
        view = live.tracks_view()
        if site is not None:
            view = [d for d in view if site in (d.get("sites") or ())]
        return {"t": live.t_s, "tracks": view}

    @app.get(
        "/api/tracks/{track_id}",
        summary="One track's stored lines over a time range",
        dependencies=viewer,
    )
    def track(
        track_id: str,
        t0: Annotated[float | None, Query(description="UTC seconds")] = None,
        t1: Annotated[float | None, Query(description="UTC seconds")] = None,
    ) -> dict[str, Any]:
        lines = store.track_history(track_id, t0, t1)
        if not lines and track_id not in live.tracks:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no track {track_id}")
        out = [msgspec.to_builtins(tl) for tl in lines]
        for d in out:
            d.pop("type", None)
        return {"id": track_id, "lines": out}

    @app.get(
        "/api/alerts",
        summary="Alerts: open ones from the live picture, or all from the store",
        dependencies=viewer,
    )
    def alerts(open: bool = False) -> dict[str, Any]:
        if open:
            return {"alerts": live.alerts_view()}
        acks = {k.alert_id: k for k in store.acks()}
        escs = {e.alert_id: e for e in store.escalations()}
        out = []
        for a in store.alerts():
            d = msgspec.to_builtins(a)
            d.pop("type", None)
            k = acks.get(a.id)
            d["ack"] = None if k is None else {"by": k.by, "t": k.t}
            if (e := escs.get(a.id)) is not None:
                d["escalated"] = {"t": e.t, "after_s": e.after_s, "to": e.channels}
            out.append(d)
        return {"alerts": out}

    @app.post(
        "/api/alerts/{alert_id}/ack",
        summary="Acknowledge an alert (operator)",
        dependencies=operator,
    )
    def ack(alert_id: str, who: Principal = Depends(require_operator)) -> dict[str, Any]:
        if alert_id not in live.alerts and not store.alert_events(alert_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
        k = store.acknowledge(alert_id, who.name, live.alerts.get(alert_id))
        live.acknowledge(k)
        log.info("alert %s acknowledged by %s", alert_id, who.name)
        return {"alert_id": k.alert_id, "by": k.by, "t": k.t}

    @app.get(
        "/api/zones", summary="Protected zones (GeoJSON FeatureCollection)", dependencies=viewer
    )
    def zones() -> dict[str, Any]:
        return live.zones_geojson()

    def _apply_zone_edit(new: dict[str, Zone]) -> None:
        try:
            live.set_zones(list(new.values()))
        except ValueError as e:
            raise HTTPException(_UNPROCESSABLE, str(e)) from e

    def _zone_from(feature: dict[str, Any], zone_id: str | None) -> Zone:
        z = feature_to_zone(feature, zone_id)
        if isinstance(z, Rejected):
            raise HTTPException(_UNPROCESSABLE, z.reason)
        return z

    @app.post(
        "/api/zones",
        status_code=status.HTTP_201_CREATED,
        summary="Create a zone from a GeoJSON Feature (operator)",
        dependencies=operator,
    )
    def create_zone(feature: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        z = _zone_from(feature, None)
        if z.id in live.zones:
            raise HTTPException(status.HTTP_409_CONFLICT, f"zone {z.id} exists; use PUT")
        _apply_zone_edit({**live.zones, z.id: z})
        store.save_zone(z)
        return zone_to_feature(z)

    @app.put(
        "/api/zones/{zone_id}",
        summary="Create or replace a zone (operator)",
        dependencies=operator,
    )
    def put_zone(zone_id: str, feature: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        z = _zone_from(feature, zone_id)
        _apply_zone_edit({**live.zones, z.id: z})
        store.save_zone(z)
        return zone_to_feature(z)

    @app.delete(
        "/api/zones/{zone_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a zone (operator)",
        dependencies=operator,
    )
    def delete_zone(zone_id: str) -> Response:
        if zone_id not in live.zones:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no zone {zone_id}")
        _apply_zone_edit({k: v for k, v in live.zones.items() if k != zone_id})
        store.delete_zone(zone_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/api/sensors", summary="Sensors with coverage and status", dependencies=viewer)
    def sensors() -> dict[str, Any]:
        return {"sensors": live.sensors_view()}

    @app.get("/api/span", summary="First and last stored scan time", dependencies=viewer)
    def span() -> dict[str, Any]:
        s = store.time_span()
        return {"t0": s[0] if s else None, "t1": s[1] if s else None}

    @app.get(
        "/api/replay",
        summary="Stored track lines and alert events over [t0, t1]",
        dependencies=viewer,
    )
    def replay(
        t0: Annotated[float, Query(description="UTC seconds")],
        t1: Annotated[float, Query(description="UTC seconds")],
    ) -> dict[str, Any]:
        _check_range(t0, t1, config)
        h = store.range(t0, t1, limit=config.max_rows)
        tracks = [msgspec.to_builtins(tl) for tl in h.tracks]
        alerts_ = [msgspec.to_builtins(a) for a in h.alerts]
        for d in (*tracks, *alerts_):
            d.pop("type", None)
        return {"t0": t0, "t1": t1, "tracks": tracks, "alerts": alerts_, "truncated": h.truncated}

    @app.get("/api/export", summary="Export [t0, t1] as CSV, GeoJSON or KML", dependencies=viewer)
    def export_(
        t0: Annotated[float, Query(description="UTC seconds")],
        t1: Annotated[float, Query(description="UTC seconds")],
        format: Literal["csv", "geojson", "kml"] = "csv",
    ) -> Response:
        _check_range(t0, t1, config)
        h = store.range(t0, t1, limit=config.max_rows)
        stem = f"skywarden_{int(t0)}_{int(t1)}"
        if format == "csv":
            body: str | bytes = export.to_csv(h)
            media = "text/csv; charset=utf-8"
        elif format == "geojson":
            body = msgspec.json.encode(export.to_geojson(h))
            media = "application/geo+json"
        else:
            body = export.to_kml(h)
            media = "application/vnd.google-earth.kml+xml"
        headers = {"Content-Disposition": f'attachment; filename="{stem}.{format}"'}
        if h.truncated:
            headers["X-Skywarden-Truncated"] = "1"
        return Response(content=body, media_type=media, headers=headers)

    @app.get("/metrics", summary="Prometheus metrics", dependencies=viewer)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        """Live updates. Token: subprotocols ``["bearer", token]``, ``?token=`` or the
        page's session cookie (from this host's origin only); 1008 if invalid."""
        offered = websocket.scope.get("subprotocols") or []
        token = websocket.query_params.get("token")
        if len(offered) >= 2 and offered[0] == WS_SUBPROTOCOL:
            token = offered[1]
        via_cookie = not token
        if via_cookie:
            token = cookie_token(websocket.headers)
        sub = WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None
        # Accept first so that the client sees the close code (a refused
        # handshake only shows 1006 to a browser); nothing is sent before it.
        await websocket.accept(subprotocol=sub)
        if via_cookie and token and not same_origin(websocket.headers, required=True):
            # Another site's page would send the cookie along (cross-site WebSocket hijacking).
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="foreign origin")
            return
        who = await asyncio.to_thread(app.state.auth.verify, token)
        if who is None:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid token")
            return

        def still_valid() -> bool:
            return app.state.auth.verify(token) is not None

        await _stream(websocket, live, config, still_valid)

    @app.get("/i18n/{lang}.json", include_in_schema=False)
    def catalogue(lang: str) -> Response:
        """The page's message catalogue in one language, with the site's own wording.

        Public, like the page (the sign-in form is worded from it), and so, like the
        page, not part of the API's schema. Only the known languages are served; the
        path is never used to reach a file."""
        body = catalogues.get(lang)
        if body is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no catalogue; known: {', '.join(LANGUAGES)}"
            )
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        r = HTMLResponse(_index_html(config, regional), headers={"Cache-Control": "no-store"})
        auth: TokenAuth = app.state.auth
        # A demo's local session signs the page in through the cookie, never in the page.
        if auth.local_token and auth.verify(cookie_token(request.headers)) is None:
            set_session_cookie(r, auth.local_token, secure=request.url.scheme == "https")
        return r

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if config.tiles_dir:
        app.mount("/tiles", StaticFiles(directory=config.tiles_dir), name="tiles")

    return app


async def _stream(
    websocket: WebSocket,
    live: LiveState,
    config: WebConfig,
    still_valid: Callable[[], bool],
) -> None:
    """Send the client's feed (a snapshot, then events and track deltas: see
    :mod:`.feed`); when nothing came for ``push_interval_s``, the tracks the client
    is behind on whatever its rate, else an empty delta; close
    with 1008 once ``still_valid`` says the token was revoked, and cut off a client
    that takes longer than ``send_timeout_s`` to accept a message."""
    sub = live.subscribe(config.feed)
    loop = asyncio.get_running_loop()
    recheck_s = config.token_recheck_s
    next_check = loop.time() + recheck_s
    try:
        while True:
            if loop.time() >= next_check:
                next_check = loop.time() + recheck_s
                if not await asyncio.to_thread(still_valid):
                    await websocket.close(
                        code=status.WS_1008_POLICY_VIOLATION, reason="token revoked"
                    )
                    return
            try:
                text = await asyncio.wait_for(
                    sub.get(), timeout=min(config.push_interval_s, recheck_s)
                )
            except TimeoutError:
                # Idle for a whole interval: the tracks it is behind on (a slowed
                # client's rate must not leave it stale when scans stop), else a keepalive.
                text = sub.get_nowait(any_rate=True) or sub.keepalive()
            try:
                await asyncio.wait_for(websocket.send_text(text), config.send_timeout_s)
            except TimeoutError:
                log.warning(
                    "websocket client took over %.0f s to take a message: cut off",
                    config.send_timeout_s,
                )
                return
    except ClientTooSlow as e:
        log.warning("websocket client cut off: %s", e)
    except (WebSocketDisconnect, RuntimeError, OSError):
        log.debug("websocket client gone")
    finally:
        live.unsubscribe(sub)


async def serve_app(
    app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *, sock: socket.socket | None = None
) -> None:
    """Run ``app`` with uvicorn inside the caller's event loop until cancelled.

    ``sock``: an already bound listening socket to serve on (``host`` and ``port`` unused).

    Cancelling shuts the server down gracefully (open connections are closed)
    before the cancellation propagates. In the main thread uvicorn catches
    SIGINT/SIGTERM while it serves, stops, and raises the signal again
    afterwards, so the caller's own handling still runs.
    """
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.ensure_future(server.serve(sockets=None if sock is None else [sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
