"""One site's record: the SQLite store (:mod:`.db`), its writer (:mod:`.writer`), API tokens (:mod:`.tokens`).

The web API's history, replay and export read it back through :class:`Store`.
"""

from .db import Ack, Escalation, History, NotAStoreError, Store, check_store_file, zone_to_feature
from .tokens import MIN_REVOKE_PREFIX, ROLES, TOKEN_PREFIX, Role, TokenInfo, hash_token
from .writer import StoreWriter

__all__ = [
    "MIN_REVOKE_PREFIX",
    "ROLES",
    "TOKEN_PREFIX",
    "Ack",
    "Escalation",
    "History",
    "NotAStoreError",
    "Role",
    "Store",
    "StoreWriter",
    "TokenInfo",
    "check_store_file",
    "hash_token",
    "zone_to_feature",
]
