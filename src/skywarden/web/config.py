"""Settings of the web service (the ``web:`` slice of a site's config)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .feed import FeedConfig


class WebConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the web map and API are served.

    ``tiles_url``: optional user basemap, an XYZ template (``.../{z}/{x}/{y}.png``)
    or a ``pmtiles://`` URL of a raster PMTiles archive (served by any static
    server, or put it under ``tiles_dir``); without it the map draws only the
    bundled Natural Earth outlines. ``tiles_dir``: a folder served at ``/tiles/``
    without a token, like the page's static files (a basemap, not site data). ``local_session``: demo only — loading the page
    signs it in as a viewer (session cookie) so a newcomer sees data at once. ``docs``: serve the
    OpenAPI docs at ``/docs`` (the schema, not data; open to all).
    """

    #: The map's language until an operator picks one (``en``, ``ko``); the browser's
    #: language when not given.
    language: str | None = None
    tiles_url: str | None = None
    tiles_attribution: str = ""
    tiles_max_zoom: Annotated[int, msgspec.Meta(ge=0, le=24)] = 19
    tiles_dir: str | None = None
    local_session: bool = False
    docs: bool = True
    #: Longest time range one replay or export request may ask for, seconds.
    max_range_s: Annotated[float, msgspec.Meta(gt=0)] = 24 * 3600.0
    #: Most track lines one replay or export response holds.
    max_rows: Annotated[int, msgspec.Meta(gt=0)] = 200_000
    #: A WebSocket client hears at least this often (an empty delta when nothing changed), s.
    push_interval_s: Annotated[float, msgspec.Meta(gt=0, le=1.0)] = 1.0
    #: A WebSocket client that takes longer than this to accept one message is cut off
    #: (it reconnects and gets a snapshot), seconds.
    send_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: Kernel send buffer of each connection, bytes (None: the system's, autotuned up to
    #: megabytes). Small, a slow WebSocket client's back-pressure shows soon and an alert
    #: waits behind less data on its way to it; 256 kB still fills a 100 Mbit/s, 20 ms link.
    send_buffer_bytes: Annotated[int, msgspec.Meta(ge=4096)] | None = 262_144
    #: How each WebSocket client's feed adapts to a slow client (see ``web/feed.py``).
    feed: FeedConfig = msgspec.field(default_factory=FeedConfig)
    #: An open WebSocket's token is checked again this often: a revoked token is cut off.
    token_recheck_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    #: Largest request body accepted, bytes (413 beyond; checked before the body is read).
    max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 1_048_576
