"""The HTTP API fuzzed from its own OpenAPI schema (schemathesis, in-process over ASGI):
no request, valid or not, gets a 5xx or crashes the app; every operation refuses a
caller without a token, and no write succeeds for a viewer."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.web.webhelpers import web_site

# The schema is read from the app when the module is collected, so the app (on a
# store in a temporary directory) exists from then on; the fixture below removes it.
_TMP = tempfile.TemporaryDirectory(prefix="skywarden-fuzz-")
SITE = web_site(Path(_TMP.name) / "site.db")
schema = schemathesis.openapi.from_asgi("/openapi.json", SITE.app)
# Requests that break the schema as well as ones that follow it.
schema.config.generation.update(modes=list(GenerationMode))
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    SITE.store.close()
    _TMP.cleanup()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_fuzz_no_server_error_and_auth_enforced(case):
    case.headers = {
        k: v
        for k, v in (case.headers or {}).items()
        if k.lower() not in ("authorization", "cookie")
    }
    anonymous = case.call()
    assert anonymous.status_code == 401, (case.method, case.formatted_path, anonymous.text)
    for role in ("viewer", "operator"):
        r = case.call(headers={"Authorization": f"Bearer {SITE.tokens[role]}"})
        case.validate_response(r, checks=[not_a_server_error])
        if role == "viewer" and case.method in _WRITES and case.path != "/api/session":
            assert not 200 <= r.status_code < 300, (case.method, case.formatted_path)
