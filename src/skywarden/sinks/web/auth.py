"""Bearer-token authentication: viewers read, operators also acknowledge and edit zones.

Tokens are made by ``skywarden token create`` and kept in the store as
SHA-256 digests. REST calls send ``Authorization: Bearer <token>``. The
WebSocket takes the token as the second of the subprotocols ``["bearer",
<token>]`` (what a browser can send) or, for tools, as ``?token=<token>``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..store import TOKEN_PREFIX, Role, Store, hash_token

log = logging.getLogger(__name__)

#: The WebSocket subprotocol that carries a token (the server answers with it).
WS_SUBPROTOCOL = "bearer"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request."""

    name: str
    role: Role


class TokenAuth:
    """Checks tokens against the store, plus an optional in-memory local-session token."""

    def __init__(self, store: Store, local_session: bool = False) -> None:
        self.store = store
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


_bearer = HTTPBearer(auto_error=False, description="A token from `skywarden token create`.")


def require_viewer(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    """FastAPI dependency: any valid token (401 otherwise)."""
    auth: TokenAuth = request.app.state.auth
    who = auth.verify(creds.credentials if creds else None)
    if who is None:
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
