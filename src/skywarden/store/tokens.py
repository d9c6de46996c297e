"""API tokens as the store keeps them: a prefix, roles, and a SHA-256 digest, never the token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "operator"]
ROLES: tuple[str, ...] = ("viewer", "operator")
#: Prefix of every API token, so a leaked one is recognisable in logs and scanners.
TOKEN_PREFIX = "swk_"
#: Fewest hex digits of a token's hash that ``revoke_token`` accepts (32 bits).
MIN_REVOKE_PREFIX = 8
HEX_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who a valid token belongs to (never the token itself)."""

    name: str
    role: Role
    t_created: float
    hash_prefix: str


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
