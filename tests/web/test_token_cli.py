"""``skywarden token``: a created token works once against the store, and can be revoked."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from skywarden.cli.token import app
from skywarden.store import Store


def test_token_create_list_revoke(tmp_path):
    db = tmp_path / "site.db"
    run = CliRunner()
    r = run.invoke(
        app, ["create", "--role", "operator", "--name", "otto", "--db", str(db), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    s = Store(db)
    info = s.verify_token(out["token"])
    assert info is not None and info.role == "operator" and info.name == "otto"
    s.close()
    assert out["token"] not in db.read_bytes().decode("latin-1")
    r = run.invoke(app, ["list", "--db", str(db), "--json"])
    assert [t["name"] for t in json.loads(r.stdout)] == ["otto"]
    r = run.invoke(app, ["revoke", out["hash_prefix"], "--db", str(db), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == {"revoked": 1}
    s = Store(db)
    assert s.verify_token(out["token"]) is None
    s.close()
    r = run.invoke(app, ["create", "--role", "admin", "--db", str(db)])
    assert r.exit_code != 0
