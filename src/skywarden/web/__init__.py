"""The live web service: REST API with token auth, WebSocket, metrics and the offline map."""

from .app import create_app, serve_app
from .auth import Principal, TokenAuth
from .config import WebConfig

__all__ = ["Principal", "TokenAuth", "WebConfig", "create_app", "serve_app"]
