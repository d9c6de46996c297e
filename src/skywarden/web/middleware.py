"""ASGI middleware of the web service: security headers on every response and a
bounded request body."""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where FastAPI's Swagger UI page loads its script and style from.
_SWAGGER_CDN = "https://cdn.jsdelivr.net"


def tiles_origin(tiles_url: str | None) -> str | None:
    """The origin a user basemap is fetched from, as a CSP source (``None``: same origin)."""
    if not tiles_url:
        return None
    url = tiles_url.removeprefix("pmtiles://")
    parts = urlsplit(url.replace("{s}", "subdomain-placeholder"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # An XYZ template's {s} subdomain becomes a host wildcard.
    return f"{parts.scheme}://{parts.netloc.replace('subdomain-placeholder', '*')}"


def page_csp(tiles_url: str | None) -> str:
    """The map page's Content-Security-Policy: its own scripts and styles only, no framing."""
    extra = tiles_origin(tiles_url)
    more = f" {extra}" if extra else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{more}; connect-src 'self'{more}; "
        "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def docs_csp(html: bytes) -> str:
    """CSP of the Swagger UI page: its CDN, and its own inline scripts by hash only."""
    hashes = " ".join(
        "'sha256-" + b64encode(hashlib.sha256(m).digest()).decode() + "'"
        for m in re.findall(rb"<script>(.*?)</script>", html, re.S)
    )
    return (
        f"default-src 'self'; script-src {_SWAGGER_CDN} {hashes}; style-src {_SWAGGER_CDN}; "
        "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


_COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds CSP, anti-framing, nosniff and no-referrer headers to every HTTP response.

    The API docs page (``docs_path``) is FastAPI's Swagger UI, which has inline
    scripts: its response is held whole so that its CSP can allow exactly those
    scripts by hash.
    """

    def __init__(self, app: ASGIApp, csp: str, docs_path: str | None) -> None:
        self.app = app
        self.headers = {**_COMMON, "Content-Security-Policy": csp}
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.docs_path:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in self.headers.items():
                    headers[k] = v
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            headers = MutableHeaders(scope=start)
            for k, v in {**_COMMON, "Content-Security-Policy": docs_csp(page)}.items():
                headers[k] = v
            headers["Content-Length"] = str(len(page))
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, hold)


class BodyLimit:
    """Refuses a request body over ``max_bytes`` with 413, by ``Content-Length`` before
    reading and by counting while reading (chunked uploads); the app gets the body whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refuse(self, status_code: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code, headers={"Connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(400, "invalid Content-Length")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                too_big = f"request body over {self.max_bytes} bytes"
                await self._refuse(413, too_big)(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                too_big = f"request body over {self.max_bytes} bytes"
                await self._refuse(413, too_big)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
