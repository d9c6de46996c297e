"""Authentication: viewers read, operators also acknowledge and edit zones.

Tokens are made by ``skywarden token create`` and kept in the store as
SHA-256 digests. API clients send ``Authorization: Bearer <token>``. The map
page signs in once (``POST /api/session`` with the bearer header) and from
then on holds the token only in an ``HttpOnly``, ``SameSite=Strict`` cookie that
no script on the page can read. A state-changing request authenticated by the
cookie must also carry the ``X-Skywarden-Request`` header and, when the browser
sends an ``Origin``, come from this host (no cross-site request forgery).

The WebSocket takes the token as the second of the subprotocols ``["bearer",
<token>]``, as ``?token=<token>`` (tools), or from the session cookie (the page;
only from this host's origin).

:class:`AuthGuard` checks every request that is not public before any of its
body is read, so an anonymous client cannot make the server buffer anything.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..store import TOKEN_PREFIX, Role, Store, hash_token

log = logging.getLogger(__name__)

#: The WebSocket subprotocol that carries a token (the server answers with it).
WS_SUBPROTOCOL = "bearer"
#: The page's session cookie: the token itself, HttpOnly, SameSite=Strict.
SESSION_COOKIE = "skywarden_session"
#: Header a cookie-authenticated write must carry (a cross-site form cannot set it).
CSRF_HEADER = "X-Skywarden-Request"
#: What loads without a token: the page, its static files, its message catalogues (the
#: sign-in form is worded from them), user tiles and the API docs.
PUBLIC_PATHS = frozenset({"/", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/", "/i18n/", "/tiles/")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request."""

    name: str
    role: Role


class TokenAuth:
    """Checks tokens against the store, plus an optional in-memory local-session token."""

    def __init__(self, store: Store, local_session: bool = False) -> None:
        self.store = store
        #: Paths opened by configuration (a public CAP feed); empty by default.
        self.public_prefixes: tuple[str, ...] = ()
        self._local_hash: str | None = None
        self.local_token: str | None = None
        if local_session:
            # Lives only in this process: nothing is written, a restart revokes it.
            self.local_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            self._local_hash = hash_token(self.local_token)

    def verify(self, token: str | None) -> Principal | None:
        """The holder of ``token``, or ``None`` when it is missing, unknown or revoked."""
        if not token:
            return None
        if self._local_hash is not None and hmac.compare_digest(
            hash_token(token), self._local_hash
        ):
            return Principal(name="local-session", role="viewer")
        info = self.store.verify_token(token)
        return None if info is None else Principal(name=info.name, role=info.role)


def is_public(path: str) -> bool:
    """Whether ``path`` loads without a token."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def cookie_token(headers: Headers) -> str | None:
    """The token held in the session cookie, if any."""
    return cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE) or None


def same_origin(headers: Headers, *, required: bool) -> bool:
    """Whether the browser's ``Origin`` names this host (``required``: it must be sent)."""
    origin = headers.get("origin")
    if origin is None:
        return not required
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    """Hold ``token`` in the page's HttpOnly, SameSite=Strict session cookie."""
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/"
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=secure, path="/"
    )


class AuthGuard:
    """ASGI middleware: authenticate every non-public HTTP request before its body is read.

    The caller is put in ``scope["state"]["principal"]`` for :func:`require_viewer`.
    A missing or invalid token gets 401 (and a stale session cookie is cleared);
    a cookie-authenticated write without :data:`CSRF_HEADER`, or from another
    origin, gets 403.
    """

    def __init__(self, app: ASGIApp, auth: TokenAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or is_public(scope["path"])
            or scope["path"].startswith(self.auth.public_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = bearer_token(headers)
        via_cookie = token is None
        if via_cookie:
            token = cookie_token(headers)
        who = await asyncio.to_thread(self.auth.verify, token) if token else None
        secure = scope.get("scheme") == "https"
        if who is None:
            r = JSONResponse(
                {"detail": "a valid bearer token is required"},
                status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
            if via_cookie and token:
                clear_session_cookie(r, secure=secure)
            await r(scope, receive, send)
            return
        if (
            via_cookie
            and scope["method"] not in _SAFE_METHODS
            and (headers.get(CSRF_HEADER) != "1" or not same_origin(headers, required=False))
        ):
            log.warning("refused a cookie-authenticated %s %s", scope["method"], scope["path"])
            r = JSONResponse(
                {"detail": f"a signed-in page's write needs the {CSRF_HEADER}: 1 header "
                 "and this site's origin"},
                status.HTTP_403_FORBIDDEN,
            )  # fmt: skip
            await r(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = who
        await self.app(scope, receive, send)


_bearer = HTTPBearer(auto_error=False, description="A token from `skywarden token create`.")


def require_viewer(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    """FastAPI dependency: any valid token (401 otherwise), as checked by :class:`AuthGuard`.

    ``creds`` is declared so that the OpenAPI schema shows the bearer scheme.
    """
    who = getattr(request.state, "principal", None)
    if not isinstance(who, Principal):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return who


def require_operator(who: Principal = Depends(require_viewer)) -> Principal:
    """FastAPI dependency: an operator token (403 for a viewer)."""
    if who.role != "operator":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs an operator token")
    return who
