"""Token revocation, store files and their permissions: the attacks that worked on 06ae315."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest
from typer.testing import CliRunner

from skywarden.cli.token import app
from skywarden.store import MIN_REVOKE_PREFIX, NotAStoreError, Store


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_revoke_with_like_wildcards_revokes_nothing(tmp_path):
    db = tmp_path / "site.db"
    s = Store(db)
    toks = [s.create_token("viewer", f"v{k}") for k in range(5)]
    try:
        for payload in ("%%%%%%%%", "________", "%_%_%_%_", "0000000%", "........"):
            with pytest.raises(ValueError, match="hex digits"):
                s.revoke_token(payload)
        assert all(s.verify_token(t) is not None for t in toks)
    finally:
        s.close()
    r = CliRunner().invoke(app, ["revoke", "%%%%%%%%", "--db", str(db)])
    assert r.exit_code != 0 and "hex digits" in r.output
    s = Store(db)
    assert all(s.verify_token(t) is not None for t in toks)
    s.close()


def test_revoke_matches_one_prefix_exactly_and_refuses_short_ones(tmp_path):
    s = Store(tmp_path / "site.db")
    try:
        a, b = s.create_token("viewer", "a"), s.create_token("operator", "b")
        ids = {i.name: i.hash_prefix for i, _ in s.tokens()}
        with pytest.raises(ValueError):
            s.revoke_token(ids["a"][: MIN_REVOKE_PREFIX - 1])
        assert s.revoke_token(ids["a"][:MIN_REVOKE_PREFIX].upper()) == 1
        assert s.verify_token(a) is None and s.verify_token(b) is not None
    finally:
        s.close()


def _not_a_store(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (name TEXT)")
    con.commit()
    con.close()
    empty = tmp_path / "empty.db"
    empty.touch()
    return [text, other, empty]


@pytest.mark.parametrize("command", ["list", "revoke", "create"])
def test_token_commands_refuse_a_file_that_is_not_a_store(tmp_path, command):
    for f in _not_a_store(tmp_path):
        before = f.read_bytes()
        args = {"list": ["list"], "revoke": ["revoke", "0123456789ab"], "create": ["create"]}
        r = CliRunner().invoke(app, [*args[command], "--db", str(f)])
        assert r.exit_code != 0, (f, r.output)
        assert "not a skywarden store" in r.output
        assert f.read_bytes() == before  # left exactly as it was
        assert not (tmp_path / (f.name + "-wal")).exists()


def test_store_refuses_a_foreign_database(tmp_path):
    for f in _not_a_store(tmp_path):
        with pytest.raises(NotAStoreError):
            Store(f)


def test_create_makes_a_new_owner_only_store_and_reopens_it(tmp_path):
    db = tmp_path / "new.db"
    r = CliRunner().invoke(app, ["create", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    token = json.loads(r.stdout)["token"]
    assert _mode(db) == 0o600
    s = Store(db)
    try:
        s.write_alerts([])  # opened again as a store
        assert s.verify_token(token) is not None
        wal, shm = tmp_path / "new.db-wal", tmp_path / "new.db-shm"
        assert wal.exists() and shm.exists()
        assert _mode(wal) == 0o600 and _mode(shm) == 0o600
    finally:
        s.close()
    r = CliRunner().invoke(app, ["list", "--db", str(db), "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 1


def test_a_store_made_before_the_marker_still_opens(tmp_path):
    # A store written by an older version: every table, no marker row.
    db = tmp_path / "old.db"
    s = Store(db)
    s.create_token("viewer", "v")
    s.close()
    con = sqlite3.connect(db)
    con.execute("DELETE FROM meta WHERE key = 'skywarden_store'")
    con.commit()
    con.close()
    r = CliRunner().invoke(app, ["list", "--db", str(db), "--json"])
    assert r.exit_code == 0 and [t["name"] for t in json.loads(r.stdout)] == ["v"]
