"""``skywarden token``: create, list and revoke API tokens for the web service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..store import MIN_REVOKE_PREFIX, ROLES, NotAStoreError, Store
from ._common import console, fail, iso, print_json

app = typer.Typer(
    name="token",
    help="API tokens for the web service: viewers read, operators also acknowledge alerts "
    "and edit zones. Tokens are stored hashed; a new one is printed once.",
    no_args_is_help=True,
)

DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        help="The site's store (SQLite file). 'create' makes a new one (owner-only) if the "
        "path does not exist; a file that is not a skywarden store is refused, never changed.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON.")]


def _open(db: Path, *, create: bool = False) -> Store:
    """The store at ``db``; a missing file only when ``create``, never a file of something else."""
    if not create and not db.is_file():
        fail(f"no such store: {db}")
    if create and not db.parent.is_dir():
        fail(f"no such directory: {db.parent}")
    try:
        return Store(db)
    except NotAStoreError as e:
        fail(str(e))


@app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="viewer or operator.")] = "viewer",
    name: Annotated[
        str | None, typer.Option("--name", help="Who holds it (shown in acks; default: the role).")
    ] = None,
    db: DbOption = Path("skywarden.db"),
    json_out: JsonOption = False,
) -> None:
    """Create a token and print it once; only its SHA-256 digest is kept."""
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, not '{role}'")
    if name is not None and not name.strip():
        fail("--name must not be empty")
    store = _open(db, create=True)
    try:
        token = store.create_token(role, name or role)  # type: ignore[arg-type]
        info = store.verify_token(token)
    finally:
        store.close()
    assert info is not None
    if json_out:
        print_json(
            {"token": token, "role": role, "name": info.name, "hash_prefix": info.hash_prefix}
        )
    else:
        console.print(f"[bold]{token}[/]", soft_wrap=True, highlight=False)
        console.print(
            f"{role} token for '{info.name}' (id {info.hash_prefix}). It is shown only now: "
            "keep it safe. Send it as 'Authorization: Bearer <token>'.",
            highlight=False,
        )


@app.command("list")
def list_(db: DbOption = Path("skywarden.db"), json_out: JsonOption = False) -> None:
    """List tokens (holder, role, id, created, revoked); never the tokens themselves."""
    store = _open(db)
    try:
        rows = store.tokens()
    finally:
        store.close()
    if json_out:
        print_json(
            [
                {
                    "id": i.hash_prefix,
                    "name": i.name,
                    "role": i.role,
                    "created": iso(i.t_created),
                    "revoked": revoked,
                }
                for i, revoked in rows
            ]
        )
        return
    t = Table(title=f"tokens in {db}")
    for col in ("id", "name", "role", "created", "revoked"):
        t.add_column(col)
    for i, revoked in rows:
        t.add_row(i.hash_prefix, i.name, i.role, iso(i.t_created), "yes" if revoked else "")
    console.print(t)


@app.command("revoke")
def revoke(
    token_id: Annotated[
        str,
        typer.Argument(
            help=f"The id shown by 'token list' ({MIN_REVOKE_PREFIX}+ hex digits; "
            "matched as a prefix, exactly)."
        ),
    ],
    db: DbOption = Path("skywarden.db"),
    json_out: JsonOption = False,
) -> None:
    """Revoke a token at once (the web service checks the store on every request)."""
    store = _open(db)
    try:
        n = store.revoke_token(token_id)
    except ValueError as e:
        fail(str(e))
    finally:
        store.close()
    if json_out:
        print_json({"revoked": n})
    elif n:
        console.print(f"revoked {n} token(s)")
    if not n:
        fail(f"no active token with id {token_id}")
