"""Settings of the web service (the ``web:`` slice of a site's config)."""

from __future__ import annotations

from typing import Annotated

import msgspec


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
    #: A WebSocket client gets the current tracks at least this often, seconds.
    push_interval_s: Annotated[float, msgspec.Meta(gt=0, le=1.0)] = 1.0
    #: An open WebSocket's token is checked again this often: a revoked token is cut off.
    token_recheck_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    #: Largest request body accepted, bytes (413 beyond; checked before the body is read).
    max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 1_048_576
